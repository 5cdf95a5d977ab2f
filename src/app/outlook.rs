//! The Outlook (Microsoft Graph) side of the host wiring: the identity-platform configuration
//! from the settings file and the environment, sign-in flows, and the connector.

use std::sync::Arc;

use crmsync_core::{Connector, Secret, Side};
use crmsync_outlook::{Auth, AuthConfig, OutlookConnector, OutlookOptions};

use super::client::{Account, SyncClient};
use super::error::{AppError, Result};

const PREFIX: &str = "crmsync.outlook";
/// Secret-store key of the Microsoft refresh token.
pub const REFRESH_TOKEN_KEY: &str = "crmsync.outlook.refresh_token";
/// The public Graph endpoint.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";

impl From<crmsync_outlook::Error> for AppError {
    fn from(e: crmsync_outlook::Error) -> Self {
        let c: crmsync_core::ConnectorError = e.into();
        match c.kind {
            crmsync_core::ConnectorErrorKind::Auth => AppError::SignIn(format!(
                "Outlook: {}; run `crmsync login outlook`",
                c.message
            )),
            _ => AppError::Service(format!("Outlook: {}", c.message)),
        }
    }
}

fn auth_config(client: &SyncClient) -> Result<AuthConfig> {
    let f = client.file_config();
    let client_id = f.outlook.client_id.clone().ok_or_else(|| {
        AppError::Config(
            "no Microsoft application (client) id; register an app in the Azure portal (Microsoft Entra ID → App registrations) and run `crmsync config set outlook.client_id ID` (or pass --client-id)"
                .into(),
        )
    })?;
    let mut c = AuthConfig::new(client_id);
    if let Some(url) = client
        .app_config()
        .overrides
        .ms_login_url
        .clone()
        .or(f.outlook.login_url.clone())
    {
        c.authority = url;
    }
    c.tenant = f.outlook.tenant.clone();
    c.key_prefix = PREFIX.into();
    Ok(c)
}

/// The Graph base URL: the environment override, the file's, or the public one.
pub(crate) fn graph_url(client: &SyncClient) -> String {
    client
        .app_config()
        .overrides
        .graph_url
        .clone()
        .or(client.file_config().outlook.graph_url)
        .unwrap_or_else(|| DEFAULT_GRAPH_URL.into())
        .trim_end_matches('/')
        .to_string()
}

fn auth(client: &SyncClient) -> Result<Arc<Auth>> {
    Ok(Arc::new(Auth::oauth(
        auth_config(client)?,
        client.secrets().clone(),
    )))
}

fn forget(client: &SyncClient) {
    for k in ["refresh_token", "access_token"] {
        let _ = client.secrets().delete(&format!("{PREFIX}.{k}"));
    }
}

async fn me(client: &SyncClient, auth: Arc<Auth>) -> Result<Account> {
    let c = OutlookConnector::new(graph_url(client), auth, OutlookOptions::default());
    let v = c.graph().get("/me", &[]).await?;
    Ok(Account {
        service: Side::Outlook,
        user_id: v["id"].as_str().unwrap_or_default().to_string(),
        api: graph_url(client),
        problem: None,
    })
}

async fn verify(client: &SyncClient, auth: Arc<Auth>) -> Result<Account> {
    client.drop_connectors();
    match me(client, auth).await {
        Ok(a) => Ok(a),
        Err(e) => {
            forget(client);
            Err(e)
        }
    }
}

pub(crate) async fn connector(client: &SyncClient) -> Result<Arc<dyn Connector>> {
    if let Some(p) = client.outlook_token_provider() {
        return Ok(Arc::new(OutlookConnector::new(
            graph_url(client),
            Arc::new(Auth::host(p)),
            OutlookOptions::default(),
        )));
    }
    let auth = auth(client)?;
    if !auth.is_signed_in() {
        return Err(AppError::SignIn(
            "not signed in to Outlook; run `crmsync login outlook`".into(),
        ));
    }
    Ok(Arc::new(OutlookConnector::new(
        graph_url(client),
        auth,
        OutlookOptions::default(),
    )))
}

pub(crate) async fn logout(client: &SyncClient) -> Result<()> {
    // The identity platform has no revocation endpoint for public clients: forgetting the
    // tokens is the sign-out (the user can revoke all sessions at myaccount.microsoft.com).
    if let Ok(a) = auth(client) {
        a.sign_out().await?;
    }
    forget(client);
    Ok(())
}

pub(crate) async fn whoami(client: &SyncClient) -> Account {
    let r = match auth(client) {
        Ok(a) => me(client, a).await,
        Err(e) => Err(e),
    };
    r.unwrap_or_else(|e| Account {
        service: Side::Outlook,
        user_id: String::new(),
        api: graph_url(client),
        problem: Some(e.to_string()),
    })
}

pub(crate) async fn login_refresh_token(client: &SyncClient, token: Secret) -> Result<Account> {
    let auth = auth(client)?;
    client.secrets().set(REFRESH_TOKEN_KEY, &token)?;
    client.secrets().delete(&format!("{PREFIX}.access_token"))?;
    verify(client, auth).await
}

pub(crate) async fn login_device_code<F, Fut>(client: &SyncClient, show: F) -> Result<Account>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let auth = auth(client)?;
    let code = auth.start_device_code().await?;
    show(code.message.clone()).await;
    auth.complete_device_code(&code).await?;
    verify(client, auth).await
}

pub(crate) async fn login_browser<F, Fut>(client: &SyncClient, open: F) -> Result<Account>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let auth = auth(client)?;
    let port = client.file_config().outlook.redirect_port;
    tokio::time::timeout(
        super::client::BROWSER_TIMEOUT,
        auth.sign_in_loopback(port, open),
    )
    .await
    .map_err(|_| {
        AppError::SignIn(
            "no answer from the browser within 5 minutes; run `crmsync login outlook` again".into(),
        )
    })??;
    verify(client, auth).await
}
