//! Shared set-up: an emulator and a signed-in connector.

use std::sync::Arc;

use crmsync_core::secret::MemorySecretStore;
use crmsync_core::{Kind, Scope, ZohoScope};
use crmsync_emulator::zoho::{ZohoConfig, ZohoEmulator};
use crmsync_zoho::auth::{OAuthConfig, ZohoAuth};
use crmsync_zoho::client::ClientOptions;
use crmsync_zoho::{ZohoConnector, ZohoOptions};

pub fn config(emu: &ZohoEmulator) -> OAuthConfig {
    let mut c = OAuthConfig::new(crmsync_emulator::zoho::DEFAULT_CLIENT_ID, 0);
    c.sign_in_accounts = emu.accounts_url();
    c
}

pub fn fast() -> ZohoOptions {
    ZohoOptions {
        client: ClientOptions {
            min_delay: std::time::Duration::from_millis(5),
            max_delay: std::time::Duration::from_millis(50),
            max_attempts: 8,
            ..Default::default()
        },
        ..Default::default()
    }
}

pub async fn setup_with(cfg: ZohoConfig) -> (ZohoEmulator, ZohoConnector) {
    setup_opts(cfg, fast()).await
}

pub async fn setup_opts(cfg: ZohoConfig, opts: ZohoOptions) -> (ZohoEmulator, ZohoConnector) {
    let emu = ZohoEmulator::start(cfg).await.unwrap();
    let refresh = emu.issue_refresh_token("owner@example.com").unwrap();
    let auth = ZohoAuth::from_refresh_token(
        config(&emu),
        Arc::new(MemorySecretStore::default()),
        &emu.accounts_url(),
        crmsync_core::Secret::new(refresh),
        None,
    )
    .unwrap();
    let zoho = ZohoConnector::connect(Arc::new(auth), opts).await.unwrap();
    (emu, zoho)
}

pub async fn setup() -> (ZohoEmulator, ZohoConnector) {
    setup_with(ZohoConfig::default()).await
}

pub fn scope(kind: Kind) -> Scope {
    scope_in(kind, ZohoScope::OwnedByMe)
}

pub fn scope_in(kind: Kind, zoho: ZohoScope) -> Scope {
    Scope {
        kind,
        container: None,
        zoho,
        window: None,
        categories: Default::default(),
        zoho_category: "Zoho".into(),
    }
}
