//! Sign-in: PKCE on a loopback redirect, device code, refresh rotation.

use std::sync::Arc;
use std::time::Duration;

use crmsync_core::secret::MemorySecretStore;
use crmsync_core::SecretStore;
use crmsync_emulator::graph::{GraphConfig, GraphEmulator};
use crmsync_outlook::auth::Sleeper;
use crmsync_outlook::{Auth, AuthConfig, GraphClient};

pub fn config(emu: &GraphEmulator) -> AuthConfig {
    let mut c = AuthConfig::new("11111111-2222-3333-4444-555555555555");
    c.authority = emu.login_url();
    c
}

fn fake_sleeper(emu: &Arc<GraphEmulator>) -> Sleeper {
    let emu = Arc::clone(emu);
    Arc::new(move |d: Duration| {
        emu.advance_clock(d);
        Box::pin(async {})
    })
}

#[tokio::test]
async fn pkce_loopback_sign_in_then_graph_call() {
    let emu = GraphEmulator::start(GraphConfig::default()).await.unwrap();
    let store = Arc::new(MemorySecretStore::default());
    let auth = Arc::new(Auth::oauth(config(&emu), store.clone()));
    auth.sign_in_loopback(0, |url| async move {
        // The emulator consents at once and redirects to our loopback listener.
        let r = reqwest::get(&url).await.unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    })
    .await
    .unwrap();
    assert!(auth.is_signed_in());
    let graph = GraphClient::new(emu.graph_url(), auth.clone());
    let me = graph.get("/me", &[]).await.unwrap();
    assert!(me.get("id").is_some());
    // Secrets do not show.
    assert!(!format!("{auth:?} {store:?}").contains("ey"));
}

#[tokio::test]
async fn device_code_polls_until_approved() {
    let emu = Arc::new(GraphEmulator::start(GraphConfig::default()).await.unwrap());
    let store = Arc::new(MemorySecretStore::default());
    let auth = Auth::oauth(config(&emu), store).with_sleeper(fake_sleeper(&emu));
    let code = auth.start_device_code().await.unwrap();
    assert!(!code.user_code.is_empty());
    // Pending first: approve from another task after a few polls.
    let emu2 = Arc::clone(&emu);
    let user = code.user_code.clone();
    let approver = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(emu2.approve_device_code(&user));
    });
    auth.complete_device_code(&code).await.unwrap();
    approver.await.unwrap();
    assert!(auth.is_signed_in());
}

#[tokio::test]
async fn device_code_declined_is_an_auth_error() {
    let emu = Arc::new(GraphEmulator::start(GraphConfig::default()).await.unwrap());
    let auth = Auth::oauth(config(&emu), Arc::new(MemorySecretStore::default()))
        .with_sleeper(fake_sleeper(&emu));
    let code = auth.start_device_code().await.unwrap();
    assert!(emu.decline_device_code(&code.user_code));
    let err = auth.complete_device_code(&code).await.unwrap_err();
    assert!(matches!(err, crmsync_outlook::Error::Auth(_)), "{err:?}");
}

#[tokio::test]
async fn refresh_rotates_and_401_refreshes_once() {
    let emu = GraphEmulator::start(GraphConfig::default()).await.unwrap();
    let store = Arc::new(MemorySecretStore::default());
    let cfg = config(&emu);
    let rt = emu.issue_refresh_token(&cfg.client_id);
    store
        .set(
            "crmsync.outlook.refresh_token",
            &crmsync_core::Secret::new(rt.clone()),
        )
        .unwrap();
    let auth = Arc::new(Auth::oauth(cfg, store.clone()));
    let graph = GraphClient::new(emu.graph_url(), auth.clone());
    // Concurrent callers share one refresh.
    let (a, b) = tokio::join!(graph.get("/me", &[]), graph.get("/me", &[]));
    a.unwrap();
    b.unwrap();
    let rotated = store.get("crmsync.outlook.refresh_token").unwrap().unwrap();
    assert_ne!(rotated.expose(), rt, "the rotated refresh token is stored");
    // An expired access token: 401, one refresh, the call succeeds.
    emu.expire_access_tokens();
    graph.get("/me", &[]).await.unwrap();
    let again = store.get("crmsync.outlook.refresh_token").unwrap().unwrap();
    assert_ne!(again, rotated);
}

#[tokio::test]
async fn device_code_slow_down_adds_five_seconds() {
    let emu = Arc::new(GraphEmulator::start(GraphConfig::default()).await.unwrap());
    let waits = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (emu2, waits2) = (Arc::clone(&emu), Arc::clone(&waits));
    let user = Arc::new(std::sync::Mutex::new(String::new()));
    let user2 = Arc::clone(&user);
    let sleeper: Sleeper = Arc::new(move |d: Duration| {
        let mut w = waits2.lock().unwrap();
        w.push(d.as_secs());
        // The second poll comes early (as after a suspended laptop wakes): slow_down.
        emu2.advance_clock(if w.len() == 2 {
            Duration::from_secs(1)
        } else {
            d
        });
        if w.len() == 3 {
            emu2.approve_device_code(&user2.lock().unwrap());
        }
        Box::pin(async {})
    });
    let auth =
        Auth::oauth(config(&emu), Arc::new(MemorySecretStore::default())).with_sleeper(sleeper);
    let code = auth.start_device_code().await.unwrap();
    *user.lock().unwrap() = code.user_code.clone();
    auth.complete_device_code(&code).await.unwrap();
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits, vec![5, 5, 10]);
}

#[tokio::test]
async fn a_restarted_process_reuses_the_stored_access_token_and_host_tokens_work() {
    let emu = Arc::new(GraphEmulator::start(GraphConfig::default()).await.unwrap());
    let store = Arc::new(MemorySecretStore::default());
    let cfg = config(&emu);
    let rt = emu.issue_refresh_token(&cfg.client_id);
    store
        .set(
            "crmsync.outlook.refresh_token",
            &crmsync_core::Secret::new(rt),
        )
        .unwrap();
    let first = Arc::new(Auth::oauth(cfg.clone(), store.clone()));
    GraphClient::new(emu.graph_url(), first)
        .get("/me", &[])
        .await
        .unwrap();
    let minted = emu.counters().get("POST /{tenant}/oauth2/v2.0/token");
    assert_eq!(minted, 1);
    // A new process with the same secret store mints nothing.
    let second = Arc::new(Auth::oauth(cfg, store));
    GraphClient::new(emu.graph_url(), second)
        .get("/me", &[])
        .await
        .unwrap();
    assert_eq!(
        emu.counters().get("POST /{tenant}/oauth2/v2.0/token"),
        minted
    );
    // Tokens handed in by the host app.
    let host = Arc::new(Auth::host(Arc::new(crate::support::EmuTokens(Arc::clone(
        &emu,
    )))));
    GraphClient::new(emu.graph_url(), host)
        .get("/me", &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn the_loopback_listener_ignores_requests_without_our_state() {
    let emu = GraphEmulator::start(GraphConfig::default()).await.unwrap();
    let auth = Auth::oauth(config(&emu), Arc::new(MemorySecretStore::default()));
    auth.sign_in_loopback(0, |url| async move {
        let parsed = url::Url::parse(&url).unwrap();
        let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(q["scope"].contains("offline_access"));
        let redirect = q["redirect_uri"].clone();
        assert!(redirect.starts_with("http://localhost:"));
        // A forged redirect (wrong state) is refused and does not end the wait.
        let forged = reqwest::get(format!("{redirect}/?code=evil&state=forged"))
            .await
            .unwrap();
        assert_eq!(forged.status(), 400);
        let r = reqwest::get(&url).await.unwrap();
        assert!(r.status().is_success());
    })
    .await
    .unwrap();
    assert!(auth.is_signed_in());
}
