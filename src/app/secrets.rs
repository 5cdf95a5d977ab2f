//! Where a host keeps tokens: the OS keychain through `keyring`, or, where none is usable (CI,
//! headless Linux), a file in the home directory readable by its owner only (0600).
//!
//! The keychain entries are named after the home directory, so two homes (a test's and the
//! user's) never share tokens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crmsync_core::secret::SecretStoreError;
use crmsync_core::{Secret, SecretStore};
use serde::{Deserialize, Serialize};

/// Which secret store to use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretBackend {
    /// The OS keychain when it works, else the 0600 file (with a warning).
    #[default]
    Auto,
    /// The OS keychain only.
    Keyring,
    /// The 0600 file only.
    File,
}

impl SecretBackend {
    /// Parses `auto`, `keyring` or `file`.
    pub fn parse(s: &str) -> Option<SecretBackend> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Some(SecretBackend::Auto),
            "keyring" | "keychain" => Some(SecretBackend::Keyring),
            "file" => Some(SecretBackend::File),
            _ => None,
        }
    }
}

/// The store that was chosen, and why.
pub struct OpenedSecrets {
    /// The store.
    pub store: Arc<dyn SecretStore>,
    /// `"keyring"` or `"file"`.
    pub backend: &'static str,
    /// Set when the file store was chosen because no keychain works (the host shows it).
    pub warning: Option<String>,
}

/// Opens the secret store of a home directory.
pub fn open(home: &Path, backend: SecretBackend) -> Result<OpenedSecrets, SecretStoreError> {
    let file = || FileSecretStore::open(home.join("secrets.json"));
    match backend {
        SecretBackend::File => Ok(OpenedSecrets {
            store: Arc::new(file()?),
            backend: "file",
            warning: None,
        }),
        SecretBackend::Keyring => {
            let k = KeyringSecretStore::new(home);
            k.probe()?;
            Ok(OpenedSecrets {
                store: Arc::new(k),
                backend: "keyring",
                warning: None,
            })
        }
        SecretBackend::Auto => {
            let k = KeyringSecretStore::new(home);
            match k.probe() {
                Ok(()) => Ok(OpenedSecrets {
                    store: Arc::new(k),
                    backend: "keyring",
                    warning: None,
                }),
                Err(e) => {
                    let path = home.join("secrets.json");
                    Ok(OpenedSecrets {
                        store: Arc::new(FileSecretStore::open(path.clone())?),
                        backend: "file",
                        warning: Some(format!(
                            "no usable OS keychain ({}); tokens are kept in {} (readable by you only)",
                            e.0,
                            path.display()
                        )),
                    })
                }
            }
        }
    }
}

/// Secrets in the OS keychain (`keyring`): service `crmsync`, one entry per key and home.
pub struct KeyringSecretStore {
    scope: String,
}

impl KeyringSecretStore {
    /// A store whose entries are named after `home`.
    pub fn new(home: &Path) -> Self {
        KeyringSecretStore {
            scope: home.display().to_string(),
        }
    }

    fn entry(&self, key: &str) -> Result<keyring::Entry, SecretStoreError> {
        keyring::Entry::new("crmsync", &format!("{}#{key}", self.scope)).map_err(kerr)
    }

    /// Writes, reads back and deletes a probe entry: a keychain that exists but cannot keep a
    /// value (no secret service, a locked keychain) fails here rather than at sign-in.
    pub fn probe(&self) -> Result<(), SecretStoreError> {
        let v = Secret::new("probe");
        self.set("probe", &v)?;
        let back = self.get("probe")?;
        self.delete("probe")?;
        if back.as_ref() == Some(&v) {
            Ok(())
        } else {
            Err(SecretStoreError("the keychain did not keep a value".into()))
        }
    }
}

fn kerr(e: keyring::Error) -> SecretStoreError {
    // keyring's messages name the platform failure, never the secret.
    SecretStoreError(e.to_string())
}

impl SecretStore for KeyringSecretStore {
    fn get(&self, key: &str) -> Result<Option<Secret>, SecretStoreError> {
        match self.entry(key)?.get_password() {
            Ok(s) => Ok(Some(Secret::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(kerr(e)),
        }
    }
    fn set(&self, key: &str, value: &Secret) -> Result<(), SecretStoreError> {
        self.entry(key)?.set_password(value.expose()).map_err(kerr)
    }
    fn delete(&self, key: &str) -> Result<(), SecretStoreError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(kerr(e)),
        }
    }
}

/// Secrets in one JSON file created with mode 0600 (on Unix), rewritten atomically.
pub struct FileSecretStore {
    path: PathBuf,
    cache: Mutex<BTreeMap<String, String>>,
}

#[derive(Serialize, Deserialize, Default)]
struct FileData {
    secrets: BTreeMap<String, String>,
}

impl FileSecretStore {
    /// Opens (or will create) the file.
    pub fn open(path: PathBuf) -> Result<Self, SecretStoreError> {
        let data = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice::<FileData>(&b)
                .map_err(|_| SecretStoreError(format!("{} is unreadable", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileData::default(),
            Err(e) => return Err(SecretStoreError(format!("{}: {e}", path.display()))),
        };
        Ok(FileSecretStore {
            path,
            cache: Mutex::new(data.secrets),
        })
    }

    /// Re-reads the file (another process may have written it).
    fn reload(&self) -> Result<BTreeMap<String, String>, SecretStoreError> {
        Ok(Self::open(self.path.clone())?
            .cache
            .into_inner()
            .unwrap_or_default())
    }

    fn write(&self, map: &BTreeMap<String, String>) -> Result<(), SecretStoreError> {
        let body = serde_json::to_vec_pretty(&FileData {
            secrets: map.clone(),
        })
        .map_err(|e| SecretStoreError(e.to_string()))?;
        let tmp = self.path.with_extension("json.tmp");
        let io = |e: std::io::Error| SecretStoreError(format!("{}: {e}", self.path.display()));
        {
            use std::io::Write;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp).map_err(io)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
            f.write_all(&body).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

impl SecretStore for FileSecretStore {
    fn get(&self, key: &str) -> Result<Option<Secret>, SecretStoreError> {
        let map = self.reload()?;
        let v = map.get(key).map(|s| Secret::new(s.clone()));
        if let Ok(mut c) = self.cache.lock() {
            *c = map;
        }
        Ok(v)
    }
    fn set(&self, key: &str, value: &Secret) -> Result<(), SecretStoreError> {
        let mut c = self
            .cache
            .lock()
            .map_err(|_| SecretStoreError("lock poisoned".into()))?;
        let mut map = self.reload()?;
        map.insert(key.to_string(), value.expose().to_string());
        self.write(&map)?;
        *c = map;
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<(), SecretStoreError> {
        let mut c = self
            .cache
            .lock()
            .map_err(|_| SecretStoreError("lock poisoned".into()))?;
        let mut map = self.reload()?;
        if map.remove(key).is_some() {
            self.write(&map)?;
        }
        *c = map;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_store_round_trips_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileSecretStore::open(dir.path().join("secrets.json")).unwrap();
        s.set("a", &Secret::new("x")).unwrap();
        let again = FileSecretStore::open(dir.path().join("secrets.json")).unwrap();
        assert_eq!(again.get("a").unwrap(), Some(Secret::new("x")));
        again.delete("a").unwrap();
        assert_eq!(s.get("a").unwrap(), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secrets.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
