//! Errors of the Outlook connector, and their mapping to the core's [`ConnectorError`].

use crmsync_core::{ConnectorError, ConnectorErrorKind, RecordError, RecordErrorKind};

/// What went wrong talking to Microsoft Graph or the identity platform.
///
/// Messages carry no tokens and no personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The user must sign in (again).
    #[error("{0}")]
    Auth(String),
    /// An OAuth error code from the token endpoint (handled inside the auth module).
    #[error("sign-in error {0}")]
    OAuth(String),
    /// The configuration is wrong (bad URL, a folder that does not exist).
    #[error("{0}")]
    Config(String),
    /// Throttled even after the retries.
    #[error("{0}")]
    Throttled(String),
    /// Network or 5xx failure that outlasted the retries.
    #[error("{0}")]
    Transient(String),
    /// The delta token expired (410 / `SyncStateNotFound`).
    #[error("the change cursor expired")]
    CursorExpired,
    /// Graph answered an error status.
    #[error("Microsoft Graph answered {status} ({code})")]
    Api {
        /// HTTP status.
        status: u16,
        /// Graph's error code (may be empty).
        code: String,
    },
    /// An answer we cannot read.
    #[error("{0}")]
    Protocol(String),
    /// The secret store failed.
    #[error("{0}")]
    Secret(String),
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn transport(e: &reqwest::Error) -> Error {
        // reqwest's Display can include the URL, which holds no secrets here (tokens travel in
        // headers and form bodies), but keep it short.
        if e.is_timeout() {
            Error::Transient("the request to Microsoft timed out".into())
        } else {
            Error::Transient("could not reach Microsoft (network error)".into())
        }
    }

    pub(crate) fn secret(e: crmsync_core::secret::SecretStoreError) -> Error {
        Error::Secret(e.to_string())
    }

    /// The per-record error this becomes inside a batch.
    pub fn to_record_error(&self) -> RecordError {
        match self {
            Error::Api { status: 412, .. } => RecordError::new(
                RecordErrorKind::Changed,
                "the record changed since it was read",
            ),
            Error::Api { status: 404, .. } => RecordError::new(
                RecordErrorKind::NotFound,
                "the record does not exist any more",
            ),
            Error::Api { status: 400, code } => RecordError::new(
                RecordErrorKind::Invalid,
                format!("Outlook refused the record ({code})"),
            ),
            Error::Api { status, code } if *status == 429 || *status >= 500 => RecordError::new(
                RecordErrorKind::Transient,
                format!("Outlook is busy ({status} {code})"),
            ),
            Error::Throttled(m) | Error::Transient(m) => {
                RecordError::new(RecordErrorKind::Transient, m.clone())
            }
            other => RecordError::new(RecordErrorKind::Rejected, other.to_string()),
        }
    }
}

impl From<Error> for ConnectorError {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Auth(_) | Error::OAuth(_) | Error::Secret(_) => ConnectorErrorKind::Auth,
            Error::Config(_) => ConnectorErrorKind::Invalid,
            Error::Throttled(_) => ConnectorErrorKind::Throttled,
            Error::Transient(_) => ConnectorErrorKind::Transient,
            Error::CursorExpired => return ConnectorError::cursor_expired(),
            Error::Api { status: 401, .. } => ConnectorErrorKind::Auth,
            Error::Api { status: 403, .. } => ConnectorErrorKind::Auth,
            Error::Api { status: 404, .. } | Error::Api { status: 400, .. } => {
                ConnectorErrorKind::Invalid
            }
            Error::Api { status: 429, .. } => ConnectorErrorKind::Throttled,
            Error::Api { status, .. } if *status >= 500 => ConnectorErrorKind::Transient,
            Error::Api { .. } => ConnectorErrorKind::Other,
            Error::Protocol(_) => ConnectorErrorKind::Protocol,
        };
        ConnectorError::new(kind, e.to_string())
    }
}
