//! The one public error of the FFI, converted from every internal error in this module only.
//!
//! Each variant carries a human `reason`: what happened and what to do, with no tokens, no
//! secrets and no personal data (the internal errors it is made from already hold none, and no
//! conversion here adds any).

use crmsync_core::secret::SecretStoreError;
use crmsync_core::{ConnectorError, ConnectorErrorKind, SettingsError, StoreError, SyncError};

/// Why a call failed. Swift sees it as a thrown `CrmSyncError`, Python as an exception class per
/// variant (`CrmSyncError.SignInRequired`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum CrmSyncError {
    /// The user must sign in (again) to the named service; `reason` says which and why.
    #[error("{reason}")]
    SignInRequired {
        /// What happened and what to do.
        reason: String,
    },
    /// A service refuses for now (rate or token limits); try again later.
    #[error("{reason}")]
    Throttled {
        /// What happened and what to do.
        reason: String,
    },
    /// The network or a service failed for longer than the retries; try again later.
    #[error("{reason}")]
    Unavailable {
        /// What happened and what to do.
        reason: String,
    },
    /// A value given by the caller is not allowed (a setting, a URL, an unknown conflict id).
    #[error("{reason}")]
    InvalidInput {
        /// Which value and what is allowed.
        reason: String,
    },
    /// Another sync holds this home directory; wait for it to finish.
    #[error("{reason}")]
    Busy {
        /// What happened and what to do.
        reason: String,
    },
    /// The local settings or state could not be read or written.
    #[error("{reason}")]
    Storage {
        /// What happened and what to do.
        reason: String,
    },
    /// The operation was cancelled.
    #[error("{reason}")]
    Cancelled {
        /// What was cancelled.
        reason: String,
    },
    /// Host code (a secret store, token provider or host connector) failed or threw an
    /// unexpected error.
    #[error("{reason}")]
    Host {
        /// What failed.
        reason: String,
    },
    /// A service answered something crmsync cannot read, or a bug; nothing half-done is kept.
    #[error("{reason}")]
    Internal {
        /// What happened.
        reason: String,
    },
}

impl CrmSyncError {
    /// The human reason, whatever the variant.
    pub fn reason(&self) -> &str {
        match self {
            CrmSyncError::SignInRequired { reason }
            | CrmSyncError::Throttled { reason }
            | CrmSyncError::Unavailable { reason }
            | CrmSyncError::InvalidInput { reason }
            | CrmSyncError::Busy { reason }
            | CrmSyncError::Storage { reason }
            | CrmSyncError::Cancelled { reason }
            | CrmSyncError::Host { reason }
            | CrmSyncError::Internal { reason } => reason,
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        CrmSyncError::InvalidInput {
            reason: reason.into(),
        }
    }

    pub(crate) fn internal(reason: impl Into<String>) -> Self {
        CrmSyncError::Internal {
            reason: reason.into(),
        }
    }

    /// The connector error a host's failure becomes inside the engine.
    pub(crate) fn to_connector_error(&self) -> ConnectorError {
        let kind = match self {
            CrmSyncError::SignInRequired { .. } => ConnectorErrorKind::Auth,
            CrmSyncError::Throttled { .. } | CrmSyncError::Busy { .. } => {
                ConnectorErrorKind::Throttled
            }
            CrmSyncError::Unavailable { .. } => ConnectorErrorKind::Transient,
            CrmSyncError::InvalidInput { .. } => ConnectorErrorKind::Invalid,
            CrmSyncError::Cancelled { .. } => ConnectorErrorKind::Cancelled,
            CrmSyncError::Storage { .. }
            | CrmSyncError::Host { .. }
            | CrmSyncError::Internal { .. } => ConnectorErrorKind::Other,
        };
        ConnectorError::new(kind, self.reason())
    }
}

/// Host code threw something that is not a `CrmSyncError` (a Swift error of its own, a Python
/// exception): the engine sees a host failure. The message is uniffi's description of the
/// foreign error, which is the host's own text.
impl From<uniffi::UnexpectedUniFFICallbackError> for CrmSyncError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CrmSyncError::Host {
            reason: format!("the host app's code failed: {}", e.reason),
        }
    }
}

impl From<ConnectorError> for CrmSyncError {
    fn from(e: ConnectorError) -> Self {
        let reason = e.message;
        match e.kind {
            ConnectorErrorKind::Auth => CrmSyncError::SignInRequired { reason },
            ConnectorErrorKind::Throttled => CrmSyncError::Throttled { reason },
            ConnectorErrorKind::Transient => CrmSyncError::Unavailable { reason },
            ConnectorErrorKind::Invalid => CrmSyncError::InvalidInput { reason },
            ConnectorErrorKind::Cancelled => CrmSyncError::Cancelled { reason },
            ConnectorErrorKind::CursorExpired
            | ConnectorErrorKind::Protocol
            | ConnectorErrorKind::Other => CrmSyncError::Internal { reason },
        }
    }
}

impl From<crmsync_zoho::Error> for CrmSyncError {
    fn from(e: crmsync_zoho::Error) -> Self {
        let reason = format!("Zoho CRM: {e}");
        match e {
            crmsync_zoho::Error::Auth(_) => CrmSyncError::SignInRequired { reason },
            crmsync_zoho::Error::Throttled(_) => CrmSyncError::Throttled { reason },
            crmsync_zoho::Error::Transient(_) => CrmSyncError::Unavailable { reason },
            crmsync_zoho::Error::Invalid(_) => CrmSyncError::InvalidInput { reason },
            crmsync_zoho::Error::Secrets(_) => CrmSyncError::Host { reason },
            _ => CrmSyncError::Internal { reason },
        }
    }
}

impl From<crmsync_outlook::Error> for CrmSyncError {
    fn from(e: crmsync_outlook::Error) -> Self {
        let reason = format!("Outlook: {e}");
        match e {
            crmsync_outlook::Error::Auth(_) | crmsync_outlook::Error::OAuth(_) => {
                CrmSyncError::SignInRequired { reason }
            }
            crmsync_outlook::Error::Throttled(_) => CrmSyncError::Throttled { reason },
            crmsync_outlook::Error::Transient(_) => CrmSyncError::Unavailable { reason },
            crmsync_outlook::Error::Config(_) => CrmSyncError::InvalidInput { reason },
            crmsync_outlook::Error::Secret(_) => CrmSyncError::Host { reason },
            _ => CrmSyncError::Internal { reason },
        }
    }
}

impl From<crmsync::app::AppError> for CrmSyncError {
    fn from(e: crmsync::app::AppError) -> Self {
        use crmsync::app::AppError;
        let reason = e.to_string();
        match e {
            AppError::Config(_) => CrmSyncError::InvalidInput { reason },
            AppError::SignIn(_) => CrmSyncError::SignInRequired { reason },
            AppError::Busy(_) => CrmSyncError::Busy { reason },
            AppError::Service(_) => CrmSyncError::Unavailable { reason },
            AppError::Store(_) | AppError::Io(_) => CrmSyncError::Storage { reason },
            AppError::Secrets(_) => CrmSyncError::Host { reason },
            _ => CrmSyncError::Internal { reason },
        }
    }
}

impl From<SettingsError> for CrmSyncError {
    fn from(e: SettingsError) -> Self {
        CrmSyncError::InvalidInput {
            reason: e.to_string(),
        }
    }
}

impl From<StoreError> for CrmSyncError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy => CrmSyncError::Busy {
                reason: e.to_string(),
            },
            StoreError::NoSuchConflict(_) => CrmSyncError::InvalidInput {
                reason: e.to_string(),
            },
            _ => CrmSyncError::Storage {
                reason: e.to_string(),
            },
        }
    }
}

impl From<SyncError> for CrmSyncError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Settings(e) => e.into(),
            SyncError::Store(e) => e.into(),
            SyncError::Connector { side, error } => {
                let mut out = CrmSyncError::from(error);
                let reason = format!("{}: {}", side_name(side), out.reason());
                set_reason(&mut out, reason);
                out
            }
            other => CrmSyncError::internal(other.to_string()),
        }
    }
}

impl From<SecretStoreError> for CrmSyncError {
    fn from(e: SecretStoreError) -> Self {
        CrmSyncError::Host {
            reason: e.to_string(),
        }
    }
}

/// The reverse, for host secret stores and token providers adapted to the core's traits.
impl From<CrmSyncError> for SecretStoreError {
    fn from(e: CrmSyncError) -> Self {
        SecretStoreError(e.reason().to_string())
    }
}

impl From<std::io::Error> for CrmSyncError {
    fn from(e: std::io::Error) -> Self {
        // io::Error's text names the operation, not the file's contents.
        CrmSyncError::Storage {
            reason: format!("the home directory could not be used: {e}"),
        }
    }
}

impl From<serde_json::Error> for CrmSyncError {
    fn from(e: serde_json::Error) -> Self {
        // serde_json's messages name the position and the expected shape, never the values.
        CrmSyncError::InvalidInput {
            reason: format!("unreadable JSON: {e}"),
        }
    }
}

/// A task that did not finish on the runtime: a panic (a bug) or a runtime shutting down.
impl From<tokio::task::JoinError> for CrmSyncError {
    fn from(e: tokio::task::JoinError) -> Self {
        if e.is_panic() {
            CrmSyncError::internal(
                "an internal error stopped the operation (a bug in crmsync); what was committed before it stays",
            )
        } else {
            CrmSyncError::Cancelled {
                reason: "the operation was stopped".into(),
            }
        }
    }
}

fn side_name(side: crmsync_core::Side) -> &'static str {
    match side {
        crmsync_core::Side::Zoho => "Zoho CRM",
        crmsync_core::Side::Outlook => "Outlook",
    }
}

fn set_reason(e: &mut CrmSyncError, new: String) {
    match e {
        CrmSyncError::SignInRequired { reason }
        | CrmSyncError::Throttled { reason }
        | CrmSyncError::Unavailable { reason }
        | CrmSyncError::InvalidInput { reason }
        | CrmSyncError::Busy { reason }
        | CrmSyncError::Storage { reason }
        | CrmSyncError::Cancelled { reason }
        | CrmSyncError::Host { reason }
        | CrmSyncError::Internal { reason } => *reason = new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_errors_name_the_side_and_keep_the_category() {
        let e: CrmSyncError = SyncError::Connector {
            side: crmsync_core::Side::Zoho,
            error: ConnectorError::new(ConnectorErrorKind::Auth, "sign in to Zoho again"),
        }
        .into();
        assert_eq!(
            e,
            CrmSyncError::SignInRequired {
                reason: "Zoho CRM: sign in to Zoho again".into()
            }
        );
    }

    #[test]
    fn store_busy_is_busy() {
        assert!(matches!(
            CrmSyncError::from(StoreError::Busy),
            CrmSyncError::Busy { .. }
        ));
    }
}
