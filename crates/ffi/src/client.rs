//! `SyncClient`: the one object a host creates. Every async method runs on the crate's
//! multi-threaded tokio runtime (`crate::run`); a panic inside becomes `CrmSyncError::Internal`.

use std::path::PathBuf;
use std::sync::Arc;

use crmsync_core as core;
use crmsync_core::{CancelToken, Secret, SyncOptions};

use crate::callbacks::{
    AccessTokenProvider, HostObserver, HostSecrets, HostTokens, SecretStore, SyncObserver,
};
use crate::error::CrmSyncError;
use crate::host::{HostConnector, HostConnectorAdapter};
use crate::types::{
    validated, Container, Kind, LogEvent, LogLevel, QueuedConflict, Side, SyncReport, SyncRequest,
    SyncSettings,
};
use crate::wiring::{Wiring, WiringConfig};

/// How to build a client. Only `home` and the OAuth client ids are needed; the URLs default to
/// the public services (set them for a sovereign cloud, a Zoho data centre or the emulators).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClientConfig {
    /// Directory for settings and state (the Mac app: its Application Support folder).
    pub home: String,
    /// Zoho OAuth client id (API console).
    pub zoho_client_id: String,
    /// Zoho client secret, for clients registered with one.
    pub zoho_client_secret: Option<String>,
    /// The loopback port registered as Zoho's redirect (`http://127.0.0.1:{port}/callback`).
    pub zoho_redirect_port: u16,
    /// Where Zoho sign-in starts (default `https://accounts.zoho.com`).
    pub zoho_accounts_url: Option<String>,
    /// Microsoft app registration's client id (public client).
    pub outlook_client_id: String,
    /// `common` (default), `organizations`, `consumers` or a tenant id.
    pub outlook_tenant: Option<String>,
    /// Microsoft identity platform authority (default `https://login.microsoftonline.com`).
    pub outlook_login_url: Option<String>,
    /// Microsoft Graph base (default `https://graph.microsoft.com/v1.0`).
    pub graph_url: Option<String>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("home", &self.home)
            .field("zoho_client_id", &self.zoho_client_id)
            .field(
                "zoho_client_secret",
                &self.zoho_client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("outlook_client_id", &self.outlook_client_id)
            .finish_non_exhaustive()
    }
}

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Identity {
    /// The Zoho user's id, when signed in to Zoho.
    pub zoho_user_id: Option<String>,
    /// The Zoho user's time zone (IANA), when signed in.
    pub zoho_time_zone: Option<String>,
    /// Whether the Outlook side can be used (a stored sign-in, a host token provider or a host
    /// connector).
    pub outlook_signed_in: bool,
}

/// A device-code sign-in to show the user.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeviceCodePrompt {
    /// The code the user types.
    pub user_code: String,
    /// Where to type it.
    pub verification_uri: String,
    /// Microsoft's sentence for the user.
    pub message: String,
}

/// Cancels a running sync: batches in flight finish and are committed, nothing new starts, no
/// cursor advances. Pass it to `SyncClient::sync` and call `cancel` from anywhere.
#[derive(Debug, Default, uniffi::Object)]
pub struct CancelHandle {
    token: CancelToken,
}

#[uniffi::export]
impl CancelHandle {
    /// A fresh handle.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(CancelHandle::default())
    }

    /// Requests cancellation.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// A crmsync client: sign-in to both services, settings, sync, conflicts and history.
#[derive(uniffi::Object)]
pub struct SyncClient {
    wiring: Arc<Wiring>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncClient")
    }
}

fn log(observer: &Option<Arc<dyn SyncObserver>>, level: LogLevel, message: String) {
    if let Some(o) = observer {
        o.on_log(LogEvent { level, message });
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl SyncClient {
    /// Opens (creating when needed) the home directory and its state database. Secrets go to
    /// `secrets` only (the Keychain on the Mac), never to the home directory.
    #[uniffi::constructor]
    pub fn new(
        config: ClientConfig,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<Arc<Self>, CrmSyncError> {
        if config.home.trim().is_empty() {
            return Err(CrmSyncError::invalid("home must name a directory"));
        }
        for (name, url) in [
            ("zoho_accounts_url", &config.zoho_accounts_url),
            ("outlook_login_url", &config.outlook_login_url),
            ("graph_url", &config.graph_url),
        ] {
            if let Some(u) = url {
                url::Url::parse(u)
                    .map_err(|_| CrmSyncError::invalid(format!("{name} is not a URL")))?;
            }
        }
        let cfg = WiringConfig {
            home: PathBuf::from(config.home),
            zoho_client_id: config.zoho_client_id,
            zoho_client_secret: config.zoho_client_secret.map(Secret::new),
            zoho_redirect_port: config.zoho_redirect_port,
            zoho_accounts_url: config.zoho_accounts_url,
            outlook_client_id: config.outlook_client_id,
            outlook_tenant: config.outlook_tenant,
            outlook_login_url: config.outlook_login_url,
            graph_url: config.graph_url,
        };
        let wiring = Wiring::open(cfg, Arc::new(HostSecrets(secrets)))?;
        Ok(Arc::new(SyncClient {
            wiring: Arc::new(wiring),
        }))
    }

    /// Zoho browser sign-in, step 1: the authorization URL (PKCE) to open in the browser.
    pub fn zoho_authorization_url(&self) -> Result<String, CrmSyncError> {
        self.wiring.zoho_authorization_url()
    }

    /// Zoho browser sign-in, step 2: the URL Zoho redirected the browser to.
    pub async fn complete_zoho_sign_in(&self, redirect_url: String) -> Result<(), CrmSyncError> {
        let w = Arc::clone(&self.wiring);
        crate::run(async move { w.complete_zoho_sign_in(&redirect_url).await }).await
    }

    /// Zoho sign-in from a refresh token (self client); `accounts_server` defaults to the
    /// configured one.
    pub async fn zoho_sign_in_with_refresh_token(
        &self,
        refresh_token: String,
        accounts_server: Option<String>,
    ) -> Result<(), CrmSyncError> {
        let w = Arc::clone(&self.wiring);
        crate::run(async move {
            w.zoho_sign_in_with_refresh_token(refresh_token, accounts_server)
                .await
        })
        .await
    }

    /// Outlook browser sign-in, step 1: the authorization URL (PKCE) for `redirect_uri`.
    pub fn outlook_authorization_url(&self, redirect_uri: String) -> Result<String, CrmSyncError> {
        self.wiring.outlook_authorization_url(redirect_uri)
    }

    /// Outlook browser sign-in, step 2: the URL the browser was redirected to.
    pub async fn complete_outlook_sign_in(&self, redirect_url: String) -> Result<(), CrmSyncError> {
        let w = Arc::clone(&self.wiring);
        crate::run(async move { w.complete_outlook_sign_in(&redirect_url).await }).await
    }

    /// Outlook device-code sign-in, step 1: what to show the user.
    pub async fn start_outlook_device_code(&self) -> Result<DeviceCodePrompt, CrmSyncError> {
        let w = Arc::clone(&self.wiring);
        crate::run(async move {
            let d = w.start_outlook_device_code().await?;
            Ok(DeviceCodePrompt {
                user_code: d.user_code,
                verification_uri: d.verification_uri,
                message: d.message,
            })
        })
        .await
    }

    /// Outlook device-code sign-in, step 2: waits until the user has entered the code.
    pub async fn complete_outlook_device_code(&self) -> Result<(), CrmSyncError> {
        let w = Arc::clone(&self.wiring);
        crate::run(async move { w.complete_outlook_device_code().await }).await
    }

    /// Outlook tokens come from the host (MSAL) from now on.
    pub fn use_outlook_token_provider(&self, provider: Arc<dyn AccessTokenProvider>) {
        self.wiring
            .use_outlook_tokens(Arc::new(HostTokens(provider)));
    }

    /// The Outlook side is this host connector from now on (for example a local data source).
    pub async fn use_host_connector(
        &self,
        connector: Arc<dyn HostConnector>,
    ) -> Result<(), CrmSyncError> {
        let w = Arc::clone(&self.wiring);
        crate::run(async move {
            let adapter = HostConnectorAdapter::new(connector).await?;
            w.use_outlook_connector(Arc::new(adapter));
            Ok(())
        })
        .await
    }

    /// Signs out of one service (Zoho: the token is revoked too).
    pub async fn sign_out(&self, side: Side) -> Result<(), CrmSyncError> {
        let w = Arc::clone(&self.wiring);
        crate::run(async move {
            match side {
                Side::Zoho => w.sign_out_zoho().await,
                Side::Outlook => w.sign_out_outlook().await,
            }
        })
        .await
    }

    /// Who is signed in.
    pub async fn who_am_i(&self) -> Result<Identity, CrmSyncError> {
        let w = Arc::clone(&self.wiring);
        crate::run(async move {
            let zoho = w.zoho_who().await?;
            Ok(Identity {
                zoho_user_id: zoho.as_ref().map(|z| z.user_id.clone()),
                zoho_time_zone: zoho.map(|z| z.time_zone),
                outlook_signed_in: w.outlook_signed_in(),
            })
        })
        .await
    }

    /// The Outlook contact folders (`Kind::Contact`), task lists (`Task`) or calendars (`Event`)
    /// to choose from.
    pub async fn list_containers(&self, kind: Kind) -> Result<Vec<Container>, CrmSyncError> {
        let w = Arc::clone(&self.wiring);
        crate::run(async move {
            Ok(w.containers(kind.into())
                .await?
                .into_iter()
                .map(Container::from)
                .collect())
        })
        .await
    }

    /// The Outlook categories to choose from.
    pub async fn list_categories(&self) -> Result<Vec<String>, CrmSyncError> {
        let w = Arc::clone(&self.wiring);
        crate::run(async move { w.categories().await }).await
    }

    /// The current settings.
    pub fn settings(&self) -> SyncSettings {
        self.wiring.settings().into()
    }

    /// Checks and saves settings; an invalid value fails with `InvalidInput` naming the setting.
    pub fn set_settings(&self, settings: SyncSettings) -> Result<(), CrmSyncError> {
        self.wiring.set_settings(validated(settings)?)
    }

    /// Runs a sync and returns its report. A cancelled run returns its report too
    /// (`cancelled` set); what completed before is committed.
    pub async fn sync(
        &self,
        request: SyncRequest,
        observer: Option<Arc<dyn SyncObserver>>,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<SyncReport, CrmSyncError> {
        let w = Arc::clone(&self.wiring);
        crate::run(async move {
            let opts = SyncOptions {
                kinds: request.kind.map(|k| vec![core::Kind::from(k)]),
                dry_run: request.dry_run,
                force: request.force,
            };
            let token = cancel.map(|c| c.token.clone()).unwrap_or_default();
            let core_observer: Option<Arc<dyn core::SyncObserver>> = observer
                .clone()
                .map(|o| Arc::new(HostObserver(o)) as Arc<dyn core::SyncObserver>);
            let what = if request.dry_run { "dry run" } else { "sync" };
            log(&observer, LogLevel::Info, format!("{what} started"));
            match w.sync(opts, core_observer, token).await {
                Ok(report) => {
                    let report = SyncReport::from(report);
                    for k in &report.kinds {
                        for w in &k.warnings {
                            log(&observer, LogLevel::Warning, format!("{:?}: {w}", k.kind));
                        }
                        if let Some(g) = &k.guard {
                            log(&observer, LogLevel::Warning, g.message.clone());
                        }
                        if let Some(f) = &k.failure {
                            log(&observer, LogLevel::Error, format!("{:?}: {f}", k.kind));
                        }
                    }
                    let level = if report.completed {
                        LogLevel::Info
                    } else {
                        LogLevel::Warning
                    };
                    log(
                        &observer,
                        level,
                        format!(
                            "{what} finished: {} writes, {} errors{}",
                            report.writes,
                            report.errors,
                            if report.cancelled { " (cancelled)" } else { "" }
                        ),
                    );
                    Ok(report)
                }
                Err(e) => {
                    log(&observer, LogLevel::Error, format!("{what} failed: {e}"));
                    Err(e)
                }
            }
        })
        .await
    }

    /// Conflicts kept for the user (rule "ask me").
    pub fn conflicts(&self) -> Result<Vec<QueuedConflict>, CrmSyncError> {
        Ok(self
            .wiring
            .conflicts()?
            .into_iter()
            .map(QueuedConflict::from)
            .collect())
    }

    /// Picks the side whose values a queued conflict keeps; applied at the next sync.
    pub fn resolve_conflict(&self, id: i64, winner: Side) -> Result<(), CrmSyncError> {
        self.wiring.resolve_conflict(id, winner.into())
    }

    /// The latest runs, newest first.
    pub fn history(&self, limit: u32) -> Result<Vec<SyncReport>, CrmSyncError> {
        Ok(self
            .wiring
            .history(limit as usize)?
            .into_iter()
            .map(SyncReport::from)
            .collect())
    }
}
