//! Sign-in, data-centre routing, token caching, throttling and revocation.

use std::sync::Arc;

use crmsync_core::secret::MemorySecretStore;
use crmsync_core::{Connector, Kind, SecretStore};
use crmsync_emulator::zoho::{Settings, UserSpec, ZohoConfig, ZohoEmulator};
use crmsync_zoho::auth::{authorization_url, LoopbackListener, ZohoAuth};
use crmsync_zoho::{Error, ZohoConnector};

use crate::support::{config, fast, scope, setup};

#[tokio::test]
async fn pkce_sign_in_routes_to_the_users_data_centre() {
    let emu = ZohoEmulator::start(ZohoConfig {
        data_centres: vec!["us".into(), "eu".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    emu.seed_user(UserSpec {
        email: "eve@example.eu".into(),
        dc: Some("eu".into()),
        ..Default::default()
    });
    assert!(emu.set_browser_user("eve@example.eu"));
    let listener = LoopbackListener::bind(0).await.unwrap();
    let mut cfg = config(&emu);
    cfg.redirect_port = listener.port().unwrap();
    let req = authorization_url(&cfg).unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = browser.get(req.url.clone()).send().await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let state = req.state.clone();
    let waiter = tokio::spawn(async move { listener.accept(&state).await });
    let page = browser.get(&location).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let redirect = waiter.await.unwrap().unwrap();
    assert_eq!(redirect.location.as_deref(), Some("eu"));
    assert_eq!(redirect.accounts_server, emu.accounts_url_for("eu"));
    let store: Arc<MemorySecretStore> = Arc::new(MemorySecretStore::default());
    let auth = ZohoAuth::exchange_code(cfg.clone(), store.clone(), &redirect, &req.pkce)
        .await
        .unwrap();
    assert_eq!(
        Some(auth.accounts_server().to_string()),
        emu.accounts_url_for("eu")
    );
    assert_eq!(auth.api_domain(), emu.api_url());
    assert!(!format!("{auth:?}").contains(
        store
            .get("crmsync.zoho.refresh_token")
            .unwrap()
            .unwrap()
            .expose()
    ));
    // A restarted process reuses the stored access token: no new mint.
    let before = emu.counter("POST /oauth/v2/token");
    let restored = ZohoAuth::restore(cfg, store).unwrap();
    let zoho = ZohoConnector::connect(Arc::new(restored), fast())
        .await
        .unwrap();
    zoho.list(&crmsync_core::PageRequest {
        scope: scope(Kind::Contact),
        page: None,
    })
    .await
    .unwrap();
    assert_eq!(emu.counter("POST /oauth/v2/token"), before);
}

#[tokio::test]
async fn concurrent_calls_share_one_refresh_and_401_refreshes_once() {
    let (emu, zoho) = setup().await;
    let zoho = Arc::new(zoho);
    emu.expire_access_tokens();
    let before = emu.counter("POST /oauth/v2/token");
    let calls = (0..8).map(|_| {
        let z = zoho.clone();
        async move {
            z.list(&crmsync_core::PageRequest {
                scope: scope(Kind::Contact),
                page: None,
            })
            .await
        }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(emu.counter("POST /oauth/v2/token") - before, 1);
}

#[tokio::test]
async fn throttled_and_revoked_tokens_are_typed() {
    let emu = ZohoEmulator::start(ZohoConfig::default()).await.unwrap();
    let refresh = emu.issue_refresh_token("owner@example.com").unwrap();
    let mk = |r: &str| {
        ZohoAuth::from_refresh_token(
            config(&emu),
            Arc::new(MemorySecretStore::default()),
            &emu.accounts_url(),
            crmsync_core::Secret::new(r),
            None,
        )
        .unwrap()
    };
    // Ten mints per ten minutes; the eleventh is refused with HTTP 200 "Access Denied".
    let mut last = Ok(crmsync_core::Secret::new(""));
    for _ in 0..11 {
        last = mk(&refresh).refresh(None).await;
    }
    match last {
        Err(Error::Throttled(m)) => assert!(m.contains("wait a few minutes")),
        other => panic!("expected throttled, got {other:?}"),
    }
    let _ = Settings::default();
    let e = mk("1000.not-a-token").refresh(None).await.unwrap_err();
    assert!(
        matches!(&e, Error::Auth(m) if m.contains("sign in to Zoho again")),
        "{e:?}"
    );
    // Sign-out revokes: the token no longer works.
    let refresh2 = emu.issue_refresh_token("owner@example.com").unwrap();
    let a = mk(&refresh2);
    a.sign_out().await.unwrap();
    assert!(matches!(
        mk(&refresh2).refresh(None).await,
        Err(Error::Auth(_))
    ));
}
