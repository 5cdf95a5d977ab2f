//! Shared helpers: an emulator and a connector signed in with a host-provided token.

use std::sync::Arc;

use crmsync_core::secret::SecretStoreError;
use crmsync_core::{
    AccessToken, AccessTokenProvider, CategoryFilter, Kind, Scope, Secret, Window, ZohoScope,
};
use crmsync_emulator::graph::{GraphConfig, GraphEmulator, GraphFaults};
use crmsync_outlook::{Auth, OutlookConnector, OutlookOptions};

/// Hands in tokens minted by the emulator (the host-app path).
pub struct EmuTokens(pub Arc<GraphEmulator>);

impl AccessTokenProvider for EmuTokens {
    fn access_token(&self, _: &[String], _: bool) -> Result<AccessToken, SecretStoreError> {
        Ok(AccessToken {
            token: Secret::new(self.0.issue_access_token()),
            expires_at: chrono::Utc::now().timestamp() + 3600,
        })
    }
}

pub struct T {
    pub emu: Arc<GraphEmulator>,
    pub conn: Arc<OutlookConnector>,
}

pub async fn start() -> T {
    start_with(GraphConfig::default(), OutlookOptions::default()).await
}

pub async fn start_with(cfg: GraphConfig, opts: OutlookOptions) -> T {
    let emu = Arc::new(GraphEmulator::start(cfg).await.unwrap());
    // Throttling answers in tests wait milliseconds, not seconds.
    emu.set_faults(GraphFaults {
        retry_after_secs: 0.01,
        ..emu.faults()
    });
    let auth = Arc::new(Auth::host(Arc::new(EmuTokens(Arc::clone(&emu)))));
    let conn = Arc::new(OutlookConnector::new(emu.graph_url(), auth, opts));
    T { emu, conn }
}

pub fn scope(kind: Kind, container: Option<String>) -> Scope {
    Scope {
        kind,
        container,
        zoho: ZohoScope::default(),
        window: Some(Window {
            start: "2025-01-01T00:00:00Z".parse().unwrap(),
            end: "2027-12-31T00:00:00Z".parse().unwrap(),
        }),
        categories: CategoryFilter::All,
        zoho_category: "Zoho".into(),
    }
}
