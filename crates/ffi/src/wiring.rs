//! TEMPORARY ADAPTER — to be replaced by `crmsync::app` (the host-agnostic wiring the CLI
//! shares) as soon as it lands on main.
//!
//! It holds what `SyncClient` needs and nothing the app module will not own: the home directory
//! (settings as JSON, SQLite state), the secret store, the Zoho and Outlook sign-ins and
//! connectors built from configuration, one sync at a time, and the engine call. There is no
//! sync logic here: every decision is the core's.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crmsync_core as core;
use crmsync_core::{CancelToken, Connector, Engine, Secret, StateStore, SyncOptions};
use crmsync_outlook::{Auth, AuthConfig, DeviceCode, OutlookConnector, OutlookOptions, Pkce};
use crmsync_store::SqliteStore;
use crmsync_zoho::auth::{
    authorization_url, AuthorizationRequest, OAuthConfig, Redirect, ZohoAuth,
};
use crmsync_zoho::{ZohoConnector, ZohoOptions};

use crate::error::CrmSyncError;

/// What the wiring is built from (the FFI's `ClientConfig`, already checked).
#[derive(Debug, Clone)]
pub(crate) struct WiringConfig {
    pub home: PathBuf,
    pub zoho_client_id: String,
    pub zoho_client_secret: Option<Secret>,
    pub zoho_redirect_port: u16,
    pub zoho_accounts_url: Option<String>,
    pub outlook_client_id: String,
    pub outlook_tenant: Option<String>,
    pub outlook_login_url: Option<String>,
    pub graph_url: Option<String>,
}

/// Where the Outlook side comes from.
#[derive(Clone)]
enum OutlookSource {
    /// crmsync's own Graph connector, signed in by OAuth or a host token provider.
    Graph(Arc<Auth>),
    /// A connector written by the host.
    Host(Arc<dyn Connector>),
}

struct ZohoSession {
    auth: Arc<ZohoAuth>,
    connector: Arc<ZohoConnector>,
}

struct OutlookPending {
    redirect_uri: String,
    pkce: Pkce,
    state: String,
}

/// The Zoho account that is signed in.
pub(crate) struct ZohoWho {
    pub user_id: String,
    pub time_zone: String,
}

pub(crate) struct Wiring {
    cfg: WiringConfig,
    secrets: Arc<dyn core::SecretStore>,
    store: Arc<SqliteStore>,
    settings: Mutex<core::Settings>,
    zoho: tokio::sync::Mutex<Option<ZohoSession>>,
    zoho_pending: Mutex<Option<AuthorizationRequest>>,
    outlook: Mutex<OutlookSource>,
    outlook_pending: Mutex<Option<OutlookPending>>,
    device: Mutex<Option<DeviceCode>>,
    running: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another call panicked mid-update of plain data: keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

const SETTINGS_FILE: &str = "settings.json";
const STATE_FILE: &str = "state.db";

impl Wiring {
    pub(crate) fn open(
        cfg: WiringConfig,
        secrets: Arc<dyn core::SecretStore>,
    ) -> Result<Wiring, CrmSyncError> {
        std::fs::create_dir_all(&cfg.home)?;
        let store = Arc::new(SqliteStore::open(cfg.home.join(STATE_FILE))?);
        let settings = match std::fs::read_to_string(cfg.home.join(SETTINGS_FILE)) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| CrmSyncError::Storage {
                reason: format!("the settings file cannot be read ({e}); fix or delete it"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => core::Settings::default(),
            Err(e) => return Err(e.into()),
        };
        let auth = Arc::new(Auth::oauth(outlook_auth_config(&cfg), Arc::clone(&secrets)));
        Ok(Wiring {
            cfg,
            secrets,
            store,
            settings: Mutex::new(settings),
            zoho: tokio::sync::Mutex::new(None),
            zoho_pending: Mutex::new(None),
            outlook: Mutex::new(OutlookSource::Graph(auth)),
            outlook_pending: Mutex::new(None),
            device: Mutex::new(None),
            running: tokio::sync::Mutex::new(()),
        })
    }

    fn zoho_config(&self) -> OAuthConfig {
        let mut c = OAuthConfig::new(self.cfg.zoho_client_id.clone(), self.cfg.zoho_redirect_port);
        c.client_secret = self.cfg.zoho_client_secret.clone();
        if let Some(a) = &self.cfg.zoho_accounts_url {
            c.sign_in_accounts = a.trim_end_matches('/').to_string();
        }
        c
    }

    // ---- Zoho sign-in ----

    pub(crate) fn zoho_authorization_url(&self) -> Result<String, CrmSyncError> {
        let req = authorization_url(&self.zoho_config())?;
        let url = req.url.to_string();
        *lock(&self.zoho_pending) = Some(req);
        Ok(url)
    }

    pub(crate) async fn complete_zoho_sign_in(
        &self,
        redirect_url: &str,
    ) -> Result<(), CrmSyncError> {
        let pending = lock(&self.zoho_pending).take().ok_or_else(|| {
            CrmSyncError::invalid(
                "no Zoho sign-in is under way; ask for the authorization URL first",
            )
        })?;
        let url = url::Url::parse(redirect_url)
            .map_err(|_| CrmSyncError::invalid("the Zoho redirect is not a URL"))?;
        let redirect = Redirect::from_url(&url, &pending.state)?;
        let auth = ZohoAuth::exchange_code(
            self.zoho_config(),
            Arc::clone(&self.secrets),
            &redirect,
            &pending.pkce,
        )
        .await?;
        self.connect_zoho(auth).await
    }

    pub(crate) async fn zoho_sign_in_with_refresh_token(
        &self,
        refresh_token: String,
        accounts_server: Option<String>,
    ) -> Result<(), CrmSyncError> {
        let cfg = self.zoho_config();
        let accounts = accounts_server.unwrap_or_else(|| cfg.sign_in_accounts.clone());
        let auth = ZohoAuth::from_refresh_token(
            cfg,
            Arc::clone(&self.secrets),
            &accounts,
            Secret::new(refresh_token),
            None,
        )?;
        self.connect_zoho(auth).await
    }

    async fn connect_zoho(&self, auth: ZohoAuth) -> Result<(), CrmSyncError> {
        let auth = Arc::new(auth);
        let connector =
            Arc::new(ZohoConnector::connect(Arc::clone(&auth), ZohoOptions::default()).await?);
        *self.zoho.lock().await = Some(ZohoSession { auth, connector });
        Ok(())
    }

    async fn zoho_connector(&self) -> Result<Arc<ZohoConnector>, CrmSyncError> {
        let mut guard = self.zoho.lock().await;
        if let Some(s) = guard.as_ref() {
            return Ok(Arc::clone(&s.connector));
        }
        let auth = Arc::new(ZohoAuth::restore(
            self.zoho_config(),
            Arc::clone(&self.secrets),
        )?);
        let connector =
            Arc::new(ZohoConnector::connect(Arc::clone(&auth), ZohoOptions::default()).await?);
        *guard = Some(ZohoSession {
            auth,
            connector: Arc::clone(&connector),
        });
        Ok(connector)
    }

    pub(crate) async fn zoho_who(&self) -> Result<Option<ZohoWho>, CrmSyncError> {
        match self.zoho_connector().await {
            Ok(c) => Ok(Some(ZohoWho {
                user_id: c.user_id().to_string(),
                time_zone: c.time_zone().name().to_string(),
            })),
            Err(CrmSyncError::SignInRequired { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn sign_out_zoho(&self) -> Result<(), CrmSyncError> {
        let session = self.zoho.lock().await.take();
        let auth = match session {
            Some(s) => s.auth,
            None => match ZohoAuth::restore(self.zoho_config(), Arc::clone(&self.secrets)) {
                Ok(a) => Arc::new(a),
                // Not signed in: nothing to revoke.
                Err(crmsync_zoho::Error::Auth(_)) => return Ok(()),
                Err(e) => return Err(e.into()),
            },
        };
        Ok(auth.sign_out().await?)
    }

    // ---- Outlook sign-in ----

    fn graph_auth(&self) -> Result<Arc<Auth>, CrmSyncError> {
        match &*lock(&self.outlook) {
            OutlookSource::Graph(a) => Ok(Arc::clone(a)),
            OutlookSource::Host(_) => Err(CrmSyncError::invalid(
                "the Outlook side is a host connector; it has no Microsoft sign-in",
            )),
        }
    }

    pub(crate) fn outlook_authorization_url(
        &self,
        redirect_uri: String,
    ) -> Result<String, CrmSyncError> {
        let auth = self.graph_auth()?;
        let pkce = Pkce::generate();
        let state = Pkce::generate().challenge;
        let url = auth.authorize_url(&redirect_uri, &pkce, &state)?;
        *lock(&self.outlook_pending) = Some(OutlookPending {
            redirect_uri,
            pkce,
            state,
        });
        Ok(url)
    }

    pub(crate) async fn complete_outlook_sign_in(
        &self,
        redirect_url: &str,
    ) -> Result<(), CrmSyncError> {
        let auth = self.graph_auth()?;
        let p = lock(&self.outlook_pending).take().ok_or_else(|| {
            CrmSyncError::invalid(
                "no Outlook sign-in is under way; ask for the authorization URL first",
            )
        })?;
        Ok(auth
            .complete_authorization(&p.redirect_uri, &p.pkce, &p.state, redirect_url)
            .await?)
    }

    pub(crate) async fn start_outlook_device_code(&self) -> Result<DeviceCode, CrmSyncError> {
        let code = self.graph_auth()?.start_device_code().await?;
        *lock(&self.device) = Some(code.clone());
        Ok(code)
    }

    pub(crate) async fn complete_outlook_device_code(&self) -> Result<(), CrmSyncError> {
        let auth = self.graph_auth()?;
        let code = lock(&self.device).take().ok_or_else(|| {
            CrmSyncError::invalid("no device-code sign-in is under way; start one first")
        })?;
        Ok(auth.complete_device_code(&code).await?)
    }

    pub(crate) fn use_outlook_tokens(&self, provider: Arc<dyn core::AccessTokenProvider>) {
        *lock(&self.outlook) = OutlookSource::Graph(Arc::new(Auth::host(provider)));
    }

    pub(crate) fn use_outlook_connector(&self, connector: Arc<dyn Connector>) {
        *lock(&self.outlook) = OutlookSource::Host(connector);
    }

    pub(crate) fn outlook_signed_in(&self) -> bool {
        match &*lock(&self.outlook) {
            OutlookSource::Graph(a) => a.is_signed_in(),
            OutlookSource::Host(_) => true,
        }
    }

    pub(crate) async fn sign_out_outlook(&self) -> Result<(), CrmSyncError> {
        let source = lock(&self.outlook).clone();
        if let OutlookSource::Graph(a) = source {
            a.sign_out().await?;
        }
        Ok(())
    }

    fn outlook_connector(&self) -> Arc<dyn Connector> {
        match &*lock(&self.outlook) {
            OutlookSource::Graph(auth) => Arc::new(OutlookConnector::new(
                self.cfg
                    .graph_url
                    .clone()
                    .unwrap_or_else(|| "https://graph.microsoft.com/v1.0".into()),
                Arc::clone(auth),
                OutlookOptions::default(),
            )),
            OutlookSource::Host(c) => Arc::clone(c),
        }
    }

    // ---- Containers, settings, sync, conflicts, history ----

    pub(crate) async fn containers(
        &self,
        kind: core::Kind,
    ) -> Result<Vec<core::Container>, CrmSyncError> {
        Ok(self.outlook_connector().containers(kind).await?)
    }

    pub(crate) async fn categories(&self) -> Result<Vec<String>, CrmSyncError> {
        Ok(self.outlook_connector().categories().await?)
    }

    pub(crate) fn settings(&self) -> core::Settings {
        lock(&self.settings).clone()
    }

    pub(crate) fn set_settings(&self, s: core::Settings) -> Result<(), CrmSyncError> {
        s.validate()?;
        let text =
            serde_json::to_string_pretty(&s).map_err(|e| CrmSyncError::internal(e.to_string()))?;
        // Write-then-rename so a crash never leaves half a settings file.
        let path = self.cfg.home.join(SETTINGS_FILE);
        let tmp = self.cfg.home.join(format!("{SETTINGS_FILE}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)?;
        *lock(&self.settings) = s;
        Ok(())
    }

    pub(crate) async fn sync(
        &self,
        opts: SyncOptions,
        observer: Option<Arc<dyn core::SyncObserver>>,
        cancel: CancelToken,
    ) -> Result<core::SyncReport, CrmSyncError> {
        let _running = self.running.try_lock().map_err(|_| CrmSyncError::Busy {
            reason: "a sync is already running for this home directory; wait for it to finish"
                .into(),
        })?;
        let zoho: Arc<dyn Connector> = self.zoho_connector().await?;
        let outlook = self.outlook_connector();
        let store: Arc<dyn StateStore> = self.store.clone();
        let mut engine = Engine::new(zoho, outlook, store).with_cancel(cancel);
        if let Some(o) = observer {
            engine = engine.with_observer(o);
        }
        let settings = self.settings();
        let out = engine.sync(&settings, &opts, chrono::Utc::now()).await?;
        Ok(out.report)
    }

    pub(crate) fn conflicts(&self) -> Result<Vec<core::QueuedConflict>, CrmSyncError> {
        Ok(self.store.conflicts(None)?)
    }

    pub(crate) fn resolve_conflict(&self, id: i64, winner: core::Side) -> Result<(), CrmSyncError> {
        Ok(self.store.resolve_conflict(id, winner)?)
    }

    pub(crate) fn history(&self, limit: usize) -> Result<Vec<core::SyncReport>, CrmSyncError> {
        Ok(self.store.history(limit)?)
    }
}

fn outlook_auth_config(cfg: &WiringConfig) -> AuthConfig {
    let mut a = AuthConfig::new(cfg.outlook_client_id.clone());
    if let Some(t) = &cfg.outlook_tenant {
        a.tenant = t.clone();
    }
    if let Some(l) = &cfg.outlook_login_url {
        a.authority = l.trim_end_matches('/').to_string();
    }
    a
}
