//! Zoho OAuth 2.0: data centres, the browser sign-in with PKCE on a loopback redirect, self-client
//! sign-in, the token cache shared by all callers, and sign-out.
//!
//! A thin hand-written client rather than the `oauth2` crate: Zoho answers token errors with HTTP
//! 200 and an `error` key, routes the code exchange to the `accounts-server` of the redirect, and
//! returns `api_domain` and two different expiry shapes; all of that sits outside what a generic
//! OAuth client models.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use crmsync_core::{Secret, SecretStore};
use rand::Rng;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

use crate::error::{Error, Result};

/// A Zoho data centre: where its accounts server and API live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataCentre {
    /// United States (accounts.zoho.com).
    Us,
    /// Europe (accounts.zoho.eu).
    Eu,
    /// India (accounts.zoho.in).
    In,
    /// Australia (accounts.zoho.com.au).
    Au,
    /// China (accounts.zoho.com.cn).
    Cn,
    /// Japan (accounts.zoho.jp).
    Jp,
    /// Canada (accounts.zohocloud.ca — not zoho.ca).
    Ca,
    /// Saudi Arabia (accounts.zoho.sa).
    Sa,
    /// Any other base URLs (a new data centre, the emulator).
    Custom {
        /// The accounts server, e.g. `https://accounts.zoho.eu`.
        accounts: String,
        /// The API domain, e.g. `https://www.zohoapis.eu`.
        api: String,
    },
}

impl DataCentre {
    /// The known data centres.
    pub const KNOWN: [DataCentre; 8] = [
        DataCentre::Us,
        DataCentre::Eu,
        DataCentre::In,
        DataCentre::Au,
        DataCentre::Cn,
        DataCentre::Jp,
        DataCentre::Ca,
        DataCentre::Sa,
    ];

    /// The accounts server's base URL.
    pub fn accounts_url(&self) -> String {
        match self {
            DataCentre::Us => "https://accounts.zoho.com".into(),
            DataCentre::Eu => "https://accounts.zoho.eu".into(),
            DataCentre::In => "https://accounts.zoho.in".into(),
            DataCentre::Au => "https://accounts.zoho.com.au".into(),
            DataCentre::Cn => "https://accounts.zoho.com.cn".into(),
            DataCentre::Jp => "https://accounts.zoho.jp".into(),
            DataCentre::Ca => "https://accounts.zohocloud.ca".into(),
            DataCentre::Sa => "https://accounts.zoho.sa".into(),
            DataCentre::Custom { accounts, .. } => accounts.trim_end_matches('/').to_string(),
        }
    }

    /// The API domain (the token response's `api_domain` is preferred when known).
    pub fn api_domain(&self) -> String {
        match self {
            DataCentre::Us => "https://www.zohoapis.com".into(),
            DataCentre::Eu => "https://www.zohoapis.eu".into(),
            DataCentre::In => "https://www.zohoapis.in".into(),
            DataCentre::Au => "https://www.zohoapis.com.au".into(),
            DataCentre::Cn => "https://www.zohoapis.com.cn".into(),
            DataCentre::Jp => "https://www.zohoapis.jp".into(),
            DataCentre::Ca => "https://www.zohoapis.ca".into(),
            DataCentre::Sa => "https://www.zohoapis.sa".into(),
            DataCentre::Custom { api, .. } => api.trim_end_matches('/').to_string(),
        }
    }

    /// The data centre of a redirect's `location` value (`us`, `eu`, `in`, `au`, `cn`, `jp`,
    /// `ca`, `sa`).
    pub fn from_location(location: &str) -> Option<DataCentre> {
        Some(match location.trim().to_ascii_lowercase().as_str() {
            "us" | "com" => DataCentre::Us,
            "eu" => DataCentre::Eu,
            "in" => DataCentre::In,
            "au" => DataCentre::Au,
            "cn" => DataCentre::Cn,
            "jp" => DataCentre::Jp,
            "ca" => DataCentre::Ca,
            "sa" => DataCentre::Sa,
            _ => return None,
        })
    }
}

/// The registered OAuth client and what it asks for.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// `client_id` from Zoho's API console.
    pub client_id: String,
    /// `client_secret`; `None` for a public (desktop) client using PKCE alone.
    pub client_secret: Option<Secret>,
    /// Scopes, e.g. `ZohoCRM.modules.contacts.ALL`.
    pub scopes: Vec<String>,
    /// The fixed loopback port registered as `http://127.0.0.1:{port}/callback`.
    pub redirect_port: u16,
    /// Where sign-in starts (Zoho: always accounts.zoho.com; the emulator: its first DC).
    pub sign_in_accounts: String,
    /// Key prefix in the secret store (one per account).
    pub secret_prefix: String,
}

impl OAuthConfig {
    /// A config with the scopes crmsync needs, starting sign-in at the US accounts server.
    pub fn new(client_id: impl Into<String>, redirect_port: u16) -> Self {
        OAuthConfig {
            client_id: client_id.into(),
            client_secret: None,
            scopes: default_scopes(),
            redirect_port,
            sign_in_accounts: DataCentre::Us.accounts_url(),
            secret_prefix: "crmsync.zoho".into(),
        }
    }

    /// The redirect URI registered with the client.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.redirect_port)
    }
}

/// The scopes crmsync asks for: the three modules, users, settings and COQL.
pub fn default_scopes() -> Vec<String> {
    [
        "ZohoCRM.modules.contacts.ALL",
        "ZohoCRM.modules.tasks.ALL",
        "ZohoCRM.modules.events.ALL",
        "ZohoCRM.modules.accounts.ALL",
        "ZohoCRM.users.READ",
        "ZohoCRM.settings.fields.READ",
        "ZohoCRM.settings.modules.READ",
        "ZohoCRM.settings.custom_views.READ",
        "ZohoCRM.coql.READ",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A PKCE verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    /// The verifier (sent at the code exchange).
    pub verifier: Secret,
    /// `BASE64URL(SHA256(verifier))`, sent with the authorization request.
    pub challenge: String,
}

impl Pkce {
    /// A fresh random verifier (43 URL-safe characters).
    pub fn generate() -> Pkce {
        let bytes: [u8; 32] = rand::rng().random();
        let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        Pkce::from_verifier(&verifier)
    }

    /// The challenge of a given verifier.
    pub fn from_verifier(verifier: &str) -> Pkce {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier: Secret::new(verifier),
            challenge,
        }
    }
}

/// A prepared browser sign-in: open `url`, then wait on the loopback listener.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The URL to open in the browser.
    pub url: Url,
    /// The `state` the redirect must carry back.
    pub state: String,
    /// The PKCE verifier for the code exchange.
    pub pkce: Pkce,
}

/// Builds the authorization URL (`{accounts}/oauth/v2/auth`, offline access, forced consent so
/// a refresh token is always returned, PKCE S256).
pub fn authorization_url(config: &OAuthConfig) -> Result<AuthorizationRequest> {
    let pkce = Pkce::generate();
    let state_bytes: [u8; 16] = rand::rng().random();
    let state = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(state_bytes);
    let mut url = Url::parse(&format!(
        "{}/oauth/v2/auth",
        config.sign_in_accounts.trim_end_matches('/')
    ))
    .map_err(|e| Error::Invalid(format!("bad accounts URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &config.client_id)
        .append_pair("scope", &config.scopes.join(","))
        .append_pair("redirect_uri", &config.redirect_uri())
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent")
        .append_pair("state", &state)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    Ok(AuthorizationRequest { url, state, pkce })
}

/// What the browser delivered to the loopback redirect.
#[derive(Debug, Clone)]
pub struct Redirect {
    /// The single-use authorization code.
    pub code: Secret,
    /// The user's data centre (`location`), when given.
    pub location: Option<String>,
    /// Where the code must be exchanged (`accounts-server`), when given.
    pub accounts_server: Option<String>,
}

impl Redirect {
    /// Reads a redirect URL's query (`code`, `location`, `accounts-server`, `state`), checking
    /// `state` and surfacing Zoho's `error` parameter.
    pub fn from_url(url: &Url, expected_state: &str) -> Result<Redirect> {
        let get = |k: &str| {
            url.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(err) = get("error") {
            return Err(Error::Auth(format!(
                "Zoho sign-in was not completed ({err}); sign in to Zoho again"
            )));
        }
        if get("state").as_deref() != Some(expected_state) {
            return Err(Error::Auth(
                "the sign-in redirect carried the wrong state; sign in to Zoho again".into(),
            ));
        }
        let code = get("code")
            .ok_or_else(|| Error::Auth("the sign-in redirect carried no code".into()))?;
        Ok(Redirect {
            code: Secret::new(code),
            location: get("location"),
            accounts_server: get("accounts-server"),
        })
    }
}

/// The loopback end of the browser sign-in, bound to `127.0.0.1` on the registered port.
///
/// It reads one HTTP GET request line by hand: a web framework would add a server stack for a
/// single request whose only content is a query string.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
}

impl LoopbackListener {
    /// Binds `127.0.0.1:{port}` (0 = any free port, for tests).
    pub async fn bind(port: u16) -> Result<LoopbackListener> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| Error::Invalid(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
        Ok(LoopbackListener { listener })
    }

    /// The bound port.
    pub fn port(&self) -> Result<u16> {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .map_err(|e| Error::Invalid(e.to_string()))
    }

    /// Waits for the browser's redirect; requests without `code`/`error` (a favicon) are
    /// answered 404 and skipped.
    pub async fn accept(&self, expected_state: &str) -> Result<Redirect> {
        loop {
            let (mut sock, _) = self
                .listener
                .accept()
                .await
                .map_err(|e| Error::Transient(format!("loopback accept failed: {e}")))?;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 2048];
            // Read up to the end of the request head (8 KiB is plenty for a redirect).
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf);
            let target = head
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("GET "))
                .and_then(|l| l.split(' ').next())
                .unwrap_or("/");
            let url = Url::parse(&format!("http://127.0.0.1{target}"))
                .map_err(|e| Error::Protocol(format!("bad redirect: {e}")))?;
            let relevant = url.query_pairs().any(|(k, _)| k == "code" || k == "error");
            if !relevant {
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
                continue;
            }
            let result = Redirect::from_url(&url, expected_state);
            let body = if result.is_ok() {
                "Signed in to Zoho CRM. You can close this window."
            } else {
                "Zoho sign-in failed. Please try again."
            };
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
            return result;
        }
    }
}

/// A token endpoint answer.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: Secret,
    /// The refresh token (code exchanges with offline access only).
    pub refresh_token: Option<Secret>,
    /// The API host to use.
    pub api_domain: Option<String>,
    /// Lifetime in seconds.
    pub expires_in_secs: i64,
}

/// Reads a token-endpoint body. Zoho reports errors with HTTP 200 and an `error` key, so the
/// body is inspected whatever the status.
pub fn parse_token_response(status: u16, body: &Value) -> Result<TokenResponse> {
    if let Some(err) = body.get("error").and_then(Value::as_str) {
        return Err(token_error(err));
    }
    let Some(token) = body.get("access_token").and_then(Value::as_str) else {
        return Err(if status >= 500 {
            Error::Transient(format!("Zoho accounts answered HTTP {status}"))
        } else {
            Error::Protocol(format!(
                "Zoho accounts answered HTTP {status} without an access token"
            ))
        });
    };
    let num = |k: &str| {
        body.get(k).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    };
    // The older shape gives `expires_in_sec` in seconds and `expires_in` in milliseconds.
    let expires_in_secs = match (num("expires_in_sec"), num("expires_in")) {
        (Some(s), _) => s,
        (None, Some(v)) if v > 86_400 => v / 1000,
        (None, Some(v)) => v,
        (None, None) => 3600,
    };
    Ok(TokenResponse {
        access_token: Secret::new(token),
        refresh_token: body
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(Secret::new),
        api_domain: body
            .get("api_domain")
            .and_then(Value::as_str)
            .map(|s| s.trim_end_matches('/').to_string()),
        expires_in_secs,
    })
}

fn token_error(err: &str) -> Error {
    let lower = err.to_ascii_lowercase();
    if lower.contains("access denied") || lower.contains("too many") || lower.contains("throttl") {
        Error::Throttled(
            "Zoho refused to issue a new access token because too many were requested; wait a \
             few minutes and try again. If this keeps happening, too many devices or sessions may \
             hold Zoho tokens for this account: sign out of the ones you no longer use."
                .into(),
        )
    } else if lower.contains("invalid_client") {
        Error::Invalid("Zoho does not recognise this client (invalid_client); check the client id, secret and data centre".into())
    } else {
        // invalid_code (bad, used or expired code, revoked refresh token) and the rest.
        Error::Auth(format!(
            "Zoho rejected the sign-in ({err}); sign in to Zoho again"
        ))
    }
}

const ACCESS_MARGIN_SECS: i64 = 60;

#[derive(Clone)]
struct Cached {
    token: Secret,
    expires_at: i64,
}

/// A signed-in Zoho account: refresh token, accounts server, API domain and the access-token
/// cache, persisted through a [`SecretStore`].
///
/// Access tokens are refreshed once for all concurrent callers (a mutex around the refresh with
/// a re-check after taking it): Zoho allows 10 mints per 10 minutes per refresh token.
pub struct ZohoAuth {
    http: reqwest::Client,
    config: OAuthConfig,
    store: Arc<dyn SecretStore>,
    refresh_token: Secret,
    accounts_server: String,
    api_domain: String,
    cache: Mutex<Option<Cached>>,
    refresh_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for ZohoAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZohoAuth")
            .field("client_id", &self.config.client_id)
            .field("accounts_server", &self.accounts_server)
            .field("api_domain", &self.api_domain)
            .field("refresh_token", &self.refresh_token)
            .finish()
    }
}

fn key(prefix: &str, name: &str) -> String {
    format!("{prefix}.{name}")
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

impl ZohoAuth {
    /// Completes a browser sign-in: exchanges the code at the redirect's `accounts-server`
    /// (or the `location`'s data centre) and persists the result.
    pub async fn exchange_code(
        config: OAuthConfig,
        store: Arc<dyn SecretStore>,
        redirect: &Redirect,
        pkce: &Pkce,
    ) -> Result<ZohoAuth> {
        let accounts = redirect
            .accounts_server
            .clone()
            .or_else(|| {
                redirect
                    .location
                    .as_deref()
                    .and_then(DataCentre::from_location)
                    .map(|d| d.accounts_url())
            })
            .unwrap_or_else(|| config.sign_in_accounts.clone());
        let mut params = vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", config.client_id.clone()),
            ("redirect_uri", config.redirect_uri()),
            ("code", redirect.code.expose().to_string()),
            ("code_verifier", pkce.verifier.expose().to_string()),
        ];
        Self::finish_grant(config, store, accounts, &mut params).await
    }

    /// Self-client sign-in from a grant code generated in Zoho's API console.
    pub async fn from_grant_code(
        config: OAuthConfig,
        store: Arc<dyn SecretStore>,
        accounts_server: &str,
        code: &Secret,
    ) -> Result<ZohoAuth> {
        let mut params = vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", config.client_id.clone()),
            ("code", code.expose().to_string()),
        ];
        Self::finish_grant(config, store, accounts_server.to_string(), &mut params).await
    }

    async fn finish_grant(
        config: OAuthConfig,
        store: Arc<dyn SecretStore>,
        accounts: String,
        params: &mut Vec<(&'static str, String)>,
    ) -> Result<ZohoAuth> {
        let accounts = accounts.trim_end_matches('/').to_string();
        if let Some(s) = &config.client_secret {
            params.push(("client_secret", s.expose().to_string()));
        }
        let http = http_client();
        let tokens = token_call(&http, &accounts, params).await?;
        let refresh = tokens.refresh_token.clone().ok_or_else(|| {
            Error::Auth("Zoho returned no refresh token; sign in to Zoho again".into())
        })?;
        let api = tokens
            .api_domain
            .clone()
            .ok_or_else(|| Error::Protocol("Zoho returned no api_domain".into()))?;
        let auth = ZohoAuth::assemble(http, config, store, refresh, accounts, api);
        auth.persist_account()?;
        auth.store_access(&tokens)?;
        Ok(auth)
    }

    /// Self-client sign-in (or a later start) from a refresh token: no token is minted until
    /// an API call needs one. `api_domain` is taken from the first refresh when `None`.
    pub fn from_refresh_token(
        config: OAuthConfig,
        store: Arc<dyn SecretStore>,
        accounts_server: &str,
        refresh_token: Secret,
        api_domain: Option<&str>,
    ) -> Result<ZohoAuth> {
        let auth = ZohoAuth::assemble(
            http_client(),
            config,
            store,
            refresh_token,
            accounts_server.trim_end_matches('/').to_string(),
            api_domain
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_string(),
        );
        auth.persist_account()?;
        auth.load_access()?;
        Ok(auth)
    }

    /// Restores a signed-in account from the secret store ("keep me signed in").
    pub fn restore(config: OAuthConfig, store: Arc<dyn SecretStore>) -> Result<ZohoAuth> {
        let p = config.secret_prefix.clone();
        let get = |n: &str| store.get(&key(&p, n));
        let refresh = get("refresh_token")?
            .ok_or_else(|| Error::Auth("not signed in to Zoho; sign in to Zoho again".into()))?;
        let accounts = get("accounts_server")?
            .map(|s| s.expose().to_string())
            .unwrap_or_else(|| config.sign_in_accounts.clone());
        let api = get("api_domain")?
            .map(|s| s.expose().to_string())
            .unwrap_or_default();
        let auth = ZohoAuth::assemble(http_client(), config, store, refresh, accounts, api);
        auth.load_access()?;
        Ok(auth)
    }

    fn assemble(
        http: reqwest::Client,
        config: OAuthConfig,
        store: Arc<dyn SecretStore>,
        refresh_token: Secret,
        accounts_server: String,
        api_domain: String,
    ) -> ZohoAuth {
        ZohoAuth {
            http,
            config,
            store,
            refresh_token,
            accounts_server,
            api_domain,
            cache: Mutex::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn k(&self, name: &str) -> String {
        key(&self.config.secret_prefix, name)
    }

    fn persist_account(&self) -> Result<()> {
        self.store
            .set(&self.k("refresh_token"), &self.refresh_token)?;
        self.store.set(
            &self.k("accounts_server"),
            &Secret::new(self.accounts_server.clone()),
        )?;
        if !self.api_domain.is_empty() {
            self.store
                .set(&self.k("api_domain"), &Secret::new(self.api_domain.clone()))?;
        }
        Ok(())
    }

    fn load_access(&self) -> Result<()> {
        if let Some(s) = self.store.get(&self.k("access_token"))? {
            if let Some((exp, tok)) = s.expose().split_once(' ') {
                if let Ok(expires_at) = exp.parse::<i64>() {
                    self.set_cache(Some(Cached {
                        token: Secret::new(tok),
                        expires_at,
                    }));
                }
            }
        }
        Ok(())
    }

    fn store_access(&self, t: &TokenResponse) -> Result<Cached> {
        let c = Cached {
            token: t.access_token.clone(),
            expires_at: Utc::now().timestamp() + t.expires_in_secs,
        };
        self.store.set(
            &self.k("access_token"),
            &Secret::new(format!("{} {}", c.expires_at, c.token.expose())),
        )?;
        self.set_cache(Some(c.clone()));
        Ok(c)
    }

    fn set_cache(&self, c: Option<Cached>) {
        if let Ok(mut g) = self.cache.lock() {
            *g = c;
        }
    }

    fn cached(&self) -> Option<Cached> {
        self.cache.lock().ok().and_then(|g| g.clone())
    }

    /// The accounts server this account signs in at.
    pub fn accounts_server(&self) -> &str {
        &self.accounts_server
    }

    /// The API domain (`{api_domain}/crm/v8/...`); empty until the first refresh when it was
    /// not known at sign-in.
    pub fn api_domain(&self) -> String {
        if !self.api_domain.is_empty() {
            return self.api_domain.clone();
        }
        self.store
            .get(&self.k("api_domain"))
            .ok()
            .flatten()
            .map(|s| s.expose().to_string())
            .unwrap_or_default()
    }

    /// A valid access token: the cached one, or a fresh one minted once for all callers.
    pub async fn access_token(&self) -> Result<Secret> {
        let now = Utc::now().timestamp();
        if let Some(c) = self.cached() {
            if c.expires_at - ACCESS_MARGIN_SECS > now {
                return Ok(c.token);
            }
        }
        self.refresh(None).await
    }

    /// Mints a new access token unless another caller already replaced `rejected` (the token
    /// that got a 401) or the cached one is still fresh.
    pub async fn refresh(&self, rejected: Option<&Secret>) -> Result<Secret> {
        let _guard = self.refresh_lock.lock().await;
        let now = Utc::now().timestamp();
        if let Some(c) = self.cached() {
            let fresh = c.expires_at - ACCESS_MARGIN_SECS > now;
            let replaced = rejected.is_some_and(|r| r != &c.token);
            if (rejected.is_none() && fresh) || replaced {
                return Ok(c.token);
            }
        }
        let mut params = vec![
            ("grant_type", "refresh_token".to_string()),
            ("client_id", self.config.client_id.clone()),
            ("refresh_token", self.refresh_token.expose().to_string()),
        ];
        if let Some(s) = &self.config.client_secret {
            params.push(("client_secret", s.expose().to_string()));
        }
        tracing::debug!("minting a Zoho access token");
        let t = token_call(&self.http, &self.accounts_server, &params).await?;
        if let Some(api) = &t.api_domain {
            if self.api_domain.is_empty() {
                self.store
                    .set(&self.k("api_domain"), &Secret::new(api.clone()))?;
            }
        }
        Ok(self.store_access(&t)?.token)
    }

    /// Signs out: revokes the refresh token at Zoho (which kills its access tokens) and forgets
    /// everything in the secret store.
    pub async fn sign_out(&self) -> Result<()> {
        let url = format!("{}/oauth/v2/token/revoke", self.accounts_server);
        let res = self
            .http
            .post(&url)
            .query(&[("token", self.refresh_token.expose())])
            .send()
            .await;
        for n in [
            "refresh_token",
            "access_token",
            "api_domain",
            "accounts_server",
        ] {
            self.store.delete(&self.k(n))?;
        }
        self.set_cache(None);
        match res {
            Ok(r) if r.status().is_success() || r.status().as_u16() == 400 => Ok(()),
            Ok(r) => Err(Error::Transient(format!(
                "Zoho did not confirm the sign-out (HTTP {}); the local sign-in was removed",
                r.status().as_u16()
            ))),
            Err(_) => Err(Error::Transient(
                "Zoho could not be reached to revoke the token; the local sign-in was removed"
                    .into(),
            )),
        }
    }
}

async fn token_call(
    http: &reqwest::Client,
    accounts: &str,
    params: &[(&'static str, String)],
) -> Result<TokenResponse> {
    let url = format!("{}/oauth/v2/token", accounts.trim_end_matches('/'));
    let resp = http
        .post(&url)
        .form(params)
        .send()
        .await
        .map_err(|_| Error::Transient("Zoho accounts server could not be reached".into()))?;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    parse_token_response(status, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pkce_matches_rfc7636_example() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn token_shapes() {
        let t = parse_token_response(
            200,
            &json!({"access_token":"a","expires_in":3600,"api_domain":"https://www.zohoapis.eu"}),
        )
        .unwrap();
        assert_eq!(t.expires_in_secs, 3600);
        let t = parse_token_response(
            200,
            &json!({"access_token":"a","expires_in_sec":3600,"expires_in":3600000}),
        )
        .unwrap();
        assert_eq!(t.expires_in_secs, 3600);
        let t =
            parse_token_response(200, &json!({"access_token":"a","expires_in":3600000})).unwrap();
        assert_eq!(t.expires_in_secs, 3600);
    }

    #[test]
    fn token_errors_on_200() {
        let e = parse_token_response(200, &json!({"error_description":"You have made too many requests continuously. Please try again after some time.","error":"Access Denied","status":"failure"})).unwrap_err();
        assert!(
            matches!(&e, Error::Throttled(m) if m.contains("wait a few minutes") && m.contains("devices"))
        );
        let e = parse_token_response(200, &json!({"error":"invalid_code"})).unwrap_err();
        assert!(matches!(&e, Error::Auth(m) if m.contains("sign in to Zoho again")));
    }

    #[test]
    fn data_centres() {
        assert_eq!(
            DataCentre::Ca.accounts_url(),
            "https://accounts.zohocloud.ca"
        );
        assert_eq!(DataCentre::Cn.api_domain(), "https://www.zohoapis.com.cn");
        assert_eq!(DataCentre::from_location("eu"), Some(DataCentre::Eu));
        assert_eq!(DataCentre::KNOWN.len(), 8);
    }

    #[test]
    fn authorization_url_carries_everything() {
        let mut c = OAuthConfig::new("1000.X", 53682);
        c.scopes = vec!["A.b".into(), "C.d".into()];
        let r = authorization_url(&c).unwrap();
        let q: std::collections::HashMap<_, _> = r.url.query_pairs().into_owned().collect();
        assert_eq!(q["scope"], "A.b,C.d");
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:53682/callback");
        assert_eq!(q["state"], r.state);
        assert!(r
            .url
            .as_str()
            .starts_with("https://accounts.zoho.com/oauth/v2/auth?"));
    }

    #[test]
    fn redirect_checks_state() {
        let u = Url::parse("http://127.0.0.1:1/callback?state=s&code=c&location=eu&accounts-server=https%3A%2F%2Faccounts.zoho.eu").unwrap();
        let r = Redirect::from_url(&u, "s").unwrap();
        assert_eq!(
            r.accounts_server.as_deref(),
            Some("https://accounts.zoho.eu")
        );
        assert!(Redirect::from_url(&u, "other").is_err());
    }
}
