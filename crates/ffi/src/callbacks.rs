//! The foreign traits a host implements (all synchronous: async foreign traits do not compile in
//! Swift 6 mode with uniffi 0.32) and their adapters to the core's traits.

use std::sync::Arc;

use crmsync_core as core;
use crmsync_core::secret::SecretStoreError;

use crate::error::CrmSyncError;
use crate::types::{LogEvent, ProgressEvent};

/// Where secrets live (refresh tokens, cached access tokens). The Mac app backs it with the
/// Keychain. Keys are stable names such as `crmsync.zoho.refresh_token`.
#[uniffi::export(with_foreign)]
pub trait SecretStore: Send + Sync {
    /// Reads a secret; `None` when absent.
    fn get(&self, key: String) -> Result<Option<String>, CrmSyncError>;
    /// Writes a secret.
    fn set(&self, key: String, value: String) -> Result<(), CrmSyncError>;
    /// Deletes a secret (no error when absent).
    fn delete(&self, key: String) -> Result<(), CrmSyncError>;
}

/// Receives progress and log events of a sync (called on a background thread; keep it quick and
/// hop to the main thread for UI work). Do not wait on another `SyncClient` call from inside a
/// callback: the sync waits for the callback, so such a call can deadlock (seen from Python, whose
/// event loop the outer call is holding).
#[uniffi::export(with_foreign)]
pub trait SyncObserver: Send + Sync {
    /// A progress event, in order.
    fn on_progress(&self, event: ProgressEvent);
    /// A log line for the UI.
    fn on_log(&self, event: LogEvent);
}

/// An access token the host obtained itself (MSAL on the Mac).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct HostAccessToken {
    /// The bearer token.
    pub token: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
}

impl std::fmt::Debug for HostAccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostAccessToken")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Hands Microsoft Graph access tokens to crmsync (MSAL's `acquireTokenSilent` on the Mac).
#[uniffi::export(with_foreign)]
pub trait AccessTokenProvider: Send + Sync {
    /// A valid token for `scopes`; `force_refresh` after Graph refused the last one.
    fn access_token(
        &self,
        scopes: Vec<String>,
        force_refresh: bool,
    ) -> Result<HostAccessToken, CrmSyncError>;
}

/// The host's secret store as the core's.
pub(crate) struct HostSecrets(pub Arc<dyn SecretStore>);

impl core::SecretStore for HostSecrets {
    fn get(&self, key: &str) -> Result<Option<core::Secret>, SecretStoreError> {
        Ok(self.0.get(key.to_string())?.map(core::Secret::new))
    }
    fn set(&self, key: &str, value: &core::Secret) -> Result<(), SecretStoreError> {
        Ok(self.0.set(key.to_string(), value.expose().to_string())?)
    }
    fn delete(&self, key: &str) -> Result<(), SecretStoreError> {
        Ok(self.0.delete(key.to_string())?)
    }
}

/// The host's token provider as the core's.
pub(crate) struct HostTokens(pub Arc<dyn AccessTokenProvider>);

impl core::AccessTokenProvider for HostTokens {
    fn access_token(
        &self,
        scopes: &[String],
        force_refresh: bool,
    ) -> Result<core::AccessToken, SecretStoreError> {
        let t = self.0.access_token(scopes.to_vec(), force_refresh)?;
        Ok(core::AccessToken {
            token: core::Secret::new(t.token),
            expires_at: t.expires_at,
        })
    }
}

/// The host's observer as the core's.
pub(crate) struct HostObserver(pub Arc<dyn SyncObserver>);

impl core::SyncObserver for HostObserver {
    fn on_progress(&self, progress: &core::Progress) {
        self.0.on_progress(progress.into());
    }
}
