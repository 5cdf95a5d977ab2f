//! One sync at a time per state directory: an exclusive advisory lock on `{home}/sync.lock`,
//! released when the guard drops or the process dies (a SIGKILL never leaves a stale lock).

use std::fs::File;
use std::path::Path;

use fs4::fs_std::FileExt;

use super::error::{AppError, Result};

/// Holds the state directory's lock while alive.
#[derive(Debug)]
pub struct StateLock {
    file: File,
}

impl StateLock {
    /// Takes the lock, or fails at once with [`AppError::Busy`].
    pub fn acquire(home: &Path) -> Result<StateLock> {
        let path = home.join("sync.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| AppError::Io(format!("cannot open {}: {e}", path.display())))?;
        match FileExt::try_lock_exclusive(&file) {
            Ok(true) => Ok(StateLock { file }),
            Ok(false) => Err(AppError::Busy(home.display().to_string())),
            Err(e) => Err(AppError::Io(format!("cannot lock {}: {e}", path.display()))),
        }
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let a = StateLock::acquire(dir.path()).unwrap();
        let e = StateLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(e, AppError::Busy(_)), "{e}");
        drop(a);
        StateLock::acquire(dir.path()).unwrap();
    }
}
