//! The FFI's wiring: `crmsync::app::SyncClient` (the host-agnostic wiring the CLI shares: home
//! directory, TOML settings file, SQLite state, the state-directory lock, connectors built from
//! configuration, sync, conflicts, history) plus what the app does not offer yet:
//!
//! - split-phase browser sign-in (an authorization URL now, the redirect URL later) and a
//!   device-code prompt carrying the user code, done here with the connectors' auth types on the
//!   app's own secret keys (`crmsync.zoho.*`, `crmsync.outlook.*`), so the app restores them;
//! - a host connector standing in for Outlook (the engine is assembled here, under the app's
//!   `StateLock`, for that case only);
//! - replacing all settings at once (the file is saved and the app reopened on it).
//!
//! There is no sync logic here: every decision is the core's.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crmsync::app::{self, AppConfig, Overrides, StateLock};
use crmsync_core as core;
use crmsync_core::{CancelToken, Connector, Engine, Secret, StateStore, SyncOptions};
use crmsync_outlook::{Auth, AuthConfig, DeviceCode, Pkce};
use crmsync_zoho::auth::{
    authorization_url, AuthorizationRequest, OAuthConfig, Redirect, ZohoAuth,
};

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
    app: Mutex<Arc<app::SyncClient>>,
    tokens: Mutex<Option<Arc<dyn core::AccessTokenProvider>>>,
    host: Mutex<Option<Arc<dyn Connector>>>,
    outlook_auth: Arc<Auth>,
    zoho_pending: Mutex<Option<AuthorizationRequest>>,
    outlook_pending: Mutex<Option<OutlookPending>>,
    device: Mutex<Option<DeviceCode>>,
    running: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another call panicked mid-update of plain data: keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Wiring {
    pub(crate) fn open(
        cfg: WiringConfig,
        secrets: Arc<dyn core::SecretStore>,
    ) -> Result<Wiring, CrmSyncError> {
        let app = Self::open_app(&cfg, &secrets)?;
        // The host's configuration is the truth for the client ids and ports: the settings file
        // follows it (so the CLI on the same home uses the same registration).
        for (key, value) in [
            ("zoho.client_id", cfg.zoho_client_id.clone()),
            ("zoho.redirect_port", cfg.zoho_redirect_port.to_string()),
            ("outlook.client_id", cfg.outlook_client_id.clone()),
        ] {
            if app.get(key).ok().as_deref() != Some(value.as_str()) {
                app.set(key, &value)?;
            }
        }
        if let Some(t) = &cfg.outlook_tenant {
            if app.get("outlook.tenant").ok().as_deref() != Some(t.as_str()) {
                app.set("outlook.tenant", t)?;
            }
        }
        if cfg.zoho_client_secret.is_some() {
            app.set_zoho_client_secret(cfg.zoho_client_secret.as_ref())?;
        }
        let outlook_auth = Arc::new(Auth::oauth(outlook_auth_config(&cfg), Arc::clone(&secrets)));
        Ok(Wiring {
            cfg,
            secrets,
            app: Mutex::new(Arc::new(app)),
            tokens: Mutex::new(None),
            host: Mutex::new(None),
            outlook_auth,
            zoho_pending: Mutex::new(None),
            outlook_pending: Mutex::new(None),
            device: Mutex::new(None),
            running: tokio::sync::Mutex::new(()),
        })
    }

    fn open_app(
        cfg: &WiringConfig,
        secrets: &Arc<dyn core::SecretStore>,
    ) -> Result<app::SyncClient, CrmSyncError> {
        let mut config = AppConfig::new(cfg.home.clone());
        config.overrides = Overrides {
            zoho_accounts_url: cfg.zoho_accounts_url.clone(),
            graph_url: cfg.graph_url.clone(),
            ms_login_url: cfg.outlook_login_url.clone(),
            ..Overrides::default()
        };
        Ok(app::SyncClient::open_with_secrets(
            config,
            Arc::clone(secrets),
        )?)
    }

    fn app(&self) -> Arc<app::SyncClient> {
        Arc::clone(&lock(&self.app))
    }

    fn zoho_config(&self) -> OAuthConfig {
        let mut c = OAuthConfig::new(self.cfg.zoho_client_id.clone(), self.cfg.zoho_redirect_port);
        c.client_secret = self.cfg.zoho_client_secret.clone();
        c.sign_in_accounts = self.app().zoho_accounts_url();
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
        // Exchanged on the app's secret keys; the app restores the sign-in from there.
        ZohoAuth::exchange_code(
            self.zoho_config(),
            Arc::clone(&self.secrets),
            &redirect,
            &pending.pkce,
        )
        .await?;
        let app = self.app();
        app.drop_connectors();
        app.zoho().await?;
        Ok(())
    }

    pub(crate) async fn zoho_sign_in_with_refresh_token(
        &self,
        refresh_token: String,
        accounts_server: Option<String>,
    ) -> Result<(), CrmSyncError> {
        match accounts_server {
            None => {
                self.app()
                    .login_zoho_refresh_token(Secret::new(refresh_token))
                    .await?;
            }
            Some(accounts) => {
                ZohoAuth::from_refresh_token(
                    self.zoho_config(),
                    Arc::clone(&self.secrets),
                    &accounts,
                    Secret::new(refresh_token),
                    None,
                )?;
                let app = self.app();
                app.drop_connectors();
                app.zoho().await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn zoho_who(&self) -> Result<Option<ZohoWho>, CrmSyncError> {
        let app = self.app();
        if !app.is_signed_in(core::Side::Zoho) {
            return Ok(None);
        }
        match app.zoho().await {
            Ok(c) => Ok(Some(ZohoWho {
                user_id: c.user_id().to_string(),
                time_zone: c.time_zone().name().to_string(),
            })),
            Err(app::AppError::SignIn(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn sign_out_zoho(&self) -> Result<(), CrmSyncError> {
        Ok(self.app().logout(core::Side::Zoho).await?)
    }

    // ---- Outlook sign-in ----

    fn no_host(&self) -> Result<(), CrmSyncError> {
        if lock(&self.host).is_some() {
            return Err(CrmSyncError::invalid(
                "the Outlook side is a host connector; it has no Microsoft sign-in",
            ));
        }
        Ok(())
    }

    pub(crate) fn outlook_authorization_url(
        &self,
        redirect_uri: String,
    ) -> Result<String, CrmSyncError> {
        self.no_host()?;
        let pkce = Pkce::generate();
        let state = Pkce::generate().challenge;
        let url = self
            .outlook_auth
            .authorize_url(&redirect_uri, &pkce, &state)?;
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
        self.no_host()?;
        let p = lock(&self.outlook_pending).take().ok_or_else(|| {
            CrmSyncError::invalid(
                "no Outlook sign-in is under way; ask for the authorization URL first",
            )
        })?;
        self.outlook_auth
            .complete_authorization(&p.redirect_uri, &p.pkce, &p.state, redirect_url)
            .await?;
        self.app().drop_connectors();
        Ok(())
    }

    pub(crate) async fn start_outlook_device_code(&self) -> Result<DeviceCode, CrmSyncError> {
        self.no_host()?;
        let code = self.outlook_auth.start_device_code().await?;
        *lock(&self.device) = Some(code.clone());
        Ok(code)
    }

    pub(crate) async fn complete_outlook_device_code(&self) -> Result<(), CrmSyncError> {
        self.no_host()?;
        let code = lock(&self.device).take().ok_or_else(|| {
            CrmSyncError::invalid("no device-code sign-in is under way; start one first")
        })?;
        self.outlook_auth.complete_device_code(&code).await?;
        self.app().drop_connectors();
        Ok(())
    }

    pub(crate) fn use_outlook_tokens(&self, provider: Arc<dyn core::AccessTokenProvider>) {
        *lock(&self.tokens) = Some(Arc::clone(&provider));
        self.app().set_outlook_token_provider(Some(provider));
    }

    pub(crate) fn use_outlook_connector(&self, connector: Arc<dyn Connector>) {
        *lock(&self.host) = Some(connector);
    }

    pub(crate) fn outlook_signed_in(&self) -> bool {
        lock(&self.host).is_some() || self.app().is_signed_in(core::Side::Outlook)
    }

    pub(crate) async fn sign_out_outlook(&self) -> Result<(), CrmSyncError> {
        self.outlook_auth.sign_out().await?;
        Ok(self.app().logout(core::Side::Outlook).await?)
    }

    async fn outlook_connector(&self) -> Result<Arc<dyn Connector>, CrmSyncError> {
        let host = lock(&self.host).clone();
        match host {
            Some(c) => Ok(c),
            None => Ok(self.app().outlook().await?),
        }
    }

    // ---- Containers, settings, sync, conflicts, history ----

    pub(crate) async fn containers(
        &self,
        kind: core::Kind,
    ) -> Result<Vec<core::Container>, CrmSyncError> {
        Ok(self.outlook_connector().await?.containers(kind).await?)
    }

    pub(crate) async fn categories(&self) -> Result<Vec<String>, CrmSyncError> {
        Ok(self.outlook_connector().await?.categories().await?)
    }

    pub(crate) fn settings(&self) -> core::Settings {
        self.app().file_config().sync
    }

    /// Saves all settings at once: the app's settings file is written with them and the app
    /// reopened on it (its own API sets one key at a time).
    pub(crate) fn set_settings(&self, s: core::Settings) -> Result<(), CrmSyncError> {
        s.validate()?;
        let app = self.app();
        let mut file = app.file_config();
        file.sync = s;
        file.save(&app.app_config().settings_path())?;
        let reopened = Self::open_app(&self.cfg, &self.secrets)?;
        if let Some(p) = lock(&self.tokens).clone() {
            reopened.set_outlook_token_provider(Some(p));
        }
        *lock(&self.app) = Arc::new(reopened);
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
        let app = self.app();
        let host = lock(&self.host).clone();
        let Some(outlook) = host else {
            return Ok(app.sync(&opts, observer, cancel).await?.report);
        };
        // A host connector stands in for Outlook: the same steps as the app's sync, with it.
        let _lock = StateLock::acquire(&app.app_config().home)?;
        let settings = app.file_config().sync;
        let zoho: Arc<dyn Connector> = app.zoho().await?;
        let store: Arc<dyn StateStore> = app.state().clone();
        let mut engine = Engine::new(zoho, outlook, store).with_cancel(cancel);
        if let Some(o) = observer {
            engine = engine.with_observer(o);
        }
        let out = engine.sync(&settings, &opts, chrono::Utc::now()).await?;
        Ok(out.report)
    }

    pub(crate) fn conflicts(&self) -> Result<Vec<core::QueuedConflict>, CrmSyncError> {
        Ok(self.app().state().conflicts(None)?)
    }

    pub(crate) fn resolve_conflict(&self, id: i64, winner: core::Side) -> Result<(), CrmSyncError> {
        Ok(self.app().state().resolve_conflict(id, winner)?)
    }

    pub(crate) fn history(&self, limit: usize) -> Result<Vec<core::SyncReport>, CrmSyncError> {
        Ok(self.app().state().history(limit)?)
    }
}

fn outlook_auth_config(cfg: &WiringConfig) -> AuthConfig {
    // The app's key prefix (`crmsync.outlook`) is AuthConfig's default: tokens stored here are
    // the ones the app's Outlook connector restores.
    let mut a = AuthConfig::new(cfg.outlook_client_id.clone());
    if let Some(t) = &cfg.outlook_tenant {
        a.tenant = t.clone();
    }
    if let Some(l) = &cfg.outlook_login_url {
        a.authority = l.trim_end_matches('/').to_string();
    }
    a
}
