//! Errors of the Zoho connector: sign-in, transport and protocol failures.

use crmsync_core::{ConnectorError, ConnectorErrorKind};

/// What went wrong talking to Zoho. Messages never carry tokens or personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The user must sign in to Zoho (again): no refresh token, or it was revoked or expired.
    #[error("{0}")]
    Auth(String),
    /// Zoho refuses for now (token-mint limit "Access Denied", API 429) after our own retries.
    /// Retrying later may succeed.
    #[error("{0}")]
    Throttled(String),
    /// A network failure or 5xx that outlasted the retries. Retrying later may succeed.
    #[error("{0}")]
    Transient(String),
    /// The request or configuration is wrong (bad module, bad view id, bad redirect).
    #[error("{0}")]
    Invalid(String),
    /// Zoho answered something we could not read.
    #[error("{0}")]
    Protocol(String),
    /// The secret store failed.
    #[error("secret store: {0}")]
    Secrets(String),
}

impl Error {
    /// Whether trying the same call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Throttled(_) | Error::Transient(_))
    }
}

impl From<Error> for ConnectorError {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Auth(_) => ConnectorErrorKind::Auth,
            Error::Throttled(_) => ConnectorErrorKind::Throttled,
            Error::Transient(_) => ConnectorErrorKind::Transient,
            Error::Invalid(_) => ConnectorErrorKind::Invalid,
            Error::Protocol(_) => ConnectorErrorKind::Protocol,
            Error::Secrets(_) => ConnectorErrorKind::Other,
        };
        ConnectorError::new(kind, e.to_string())
    }
}

impl From<crmsync_core::secret::SecretStoreError> for Error {
    fn from(e: crmsync_core::secret::SecretStoreError) -> Self {
        Error::Secrets(e.0)
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
