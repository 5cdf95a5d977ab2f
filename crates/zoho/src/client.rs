//! The HTTP client of the CRM API: the `Zoho-oauthtoken` header, a cap on requests in flight,
//! bounded retries with exponential backoff and jitter (429, 5xx, dropped connections), one
//! refresh-and-retry on 401 `INVALID_TOKEN`, and request timeouts.

use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::auth::ZohoAuth;
use crate::error::{Error, Result};

/// Transport knobs.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Requests in flight at once (Zoho Standard edition allows 10 per org and app).
    pub max_concurrency: usize,
    /// Attempts per request, the first included, before a typed error.
    pub max_attempts: usize,
    /// First backoff delay.
    pub min_delay: Duration,
    /// Largest backoff delay (also the cap on a server's `Retry-After`).
    pub max_delay: Duration,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// The API version path segment (`v8`).
    pub api_version: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            max_concurrency: 10,
            max_attempts: 6,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            api_version: "v8".into(),
        }
    }
}

/// One API call.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Path under `/crm/{version}/`, e.g. `Contacts/upsert`.
    pub path: String,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// Extra headers (`If-Modified-Since`, `If-Unmodified-Since`).
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: Option<Value>,
    /// Whether the call may be repeated after an unknown outcome (a dropped connection or 5xx
    /// after sending). A plain insert is not: it would create a duplicate.
    pub idempotent: bool,
}

impl ApiRequest {
    /// A GET.
    pub fn get(path: impl Into<String>) -> Self {
        ApiRequest {
            method: Method::GET,
            path: path.into(),
            query: vec![],
            headers: vec![],
            body: None,
            idempotent: true,
        }
    }

    /// A request with a JSON body.
    pub fn with_body(method: Method, path: impl Into<String>, body: Value) -> Self {
        let idempotent = method != Method::POST;
        ApiRequest {
            method,
            path: path.into(),
            query: vec![],
            headers: vec![],
            body: Some(body),
            idempotent,
        }
    }

    /// Adds a query parameter.
    pub fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.into(), v.into()));
        self
    }

    /// Adds a header.
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// An API answer (any status the caller must interpret: 2xx, 304, 400, 404, 412…).
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// The server's clock (`Date` header), when sent.
    pub date: Option<DateTime<Utc>>,
    /// The JSON body (`Null` for 204/304 or a non-JSON body).
    pub body: Value,
}

impl ApiResponse {
    /// The bare error `code` of a request-level error body.
    pub fn code(&self) -> Option<&str> {
        self.body.get("code").and_then(Value::as_str)
    }
}

/// The CRM API client of one signed-in account.
#[derive(Debug, Clone)]
pub struct ZohoClient {
    http: reqwest::Client,
    auth: Arc<ZohoAuth>,
    permits: Arc<Semaphore>,
    opts: ClientOptions,
}

enum Outcome {
    Done(ApiResponse),
    Retry(Error, Option<Duration>),
}

impl ZohoClient {
    /// A client for a signed-in account.
    pub fn new(auth: Arc<ZohoAuth>, opts: ClientOptions) -> Self {
        let http = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        ZohoClient {
            http,
            auth,
            permits: Arc::new(Semaphore::new(opts.max_concurrency.max(1))),
            opts,
        }
    }

    /// The account.
    pub fn auth(&self) -> &Arc<ZohoAuth> {
        &self.auth
    }

    /// Sends a request with retries; returns the answer for statuses the caller interprets.
    pub async fn send(&self, req: &ApiRequest) -> Result<ApiResponse> {
        let mut backoff = backon::ExponentialBuilder::default()
            .with_min_delay(self.opts.min_delay)
            .with_max_delay(self.opts.max_delay)
            .with_max_times(self.opts.max_attempts.saturating_sub(1))
            .with_jitter()
            .build();
        let mut refreshed = false;
        loop {
            let token = self.auth.access_token().await?;
            let outcome = self.attempt(req, &token).await?;
            match outcome {
                Outcome::Done(r) if r.status == 401 => {
                    let code = r.code().unwrap_or_default().to_string();
                    if code == "INVALID_TOKEN" && !refreshed {
                        refreshed = true;
                        self.auth.refresh(Some(&token)).await?;
                        continue;
                    }
                    return Err(Error::Auth(format!(
                        "Zoho refused the access token ({code}); sign in to Zoho again"
                    )));
                }
                Outcome::Done(r) => return Ok(r),
                Outcome::Retry(err, hint) => match backoff.next() {
                    Some(d) => {
                        let d = hint.map(|h| h.min(self.opts.max_delay)).unwrap_or(d);
                        tracing::debug!(
                            delay_ms = d.as_millis() as u64,
                            "retrying a Zoho call: {err}"
                        );
                        tokio::time::sleep(d).await;
                    }
                    None => return Err(err),
                },
            }
        }
    }

    async fn attempt(&self, req: &ApiRequest, token: &crmsync_core::Secret) -> Result<Outcome> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::Transient("client closed".into()))?;
        let base = self.auth.api_domain();
        if base.is_empty() {
            return Err(Error::Auth(
                "the Zoho API domain is unknown; sign in to Zoho again".into(),
            ));
        }
        let url = format!(
            "{}/crm/{}/{}",
            base.trim_end_matches('/'),
            self.opts.api_version,
            req.path.trim_start_matches('/')
        );
        let mut b = self
            .http
            .request(req.method.clone(), &url)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Zoho-oauthtoken {}", token.expose()),
            )
            .query(&req.query);
        for (k, v) in &req.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        if let Some(body) = &req.body {
            b = b.json(body);
        }
        let resp = match b.send().await {
            Ok(r) => r,
            Err(e) => {
                let sent = !(e.is_connect() || e.is_builder());
                let err = Error::Transient(format!(
                    "Zoho could not be reached ({})",
                    if e.is_timeout() {
                        "timeout"
                    } else {
                        "connection"
                    }
                ));
                if sent && !req.idempotent {
                    return Err(err);
                }
                return Ok(Outcome::Retry(err, None));
            }
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(_) if req.idempotent => {
                return Ok(Outcome::Retry(
                    Error::Transient("Zoho's answer was cut off".into()),
                    None,
                ))
            }
            Err(_) => return Err(Error::Transient("Zoho's answer was cut off".into())),
        };
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if status == 429 {
            return Ok(Outcome::Retry(
                Error::Throttled(
                    "Zoho CRM is limiting requests (429 TOO_MANY_REQUESTS); try again later".into(),
                ),
                retry_after(&headers),
            ));
        }
        if status >= 500 {
            let err = Error::Transient(format!("Zoho CRM answered HTTP {status}"));
            if !req.idempotent {
                return Err(err);
            }
            return Ok(Outcome::Retry(err, retry_after(&headers)));
        }
        let date = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| DateTime::parse_from_rfc2822(s).ok())
            .map(|d| d.with_timezone(&Utc));
        Ok(Outcome::Done(ApiResponse { status, date, body }))
    }
}

fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v.trim()).ok()?;
    let d = at.with_timezone(&Utc) - Utc::now();
    d.to_std().ok()
}
