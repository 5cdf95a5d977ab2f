//! Sign-in to the Microsoft identity platform (v2): authorization code + PKCE on a loopback
//! redirect, the device-code flow, refresh-token rotation, and host-provided access tokens.
//!
//! The access token is cached in memory and in the [`SecretStore`] so a restarted process does not
//! mint a new one; one refresh serves every concurrent caller (they queue on one async mutex and
//! find the fresh token when they get it).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use crmsync_core::{AccessTokenProvider, Secret, SecretStore};
use rand::RngCore as _;
use serde::Deserialize;
use sha2::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::error::{Error, Result};

/// The scopes crmsync asks for (short names mean Microsoft Graph).
pub const SCOPES: &[&str] = &[
    "Contacts.ReadWrite",
    "Tasks.ReadWrite",
    "Calendars.ReadWrite",
    "MailboxSettings.ReadWrite",
    "User.Read",
    "offline_access",
];

/// The public authority of the Microsoft identity platform.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// A sleep function, injectable so tests do not wait real seconds.
pub type Sleeper = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The sleeper that waits on the tokio timer.
pub fn tokio_sleeper() -> Sleeper {
    Arc::new(|d| Box::pin(tokio::time::sleep(d)))
}

/// Where and as whom to sign in.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The authority base (`https://login.microsoftonline.com`, a sovereign cloud, the emulator).
    pub authority: String,
    /// `common`, `organizations`, `consumers`, or a tenant GUID / domain.
    pub tenant: String,
    /// The app registration's client id (a public client: no secret).
    pub client_id: String,
    /// The scopes to request.
    pub scopes: Vec<String>,
    /// Prefix of the keys under which secrets are kept in the [`SecretStore`].
    pub key_prefix: String,
}

impl AuthConfig {
    /// A configuration for `client_id` on the public authority and the `common` tenant.
    pub fn new(client_id: impl Into<String>) -> AuthConfig {
        AuthConfig {
            authority: DEFAULT_AUTHORITY.into(),
            tenant: "common".into(),
            client_id: client_id.into(),
            scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
            key_prefix: "crmsync.outlook".into(),
        }
    }

    fn endpoint(&self, name: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/{name}",
            self.authority.trim_end_matches('/'),
            self.tenant
        )
    }

    fn scope(&self) -> String {
        self.scopes.join(" ")
    }
}

/// A PKCE verifier and its S256 challenge.
#[derive(Clone)]
pub struct Pkce {
    /// The verifier (sent with the token request).
    pub verifier: Secret,
    /// `BASE64URL(SHA256(verifier))`.
    pub challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pkce([redacted])")
    }
}

impl Pkce {
    /// A fresh random verifier (43 characters of base64url, 256 bits).
    pub fn generate() -> Pkce {
        let verifier = random_token();
        Pkce::from_verifier(&verifier)
    }

    /// The challenge of a given verifier.
    pub fn from_verifier(verifier: &str) -> Pkce {
        let digest = sha2::Sha256::digest(verifier.as_bytes());
        Pkce {
            verifier: Secret::new(verifier),
            challenge: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
        }
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A pending device-code sign-in: show `message` (or `user_code` and `verification_uri`).
#[derive(Clone)]
pub struct DeviceCode {
    /// The code the user types.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// The server's sentence for the user.
    pub message: String,
    /// Poll interval, seconds.
    pub interval: u64,
    /// Lifetime, seconds.
    pub expires_in: u64,
    device_code: Secret,
}

impl std::fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCode")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("interval", &self.interval)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
}

#[derive(Deserialize)]
struct DeviceCodeResponse {
    device_code: String,
    user_code: String,
    verification_uri: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    interval: Option<u64>,
    #[serde(default)]
    expires_in: Option<u64>,
}

enum Source {
    OAuth {
        config: AuthConfig,
        store: Arc<dyn SecretStore>,
    },
    Host {
        provider: Arc<dyn AccessTokenProvider>,
        scopes: Vec<String>,
    },
}

#[derive(Clone)]
struct Cached {
    token: Secret,
    expires_at: i64,
}

/// The access-token source of a Graph client.
pub struct Auth {
    http: reqwest::Client,
    source: Source,
    cache: tokio::sync::Mutex<Option<Cached>>,
    sleeper: Sleeper,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth([redacted])")
    }
}

/// Seconds before expiry at which a cached token is considered stale.
const EXPIRY_MARGIN_SECS: i64 = 120;

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Auth {
    /// Tokens from the Microsoft identity platform, with secrets kept in `store`.
    pub fn oauth(config: AuthConfig, store: Arc<dyn SecretStore>) -> Auth {
        Auth {
            http: http_client(),
            source: Source::OAuth { config, store },
            cache: tokio::sync::Mutex::new(None),
            sleeper: tokio_sleeper(),
        }
    }

    /// Tokens handed in by the host app (MSAL on the Mac).
    pub fn host(provider: Arc<dyn AccessTokenProvider>) -> Auth {
        Auth {
            http: http_client(),
            source: Source::Host {
                provider,
                scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
            },
            cache: tokio::sync::Mutex::new(None),
            sleeper: tokio_sleeper(),
        }
    }

    /// Replaces the sleep used between device-code polls (tests advance a fake clock instead).
    pub fn with_sleeper(mut self, sleeper: Sleeper) -> Auth {
        self.sleeper = sleeper;
        self
    }

    fn oauth_parts(&self) -> Result<(&AuthConfig, &Arc<dyn SecretStore>)> {
        match &self.source {
            Source::OAuth { config, store } => Ok((config, store)),
            Source::Host { .. } => Err(Error::Auth(
                "this client uses tokens from the host app; sign in there".into(),
            )),
        }
    }

    fn key(&self, name: &str) -> String {
        match &self.source {
            Source::OAuth { config, .. } => format!("{}.{name}", config.key_prefix),
            Source::Host { .. } => name.to_string(),
        }
    }

    /// Whether a refresh token is stored (the user stays signed in).
    pub fn is_signed_in(&self) -> bool {
        match &self.source {
            Source::OAuth { store, .. } => {
                matches!(store.get(&self.key("refresh_token")), Ok(Some(_)))
            }
            Source::Host { .. } => true,
        }
    }

    /// The browser URL of an authorization-code request with PKCE.
    pub fn authorize_url(&self, redirect_uri: &str, pkce: &Pkce, state: &str) -> Result<String> {
        let (config, _) = self.oauth_parts()?;
        let mut url = url::Url::parse(&config.endpoint("authorize"))
            .map_err(|_| Error::Config("the authority is not a valid URL".into()))?;
        url.query_pairs_mut()
            .append_pair("client_id", &config.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_mode", "query")
            .append_pair("scope", &config.scope())
            .append_pair("state", state)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url.to_string())
    }

    /// Interactive sign-in: binds a listener on `127.0.0.1` (port chosen by the system, or
    /// `port`), calls `open_browser` with the authorization URL (redirect
    /// `http://localhost:{port}`), waits for the redirect, checks `state` and redeems the code.
    pub async fn sign_in_loopback<F, Fut>(&self, port: u16, open_browser: F) -> Result<()>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = ()>,
    {
        let (config, _) = self.oauth_parts()?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| Error::Config(format!("cannot listen for the sign-in redirect: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot listen for the sign-in redirect: {e}")))?
            .port();
        // The `localhost` host lets any port match the registered `http://localhost` redirect.
        let redirect_uri = format!("http://localhost:{port}");
        let pkce = Pkce::generate();
        let state = random_token();
        let url = self.authorize_url(&redirect_uri, &pkce, &state)?;
        let browser = open_browser(url);
        let wait = wait_for_redirect(&listener, &state);
        let (_, code) = futures::future::join(browser, wait).await;
        let code = code?;
        let form = [
            ("client_id", config.client_id.as_str()),
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", pkce.verifier.expose()),
            ("scope", &config.scope()),
        ];
        let tokens = self.token_request(&form).await?;
        self.store_tokens(tokens).await
    }

    /// Completes a browser sign-in whose redirect the host caught itself (a Mac app's own
    /// loopback listener or URL scheme): checks `state`, then redeems the code with the PKCE
    /// verifier the authorization URL was made with ([`Auth::authorize_url`]).
    pub async fn complete_authorization(
        &self,
        redirect_uri: &str,
        pkce: &Pkce,
        expected_state: &str,
        redirect_url: &str,
    ) -> Result<()> {
        let (config, _) = self.oauth_parts()?;
        let url = url::Url::parse(redirect_url)
            .map_err(|_| Error::Config("the sign-in redirect is not a URL".into()))?;
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        if q.get("state").map(String::as_str) != Some(expected_state) {
            return Err(Error::Auth(
                "the sign-in redirect does not belong to this sign-in; start again".into(),
            ));
        }
        if let Some(err) = q.get("error") {
            return Err(Error::Auth(format!("the sign-in was refused ({err})")));
        }
        let code = q
            .get("code")
            .ok_or_else(|| Error::Auth("the sign-in redirect carries no code".into()))?;
        let scope = config.scope();
        let form = [
            ("client_id", config.client_id.as_str()),
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", pkce.verifier.expose()),
            ("scope", scope.as_str()),
        ];
        let tokens = self.token_request(&form).await?;
        self.store_tokens(tokens).await
    }

    /// Starts a device-code sign-in.
    pub async fn start_device_code(&self) -> Result<DeviceCode> {
        let (config, _) = self.oauth_parts()?;
        let resp = self
            .http
            .post(config.endpoint("devicecode"))
            .form(&[
                ("client_id", config.client_id.as_str()),
                ("scope", &config.scope()),
            ])
            .send()
            .await
            .map_err(|e| Error::transport(&e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| Error::transport(&e))?;
        if !status.is_success() {
            let code = serde_json::from_slice::<OAuthError>(&body)
                .map(|e| e.error)
                .unwrap_or_default();
            return Err(Error::Auth(format!(
                "the device-code request was refused ({code})"
            )));
        }
        let d: DeviceCodeResponse = serde_json::from_slice(&body)
            .map_err(|_| Error::Protocol("unreadable device-code response".into()))?;
        Ok(DeviceCode {
            message: d.message.unwrap_or_else(|| {
                format!(
                    "To sign in, open {} and enter the code {}.",
                    d.verification_uri, d.user_code
                )
            }),
            user_code: d.user_code,
            verification_uri: d.verification_uri,
            interval: d.interval.unwrap_or(5).max(1),
            expires_in: d.expires_in.unwrap_or(900),
            device_code: Secret::new(d.device_code),
        })
    }

    /// Polls the token endpoint until the user finishes the device-code sign-in.
    pub async fn complete_device_code(&self, code: &DeviceCode) -> Result<()> {
        let (config, _) = self.oauth_parts()?;
        let mut interval = code.interval;
        let mut waited = 0u64;
        loop {
            (self.sleeper)(Duration::from_secs(interval)).await;
            waited += interval;
            let form = [
                ("client_id", config.client_id.as_str()),
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", code.device_code.expose()),
            ];
            match self.token_request(&form).await {
                Ok(tokens) => return self.store_tokens(tokens).await,
                Err(Error::OAuth(e)) => match e.as_str() {
                    "authorization_pending" => {}
                    // RFC 8628: add 5 seconds to the interval (Microsoft does not list it).
                    "slow_down" => interval += 5,
                    "authorization_declined" | "access_denied" => {
                        return Err(Error::Auth("the sign-in was declined".into()))
                    }
                    "expired_token" => {
                        return Err(Error::Auth(
                            "the device code expired; start the sign-in again".into(),
                        ))
                    }
                    other => {
                        return Err(Error::Auth(format!("the sign-in failed ({other})")));
                    }
                },
                Err(e) => return Err(e),
            }
            if waited > code.expires_in + 60 {
                return Err(Error::Auth(
                    "the device code expired; start the sign-in again".into(),
                ));
            }
        }
    }

    /// Forgets the stored tokens (sign-out).
    pub async fn sign_out(&self) -> Result<()> {
        *self.cache.lock().await = None;
        if let Source::OAuth { store, .. } = &self.source {
            for k in ["refresh_token", "access_token"] {
                store.delete(&self.key(k)).map_err(Error::secret)?;
            }
        }
        Ok(())
    }

    /// A valid access token. With `failed` (the token a request was refused with), a new one is
    /// obtained unless another caller already replaced it.
    pub async fn access_token(&self, failed: Option<&Secret>) -> Result<Secret> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            let stale = failed.is_some_and(|f| f == &c.token);
            if !stale && c.expires_at - EXPIRY_MARGIN_SECS > now_secs() {
                return Ok(c.token.clone());
            }
        }
        match &self.source {
            Source::Host { provider, scopes } => {
                let t = provider
                    .access_token(scopes, failed.is_some())
                    .map_err(|e| Error::Auth(format!("the host app gave no token: {}", e.0)))?;
                *cache = Some(Cached {
                    token: t.token.clone(),
                    expires_at: t.expires_at,
                });
                Ok(t.token)
            }
            Source::OAuth { config, store } => {
                if failed.is_none() && cache.is_none() {
                    if let Some(stored) = store
                        .get(&self.key("access_token"))
                        .map_err(Error::secret)?
                    {
                        if let Some((exp, tok)) = stored.expose().split_once(' ') {
                            let exp: i64 = exp.parse().unwrap_or(0);
                            if exp - EXPIRY_MARGIN_SECS > now_secs() {
                                let c = Cached {
                                    token: Secret::new(tok),
                                    expires_at: exp,
                                };
                                *cache = Some(c.clone());
                                return Ok(c.token);
                            }
                        }
                    }
                }
                let refresh = store
                    .get(&self.key("refresh_token"))
                    .map_err(Error::secret)?
                    .ok_or_else(|| Error::Auth("not signed in to Outlook; sign in first".into()))?;
                let form = [
                    ("client_id", config.client_id.as_str()),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.expose()),
                    ("scope", &config.scope()),
                ];
                let tokens = match self.token_request(&form).await {
                    Ok(t) => t,
                    Err(Error::OAuth(code)) => {
                        return Err(Error::Auth(format!(
                            "the Outlook sign-in is no longer valid ({code}); sign in again"
                        )))
                    }
                    Err(e) => return Err(e),
                };
                let c = self.persist(store.as_ref(), tokens)?;
                *cache = Some(c.clone());
                Ok(c.token)
            }
        }
    }

    async fn store_tokens(&self, tokens: TokenResponse) -> Result<()> {
        let (_, store) = self.oauth_parts()?;
        let c = self.persist(store.as_ref(), tokens)?;
        *self.cache.lock().await = Some(c);
        Ok(())
    }

    /// Stores a token response: the rotated refresh token replaces the old one.
    fn persist(&self, store: &dyn SecretStore, tokens: TokenResponse) -> Result<Cached> {
        let expires_at = now_secs() + tokens.expires_in.unwrap_or(3599);
        if let Some(rt) = tokens.refresh_token {
            store
                .set(&self.key("refresh_token"), &Secret::new(rt))
                .map_err(Error::secret)?;
        }
        store
            .set(
                &self.key("access_token"),
                &Secret::new(format!("{expires_at} {}", tokens.access_token)),
            )
            .map_err(Error::secret)?;
        Ok(Cached {
            token: Secret::new(tokens.access_token),
            expires_at,
        })
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenResponse> {
        let (config, _) = self.oauth_parts()?;
        let resp = self
            .http
            .post(config.endpoint("token"))
            .form(form)
            .send()
            .await
            .map_err(|e| Error::transport(&e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| Error::transport(&e))?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|_| Error::Protocol("unreadable token response".into()));
        }
        match serde_json::from_slice::<OAuthError>(&body) {
            Ok(e) if e.error == "temporarily_unavailable" => Err(Error::Transient(
                "the Microsoft sign-in service is temporarily unavailable".into(),
            )),
            Ok(e) => Err(Error::OAuth(e.error)),
            Err(_) if status.is_server_error() => Err(Error::Transient(format!(
                "the Microsoft sign-in service answered {status}"
            ))),
            Err(_) => Err(Error::Protocol(format!(
                "unreadable token error ({status})"
            ))),
        }
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

/// Waits for the browser's redirect on the loopback listener and returns the code.
///
/// A minimal hand-written HTTP/1 GET reader rather than a server framework: one request, only the
/// request line matters, and pulling axum/hyper-server into a client library for that would be
/// heavier than these few lines. Requests without our `state` (favicon fetches, strays) are
/// answered 400 and ignored.
async fn wait_for_redirect(listener: &tokio::net::TcpListener, state: &str) -> Result<Secret> {
    loop {
        let (mut sock, _) = listener
            .accept()
            .await
            .map_err(|e| Error::Config(format!("sign-in redirect listener failed: {e}")))?;
        let mut buf = Vec::with_capacity(2048);
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let text = String::from_utf8_lossy(&buf);
        let target = text
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("/");
        let url = url::Url::parse(&format!("http://localhost{target}")).ok();
        let q: std::collections::HashMap<String, String> = url
            .map(|u| u.query_pairs().into_owned().collect())
            .unwrap_or_default();
        if q.get("state").map(String::as_str) != Some(state) {
            reply(&mut sock, "400 Bad Request", "Unexpected request.").await;
            continue;
        }
        if let Some(err) = q.get("error") {
            reply(
                &mut sock,
                "200 OK",
                "Sign-in was not completed. You can close this window.",
            )
            .await;
            return Err(Error::Auth(format!("the sign-in was refused ({err})")));
        }
        match q.get("code") {
            Some(code) => {
                reply(
                    &mut sock,
                    "200 OK",
                    "Signed in to Outlook. You can close this window.",
                )
                .await;
                return Ok(Secret::new(code.clone()));
            }
            None => {
                reply(&mut sock, "400 Bad Request", "No authorization code.").await;
            }
        }
    }
}

async fn reply(sock: &mut tokio::net::TcpStream, status: &str, msg: &str) {
    let body = format!("<html><body><p>{msg}</p></body></html>");
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(resp.as_bytes()).await;
    let _ = sock.shutdown().await;
}
