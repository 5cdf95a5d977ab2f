//! Errors of the host wiring: each says what went wrong and what to do, in one line.

use crmsync_core::{ConnectorError, ConnectorErrorKind, SettingsError, StoreError, SyncError};

/// What went wrong in a host call. Messages never carry tokens or personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// A setting or configuration key has a bad value (or does not exist).
    #[error("{0}")]
    Config(String),
    /// The user must sign in (again) to a service.
    #[error("{0}")]
    SignIn(String),
    /// Another process holds the state directory's lock.
    #[error("another crmsync sync is running on {0}; wait for it to finish (one sync at a time per state directory)")]
    Busy(String),
    /// A service call failed (after the connector's own retries).
    #[error("{0}")]
    Service(String),
    /// The state database failed.
    #[error("{0}")]
    Store(String),
    /// The secret store failed.
    #[error("secret store: {0}")]
    Secrets(String),
    /// A file of the home directory could not be read or written.
    #[error("{0}")]
    Io(String),
}

/// Shorthand for results of the host wiring.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl From<SettingsError> for AppError {
    fn from(e: SettingsError) -> Self {
        AppError::Config(format!("{e}; see `crmsync config show`"))
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchConflict(id) => AppError::Config(format!(
                "no queued conflict with id {id}; see `crmsync conflicts list`"
            )),
            e => AppError::Store(e.to_string()),
        }
    }
}

impl From<ConnectorError> for AppError {
    fn from(e: ConnectorError) -> Self {
        match e.kind {
            ConnectorErrorKind::Auth => AppError::SignIn(e.message),
            _ => AppError::Service(e.message),
        }
    }
}

impl From<SyncError> for AppError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Settings(s) => s.into(),
            SyncError::Store(s) => s.into(),
            SyncError::Connector { side, error } => match error.kind {
                ConnectorErrorKind::Auth => AppError::SignIn(format!(
                    "{side}: {}; run `crmsync login {side}`",
                    error.message
                )),
                _ => AppError::Service(format!("{side}: {}", error.message)),
            },
            e => AppError::Service(e.to_string()),
        }
    }
}

impl From<crmsync_zoho::Error> for AppError {
    fn from(e: crmsync_zoho::Error) -> Self {
        match e {
            crmsync_zoho::Error::Auth(m) => {
                AppError::SignIn(format!("Zoho: {m}; run `crmsync login zoho`"))
            }
            crmsync_zoho::Error::Secrets(m) => AppError::Secrets(m),
            e => AppError::Service(format!("Zoho: {e}")),
        }
    }
}

impl From<crmsync_core::secret::SecretStoreError> for AppError {
    fn from(e: crmsync_core::secret::SecretStoreError) -> Self {
        AppError::Secrets(e.0)
    }
}
