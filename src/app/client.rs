//! [`SyncClient`]: everything a host does, as async methods over one home directory.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crmsync_core::{
    AccessTokenProvider, CancelToken, Connector, Container, Engine, Kind, QueuedConflict, Secret,
    SecretStore, Side, StateStore, SyncObserver, SyncOptions, SyncOutcome, SyncReport,
};
use crmsync_store::SqliteStore;
use crmsync_zoho::auth::{authorization_url, DataCentre, LoopbackListener, OAuthConfig, ZohoAuth};
use crmsync_zoho::{ZohoConnector, ZohoOptions};
use serde::Serialize;

use super::config::{AppConfig, FileConfig};
use super::error::{AppError, Result};
use super::lock::StateLock;
use super::secrets;

/// Secret-store key of the optional Zoho client secret.
pub const ZOHO_CLIENT_SECRET_KEY: &str = "crmsync.zoho.client_secret";
const ZOHO_PREFIX: &str = "crmsync.zoho";

/// How long a browser sign-in waits for the redirect.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

/// A signed-in account, as `whoami` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Which service.
    pub service: Side,
    /// The user id at the service (empty when it could not be reached).
    pub user_id: String,
    /// Where its API lives.
    pub api: String,
    /// Set when the stored sign-in did not work.
    pub problem: Option<String>,
}

/// Whether a side has a stored cursor for its current scope (incremental next) or not (a full
/// listing next), and how many pairs are linked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindStatus {
    /// The kind.
    pub kind: Kind,
    /// Whether it syncs.
    pub enabled: bool,
    /// Linked pairs.
    pub mapped: usize,
    /// Zoho has a cursor for the current scope.
    pub zoho_cursor: bool,
    /// Outlook has a cursor for the current scope.
    pub outlook_cursor: bool,
}

/// What `status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The home directory.
    pub home: String,
    /// Where secrets are kept (`keyring` or `file`).
    pub secret_store: &'static str,
    /// Services with a stored sign-in.
    pub signed_in: Vec<Side>,
    /// Per kind.
    pub kinds: Vec<KindStatus>,
    /// Conflicts waiting for the user.
    pub pending_conflicts: usize,
    /// Conflicts resolved, applied at the next sync.
    pub resolved_conflicts: usize,
    /// The last run.
    pub last_run: Option<SyncReport>,
}

/// One home directory's settings, secrets and state, and the services built from them.
///
/// API Boundary: the CLI and the FFI both wrap this object; nothing here prints.
pub struct SyncClient {
    config: AppConfig,
    file: Mutex<FileConfig>,
    secrets: Arc<dyn SecretStore>,
    secret_backend: &'static str,
    secret_warning: Option<String>,
    store: Arc<SqliteStore>,
    /// Connectors kept between calls of a long-lived host (the FFI, the demo): connecting costs
    /// requests, and a connector remembers what it learnt (To Do sync ids, default folders).
    /// Cleared by every sign-in, sign-out and settings change.
    connectors: Mutex<Connectors>,
    /// Host-provided Outlook access tokens, when the host signs in itself.
    outlook_tokens: Mutex<Option<Arc<dyn AccessTokenProvider>>>,
}

#[derive(Default)]
struct Connectors {
    zoho: Option<Arc<ZohoConnector>>,
    outlook: Option<Arc<dyn Connector>>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient")
            .field("home", &self.config.home)
            .field("secret_store", &self.secret_backend)
            .finish_non_exhaustive()
    }
}

impl SyncClient {
    /// Opens (creating when missing) the home directory, its settings file, secret store and
    /// state database.
    pub fn open(config: AppConfig) -> Result<SyncClient> {
        Self::create_home(&config)?;
        let file = FileConfig::load(&config.settings_path())?;
        let backend = config.overrides.secret_store.unwrap_or(file.secrets.store);
        let opened = secrets::open(&config.home, backend)?;
        Self::assemble(config, file, opened)
    }

    /// Opens a home directory with a secret store the host supplies (the Keychain through the
    /// FFI's foreign trait) instead of the keychain/file choice.
    pub fn open_with_secrets(
        config: AppConfig,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<SyncClient> {
        Self::create_home(&config)?;
        let file = FileConfig::load(&config.settings_path())?;
        Self::assemble(
            config,
            file,
            secrets::OpenedSecrets {
                store: secrets,
                backend: "host",
                warning: None,
            },
        )
    }

    fn create_home(config: &AppConfig) -> Result<()> {
        std::fs::create_dir_all(&config.home).map_err(|e| {
            AppError::Io(format!(
                "cannot create the home directory {}: {e}",
                config.home.display()
            ))
        })
    }

    fn assemble(
        config: AppConfig,
        file: FileConfig,
        opened: secrets::OpenedSecrets,
    ) -> Result<SyncClient> {
        let store = Arc::new(SqliteStore::open(config.state_path())?);
        Ok(SyncClient {
            config,
            file: Mutex::new(file),
            secrets: opened.store,
            secret_backend: opened.backend,
            secret_warning: opened.warning,
            store,
            connectors: Mutex::new(Connectors::default()),
            outlook_tokens: Mutex::new(None),
        })
    }

    /// Makes the Outlook side use access tokens from the host (MSAL in the Mac app) instead of
    /// this client's own sign-in; `None` goes back to the stored sign-in.
    pub fn set_outlook_token_provider(&self, provider: Option<Arc<dyn AccessTokenProvider>>) {
        if let Ok(mut p) = self.outlook_tokens.lock() {
            *p = provider;
        }
        self.drop_connectors();
    }

    pub(crate) fn outlook_token_provider(&self) -> Option<Arc<dyn AccessTokenProvider>> {
        self.outlook_tokens.lock().ok().and_then(|p| p.clone())
    }

    /// The configuration this client was opened with.
    pub fn app_config(&self) -> &AppConfig {
        &self.config
    }

    /// Why the file secret store is used, when it is a fallback (show it to the user).
    pub fn secret_warning(&self) -> Option<&str> {
        self.secret_warning.as_deref()
    }

    /// The secret store in use.
    pub fn secrets(&self) -> &Arc<dyn SecretStore> {
        &self.secrets
    }

    /// The state store.
    pub fn state(&self) -> &Arc<SqliteStore> {
        &self.store
    }

    /// The settings file as loaded (with edits made through this client).
    pub fn file_config(&self) -> FileConfig {
        self.file.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Sets one setting (`KEY VALUE`, see [`FileConfig::set`]) and saves the file.
    pub fn set(&self, key: &str, value: &str) -> Result<()> {
        let mut f = self
            .file
            .lock()
            .map_err(|_| AppError::Io("settings lock poisoned".into()))?;
        let mut next = f.clone();
        next.set(key, value)?;
        next.save(&self.config.settings_path())?;
        *f = next;
        self.drop_connectors();
        Ok(())
    }

    /// Forgets the cached connectors (after a sign-in, sign-out or settings change).
    pub fn drop_connectors(&self) {
        if let Ok(mut c) = self.connectors.lock() {
            *c = Connectors::default();
        }
    }

    /// Reads one setting.
    pub fn get(&self, key: &str) -> Result<String> {
        self.file_config().get(key)
    }

    // ---- Zoho ---------------------------------------------------------------------------

    /// The Zoho accounts server: the environment override, the file's, or the data centre's.
    pub fn zoho_accounts_url(&self) -> String {
        let f = self.file_config();
        self.config
            .overrides
            .zoho_accounts_url
            .clone()
            .or(f.zoho.accounts_url)
            .unwrap_or_else(|| {
                DataCentre::from_location(&f.zoho.dc)
                    .unwrap_or(DataCentre::Us)
                    .accounts_url()
            })
    }

    fn zoho_api_override(&self) -> Option<String> {
        self.config
            .overrides
            .zoho_api_url
            .clone()
            .or(self.file_config().zoho.api_url)
    }

    fn zoho_oauth(&self) -> Result<OAuthConfig> {
        let f = self.file_config();
        let client_id = f.zoho.client_id.ok_or_else(|| {
            AppError::Config(
                "no Zoho OAuth client id; register a client at https://api-console.zoho.com and run `crmsync config set zoho.client_id ID` (or pass --client-id)"
                    .into(),
            )
        })?;
        let mut c = OAuthConfig::new(client_id, f.zoho.redirect_port);
        c.sign_in_accounts = self.zoho_accounts_url();
        c.client_secret = self.secrets.get(ZOHO_CLIENT_SECRET_KEY)?;
        c.secret_prefix = ZOHO_PREFIX.into();
        Ok(c)
    }

    /// Keeps the Zoho client secret (confidential clients) in the secret store.
    pub fn set_zoho_client_secret(&self, secret: Option<&Secret>) -> Result<()> {
        match secret {
            Some(s) => self.secrets.set(ZOHO_CLIENT_SECRET_KEY, s)?,
            None => self.secrets.delete(ZOHO_CLIENT_SECRET_KEY)?,
        }
        Ok(())
    }

    fn forget_zoho(&self) {
        for n in [
            "refresh_token",
            "access_token",
            "api_domain",
            "accounts_server",
        ] {
            let _ = self.secrets.delete(&format!("{ZOHO_PREFIX}.{n}"));
        }
    }

    async fn verify_zoho(&self, auth: ZohoAuth) -> Result<Account> {
        self.drop_connectors();
        match ZohoConnector::connect(Arc::new(auth), self.zoho_options()).await {
            Ok(c) => Ok(Account {
                service: Side::Zoho,
                user_id: c.user_id().to_string(),
                api: self.zoho_api_domain(),
                problem: None,
            }),
            Err(e) => {
                self.forget_zoho();
                Err(e.into())
            }
        }
    }

    fn zoho_api_domain(&self) -> String {
        self.secrets
            .get(&format!("{ZOHO_PREFIX}.api_domain"))
            .ok()
            .flatten()
            .map(|s| s.expose().to_string())
            .unwrap_or_default()
    }

    /// Self-client / server sign-in with a refresh token.
    pub async fn login_zoho_refresh_token(&self, token: Secret) -> Result<Account> {
        let cfg = self.zoho_oauth()?;
        let accounts = self.zoho_accounts_url();
        let api = self.zoho_api_override();
        let auth = ZohoAuth::from_refresh_token(
            cfg,
            self.secrets.clone(),
            &accounts,
            token,
            api.as_deref(),
        )?;
        self.verify_zoho(auth).await
    }

    /// Self-client sign-in with a grant code from Zoho's API console.
    pub async fn login_zoho_grant_code(&self, code: Secret) -> Result<Account> {
        let cfg = self.zoho_oauth()?;
        let accounts = self.zoho_accounts_url();
        let auth = ZohoAuth::from_grant_code(cfg, self.secrets.clone(), &accounts, &code).await?;
        self.verify_zoho(auth).await
    }

    /// Browser sign-in with PKCE: listens on the loopback redirect, hands the authorization
    /// URL to `open_browser` (which opens a browser, or prints the URL), waits for the redirect
    /// and exchanges the code at the user's data centre.
    pub async fn login_zoho_browser<F, Fut>(&self, open_browser: F) -> Result<Account>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mut cfg = self.zoho_oauth()?;
        let listener = LoopbackListener::bind(cfg.redirect_port).await?;
        cfg.redirect_port = listener.port()?;
        let req = authorization_url(&cfg)?;
        // The browser step and the wait run together: a scripted browser (tests, the demo)
        // only finishes once the redirect was answered.
        let wait = tokio::time::timeout(BROWSER_TIMEOUT, listener.accept(&req.state));
        let ((), redirect) = tokio::join!(open_browser(req.url.to_string()), wait);
        let redirect = redirect.map_err(|_| {
            AppError::SignIn(
                "no answer from the browser within 5 minutes; run `crmsync login zoho` again"
                    .into(),
            )
        })??;
        let auth = ZohoAuth::exchange_code(cfg, self.secrets.clone(), &redirect, &req.pkce).await?;
        self.verify_zoho(auth).await
    }

    fn zoho_options(&self) -> ZohoOptions {
        ZohoOptions {
            sync_id_field: self.file_config().zoho.sync_id_field,
            ..ZohoOptions::default()
        }
    }

    /// The Zoho connector of the stored sign-in.
    pub async fn zoho(&self) -> Result<Arc<ZohoConnector>> {
        if let Some(c) = self.connectors.lock().ok().and_then(|c| c.zoho.clone()) {
            return Ok(c);
        }
        let auth = ZohoAuth::restore(self.zoho_oauth_for_restore(), self.secrets.clone())?;
        let c = Arc::new(ZohoConnector::connect(Arc::new(auth), self.zoho_options()).await?);
        if let Ok(mut g) = self.connectors.lock() {
            g.zoho = Some(c.clone());
        }
        Ok(c)
    }

    /// Restoring a sign-in needs no client id from the file when it is missing there (a host
    /// that signed in with an explicit one): refreshes then fail with a clear message.
    fn zoho_oauth_for_restore(&self) -> OAuthConfig {
        self.zoho_oauth().unwrap_or_else(|_| {
            let mut c = OAuthConfig::new("", self.file_config().zoho.redirect_port);
            c.sign_in_accounts = self.zoho_accounts_url();
            c.secret_prefix = ZOHO_PREFIX.into();
            c
        })
    }

    // ---- Outlook -------------------------------------------------------------------------

    /// Sign-in with a Microsoft refresh token.
    pub async fn login_outlook_refresh_token(&self, token: Secret) -> Result<Account> {
        super::outlook::login_refresh_token(self, token).await
    }

    /// Device-code sign-in: `show` gets the sentence telling the user where to enter the code.
    pub async fn login_outlook_device_code<F, Fut>(&self, show: F) -> Result<Account>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        super::outlook::login_device_code(self, show).await
    }

    /// Browser sign-in with PKCE on a loopback redirect.
    pub async fn login_outlook_browser<F, Fut>(&self, open_browser: F) -> Result<Account>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        super::outlook::login_browser(self, open_browser).await
    }

    /// The Outlook connector of the stored sign-in.
    pub async fn outlook(&self) -> Result<Arc<dyn Connector>> {
        if let Some(c) = self.connectors.lock().ok().and_then(|c| c.outlook.clone()) {
            return Ok(c);
        }
        let c = super::outlook::connector(self).await?;
        if let Ok(mut g) = self.connectors.lock() {
            g.outlook = Some(c.clone());
        }
        Ok(c)
    }

    // ---- Both ----------------------------------------------------------------------------

    /// Whether a sign-in is stored for a service (no network).
    pub fn is_signed_in(&self, service: Side) -> bool {
        let key = match service {
            Side::Zoho => format!("{ZOHO_PREFIX}.refresh_token"),
            Side::Outlook => {
                if self.outlook_token_provider().is_some() {
                    return true;
                }
                super::outlook::REFRESH_TOKEN_KEY.to_string()
            }
        };
        matches!(self.secrets.get(&key), Ok(Some(_)))
    }

    /// Signs out of a service: revokes its token where the service allows it and forgets the
    /// stored tokens.
    pub async fn logout(&self, service: Side) -> Result<()> {
        self.drop_connectors();
        match service {
            Side::Zoho => {
                let r = match ZohoAuth::restore(self.zoho_oauth_for_restore(), self.secrets.clone())
                {
                    Ok(auth) => auth.sign_out().await.map_err(AppError::from),
                    Err(_) => Ok(()),
                };
                self.forget_zoho();
                r
            }
            Side::Outlook => super::outlook::logout(self).await,
        }
    }

    /// The signed-in accounts, checked against the services.
    pub async fn whoami(&self) -> Vec<Account> {
        let mut out = vec![];
        if self.is_signed_in(Side::Zoho) {
            out.push(match self.zoho().await {
                Ok(c) => Account {
                    service: Side::Zoho,
                    user_id: c.user_id().to_string(),
                    api: self.zoho_api_domain(),
                    problem: None,
                },
                Err(e) => Account {
                    service: Side::Zoho,
                    user_id: String::new(),
                    api: self.zoho_api_domain(),
                    problem: Some(e.to_string()),
                },
            });
        }
        if self.is_signed_in(Side::Outlook) {
            out.push(super::outlook::whoami(self).await);
        }
        out
    }

    /// The Outlook folders / To Do lists / calendars a kind can sync with.
    pub async fn containers(&self, kind: Kind) -> Result<Vec<Container>> {
        Ok(self.outlook().await?.containers(kind).await?)
    }

    /// The Outlook master categories.
    pub async fn categories(&self) -> Result<Vec<String>> {
        Ok(self.outlook().await?.categories().await?)
    }

    /// Runs a sync under the state directory's lock. `opts.force` proceeds past the
    /// mass-delete guard.
    pub async fn sync(
        &self,
        opts: &SyncOptions,
        observer: Option<Arc<dyn SyncObserver>>,
        cancel: CancelToken,
    ) -> Result<SyncOutcome> {
        let _lock = StateLock::acquire(&self.config.home)?;
        let settings = self.file_config().sync;
        settings.validate()?;
        let zoho: Arc<dyn Connector> = self.zoho().await?;
        let outlook = self.outlook().await?;
        let store: Arc<dyn StateStore> = self.store.clone();
        let mut engine = Engine::new(zoho, outlook, store).with_cancel(cancel);
        if let Some(o) = observer {
            engine = engine.with_observer(o);
        }
        Ok(engine.sync(&settings, opts, chrono::Utc::now()).await?)
    }

    /// Queued conflicts.
    pub fn conflicts(&self) -> Result<Vec<QueuedConflict>> {
        Ok(self.store.conflicts(None)?)
    }

    /// Picks a side for a queued conflict; applied at the next sync.
    pub fn resolve_conflict(&self, id: i64, winner: Side) -> Result<()> {
        Ok(self.store.resolve_conflict(id, winner)?)
    }

    /// The latest runs, newest first.
    pub fn history(&self, limit: usize) -> Result<Vec<SyncReport>> {
        Ok(self.store.history(limit)?)
    }

    /// Last run, cursors, conflicts and sign-ins (no network).
    pub fn status(&self) -> Result<Status> {
        let settings = self.file_config().sync;
        let mut kinds = vec![];
        for kind in Kind::ALL {
            let ks = settings.kind(kind);
            let has = |side: Side| -> Result<bool> {
                Ok(self
                    .store
                    .cursor(kind, side, &ks.scope_fingerprint(kind, side))?
                    .is_some())
            };
            kinds.push(KindStatus {
                kind,
                enabled: ks.enabled,
                mapped: self.store.mapping_count(kind)?,
                zoho_cursor: has(Side::Zoho)?,
                outlook_cursor: has(Side::Outlook)?,
            });
        }
        let conflicts = self.store.conflicts(None)?;
        Ok(Status {
            home: self.config.home.display().to_string(),
            secret_store: self.secret_backend,
            signed_in: Side::BOTH
                .into_iter()
                .filter(|s| self.is_signed_in(*s))
                .collect(),
            kinds,
            pending_conflicts: conflicts.iter().filter(|c| c.resolution.is_none()).count(),
            resolved_conflicts: conflicts.iter().filter(|c| c.resolution.is_some()).count(),
            last_run: self.store.history(1)?.into_iter().next(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_send<T: Send>(_: &T) {}

    /// The FFI runs these futures on a multi-threaded runtime: they must stay `Send`.
    #[test]
    fn host_futures_are_send() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = AppConfig::new(dir.path());
        config.overrides.secret_store = Some(super::super::SecretBackend::File);
        let c = SyncClient::open(config).unwrap();
        is_send(&c.sync(&SyncOptions::default(), None, CancelToken::new()));
        is_send(&c.whoami());
        is_send(&c.containers(Kind::Contact));
        is_send(&c.login_zoho_refresh_token(Secret::new("x")));
        is_send(&c.login_zoho_browser(|_| async {}));
        is_send(&c.login_outlook_browser(|_| async {}));
        is_send(&c.login_outlook_device_code(|_| async {}));
        is_send(&c.logout(Side::Zoho));
        let status = c.status().unwrap();
        assert!(status.last_run.is_none());
        assert_eq!(status.secret_store, "file");
    }
}
