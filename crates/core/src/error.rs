//! Errors of the core: settings validation, connector calls, the state store and a sync run.

use serde::{Deserialize, Serialize};

/// A setting has a value that is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The named setting has a bad value; `reason` says what is allowed.
    #[error("setting {key}: {reason}")]
    Invalid {
        /// Dotted key, e.g. `events.category_filter`.
        key: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

/// What went wrong in a whole connector call (not one record of a batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorErrorKind {
    /// The user must sign in (again): no token, revoked or expired refresh token.
    Auth,
    /// The service refuses for now (rate or token-mint limits) even after the connector's own
    /// retries; try again later.
    Throttled,
    /// A transient failure (network, 5xx) that outlasted the connector's retries.
    Transient,
    /// The change cursor is no longer valid; the engine falls back to a full listing.
    CursorExpired,
    /// The request or configuration is wrong (a folder that does not exist, a bad view id).
    Invalid,
    /// The service answered something we cannot read.
    Protocol,
    /// The operation was cancelled.
    Cancelled,
    /// Anything else.
    Other,
}

/// An error of a whole connector call.
///
/// Messages never contain tokens, secrets or personal data (names, e-mails).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{message}")]
pub struct ConnectorError {
    /// Category, which decides what the engine does.
    pub kind: ConnectorErrorKind,
    /// A human sentence saying what happened and what to do.
    pub message: String,
}

impl ConnectorError {
    /// Builds an error.
    pub fn new(kind: ConnectorErrorKind, message: impl Into<String>) -> Self {
        ConnectorError {
            kind,
            message: message.into(),
        }
    }

    /// A `CursorExpired` error.
    pub fn cursor_expired() -> Self {
        Self::new(
            ConnectorErrorKind::CursorExpired,
            "the change cursor expired; a full listing follows",
        )
    }

    /// Whether trying the same call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ConnectorErrorKind::Throttled | ConnectorErrorKind::Transient
        )
    }

    /// Whether the whole sync must stop (nothing further can succeed).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self.kind,
            ConnectorErrorKind::Auth | ConnectorErrorKind::Cancelled
        )
    }
}

/// An error of the state store. The store is local: these are bugs, a full disk, or a database
/// written by a newer release.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be read or written.
    #[error("state database: {0}")]
    Io(String),
    /// The database was written by a newer crmsync.
    #[error("state database schema version {found} is newer than this release supports ({supported}); update crmsync")]
    TooNew {
        /// The version found.
        found: u32,
        /// The newest version this release knows.
        supported: u32,
    },
    /// Stored data could not be decoded.
    #[error("state database holds unreadable data: {0}")]
    Corrupt(String),
    /// Another sync holds the lock on this state directory.
    #[error("another sync is running on this state directory")]
    Busy,
    /// A conflict id that is not queued.
    #[error("no queued conflict with id {0}")]
    NoSuchConflict(i64),
}

/// Why a sync run stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The settings are invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A connector failed in a way that stops the whole run (sign-in needed, cancelled).
    #[error("{side}: {error}")]
    Connector {
        /// Which side.
        side: crate::model::Side,
        /// The error.
        error: ConnectorError,
    },
}

/// Shorthand for results of the core.
pub type Result<T, E = SyncError> = std::result::Result<T, E>;
