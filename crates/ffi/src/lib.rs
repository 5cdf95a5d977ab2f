//! # crmsync-ffi
//!
//! The UniFFI surface of crmsync, for the native macOS app (Swift) and for Python. One object,
//! [`SyncClient`], created from a [`ClientConfig`] and a host [`SecretStore`]; async methods
//! for sign-in, folders and categories, settings, sync with progress and cancellation,
//! conflicts and history; foreign traits the host implements ([`SecretStore`],
//! [`SyncObserver`], [`AccessTokenProvider`], [`HostConnector`]); one error, [`CrmSyncError`].
//!
//! What it does not do: sync logic (the core decides everything), or anything a host could not
//! see through the generated bindings. The crate owns a multi-threaded tokio runtime; host
//! callbacks are synchronous and run on its threads (host connectors on its blocking pool).
//!
//! ```no_run
//! use std::sync::Arc;
//! use crmsync_ffi::{ClientConfig, CrmSyncError, SecretStore, SyncClient, SyncRequest};
//!
//! struct NoSecrets;
//! impl SecretStore for NoSecrets {
//!     fn get(&self, _: String) -> Result<Option<String>, CrmSyncError> { Ok(None) }
//!     fn set(&self, _: String, _: String) -> Result<(), CrmSyncError> { Ok(()) }
//!     fn delete(&self, _: String) -> Result<(), CrmSyncError> { Ok(()) }
//! }
//! # async fn demo() -> Result<(), CrmSyncError> {
//! let client = SyncClient::new(
//!     ClientConfig {
//!         home: "/tmp/crmsync".into(),
//!         zoho_client_id: "1000.CLIENT".into(),
//!         zoho_client_secret: None,
//!         zoho_redirect_port: 53682,
//!         zoho_accounts_url: None,
//!         outlook_client_id: "00000000-0000-0000-0000-000000000000".into(),
//!         outlook_tenant: None,
//!         outlook_login_url: None,
//!         graph_url: None,
//!     },
//!     Arc::new(NoSecrets),
//! )?;
//! let report = client
//!     .sync(SyncRequest { kind: None, dry_run: false, force: false }, None, None)
//!     .await?;
//! println!("{} writes", report.writes);
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::OnceLock;

pub mod callbacks;
pub mod client;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod error;
pub mod host;
pub mod types;
mod wiring;

pub use callbacks::{AccessTokenProvider, HostAccessToken, SecretStore, SyncObserver};
pub use client::{CancelHandle, ClientConfig, DeviceCodePrompt, Identity, SyncClient};
pub use error::CrmSyncError;
pub use host::{
    HostCapabilities, HostChange, HostConnector, HostOperation, HostPage, HostRecord,
    HostRecordErrorKind, HostScope, HostVanish, HostWriteResult,
};
pub use types::*;

uniffi::setup_scaffolding!();

/// The crate's runtime: multi-threaded (two workers: the app is a guest in Outlook's machine),
/// created on first use and never shut down.
pub(crate) fn runtime() -> Result<&'static tokio::runtime::Runtime, CrmSyncError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("crmsync")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| CrmSyncError::internal(format!("the async runtime could not start: {e}")))
}

/// Runs `fut` on the crate's runtime and waits for it from any executor. A panic in `fut` ends
/// as `CrmSyncError::Internal` instead of crossing the boundary.
pub(crate) async fn run<T, F>(fut: F) -> Result<T, CrmSyncError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, CrmSyncError>> + Send + 'static,
{
    runtime()?.spawn(fut).await?
}

/// The settings a new client starts with (the seed's: Zoho-category events, Zoho wins, field
/// merge on, records owned by me).
#[uniffi::export]
pub fn default_settings() -> SyncSettings {
    crmsync_core::Settings::default().into()
}

/// Checks settings without saving them (the Settings dialog's validation).
#[uniffi::export]
pub fn validate_settings(settings: SyncSettings) -> Result<(), CrmSyncError> {
    types::validated(settings).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic inside an exported call ends as an error, never as an unwind into the host.
    #[test]
    fn a_panic_becomes_an_internal_error() {
        let out: Result<(), CrmSyncError> = futures_lite_block_on(run(async {
            let v: Vec<u8> = Vec::new();
            // Index out of bounds: a bug-shaped panic.
            let _ = v[usize::from(v.is_empty())];
            Ok(())
        }));
        match out {
            Err(CrmSyncError::Internal { reason }) => assert!(reason.contains("internal error")),
            other => panic!("expected Internal, got {other:?}"),
        }
    }

    #[test]
    fn default_settings_validate() {
        assert_eq!(validate_settings(default_settings()), Ok(()));
        let mut s = default_settings();
        s.events.window.days_back = 0;
        s.events.window.days_ahead = 0;
        let e = validate_settings(s).err();
        assert!(
            matches!(&e, Some(CrmSyncError::InvalidInput { reason }) if reason.contains("events.window"))
        );
    }

    fn futures_lite_block_on<F: Future>(f: F) -> F::Output {
        // A plain current-thread runtime stands in for the host's executor.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|e| panic!("test runtime: {e}"))
    }
}
