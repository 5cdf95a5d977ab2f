//! The Graph HTTP client: auth headers, `Prefer` headers, retries with `Retry-After` and
//! exponential backoff, `$batch`, and the per-mailbox concurrency: an adaptive window of batches
//! in flight ([`crate::window`]) and a bound on single requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder as _;
use crmsync_core::Secret;
use futures::StreamExt as _;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::auth::{Auth, Sleeper};
use crate::error::{Error, Result};
use crate::window::BatchWindow;

/// Graph's limit of concurrent requests per mailbox: the bound on single requests in flight, and
/// the ceiling of the adaptive window of batches in flight (a `$batch` runs 4 sub-requests at a
/// time, so how many batches fit depends on the mailbox's speed).
pub const MAILBOX_CONCURRENCY: usize = 4;
/// Graph's limit of sub-requests per `$batch`.
pub const MAX_BATCH: usize = 20;
/// The `Prefer` header sent on every request.
pub const PREFER: &str = "IdType=\"ImmutableId\", outlook.body-content-type=\"text\"";

/// A Graph answer.
#[derive(Debug, Clone)]
pub struct GraphResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers (lower-case names) that matter to callers.
    pub headers: HashMap<String, String>,
    /// The JSON body (`Null` when empty).
    pub body: Value,
}

impl GraphResponse {
    /// Graph's error code, if the body is an error.
    pub fn error_code(&self) -> String {
        self.body
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    /// The body when the status is a success, otherwise the typed error.
    pub fn ok(self) -> Result<Value> {
        if (200..300).contains(&self.status) {
            return Ok(self.body);
        }
        Err(status_error(self.status, &self.error_code()))
    }
}

/// The error of a non-success status.
pub fn status_error(status: u16, code: &str) -> Error {
    let lc = code.to_ascii_lowercase();
    if status == 410 || lc == "syncstatenotfound" || lc == "resyncrequired" {
        return Error::CursorExpired;
    }
    Error::Api {
        status,
        code: code.to_string(),
    }
}

/// One sub-request of a `$batch`.
#[derive(Debug, Clone)]
pub struct BatchRequest {
    /// Method.
    pub method: Method,
    /// Relative URL (`/me/contacts/{id}`).
    pub url: String,
    /// Extra headers (`If-Match`, `Prefer`).
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: Option<Value>,
}

/// Which concurrency bound a request goes through.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// A single request: one of the [`MAILBOX_CONCURRENCY`] permits, 429s retried here.
    Single,
    /// A `$batch` envelope: its caller holds a place in the batch window and handles 429s,
    /// which are the window's signal.
    Batch,
}

/// The HTTP client of one mailbox. Clones share the mailbox's concurrency bounds.
#[derive(Clone)]
pub struct GraphClient {
    base: String,
    auth: Arc<Auth>,
    http: reqwest::Client,
    singles: Arc<Semaphore>,
    batches: Arc<BatchWindow>,
    sleeper: Sleeper,
    max_attempts: usize,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.base)
            .finish()
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// Parses a `Retry-After` value in seconds, fractional allowed.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let s: f64 = v.trim().parse().ok()?;
    (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s.min(300.0)))
}

impl GraphClient {
    /// A client of the Graph v1.0 endpoint at `base` (`https://graph.microsoft.com/v1.0`).
    pub fn new(base: impl Into<String>, auth: Arc<Auth>) -> GraphClient {
        GraphClient {
            base: base.into().trim_end_matches('/').to_string(),
            auth,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(100))
                .build()
                .unwrap_or_default(),
            singles: Arc::new(Semaphore::new(MAILBOX_CONCURRENCY)),
            batches: Arc::new(BatchWindow::new(MAILBOX_CONCURRENCY)),
            sleeper: crate::auth::tokio_sleeper(),
            max_attempts: 6,
        }
    }

    /// Replaces the sleep used for backoff.
    pub fn with_sleeper(mut self, sleeper: Sleeper) -> GraphClient {
        self.sleeper = sleeper;
        self
    }

    /// Sets how many attempts a request gets before a typed error.
    pub fn with_max_attempts(mut self, n: usize) -> GraphClient {
        self.max_attempts = n.max(1);
        self
    }

    /// The Graph base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// How many `$batch`es the adaptive window lets into the mailbox at once now (1 to
    /// [`MAILBOX_CONCURRENCY`]).
    pub fn batch_window(&self) -> usize {
        self.batches.limit()
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> {
        backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(30))
            .with_jitter()
            .with_max_times(self.max_attempts)
            .build()
    }

    /// Sends one request with retries; returns the final answer whatever its status (except
    /// transport failures and retryable statuses that outlasted the attempts, which are errors).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, String)],
    ) -> Result<GraphResponse> {
        self.send_on(Lane::Single, true, method, path, body, headers)
            .await
    }

    /// `replay_safe`: whether the request may be sent again when its outcome is unknown (a
    /// dropped connection or a 5xx after it was sent). A batch holding creates is not: a create
    /// is never replayed blindly; the engine recovers it by its sync id instead.
    async fn send_on(
        &self,
        lane: Lane,
        replay_safe: bool,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, String)],
    ) -> Result<GraphResponse> {
        let url = self.url(path);
        let mut backoff = self.backoff();
        let mut failed_token: Option<Secret> = None;
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.auth.access_token(failed_token.as_ref()).await?;
            // Graph reads one Prefer header with comma-separated preferences: merge ours.
            let mut prefer = PREFER.to_string();
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose());
            for (k, v) in headers {
                if k.eq_ignore_ascii_case("prefer") {
                    prefer.push_str(", ");
                    prefer.push_str(v);
                } else {
                    req = req.header(*k, v);
                }
            }
            req = req.header("Prefer", prefer);
            if let Some(b) = body {
                req = req.json(b);
            }
            let permit = match lane {
                Lane::Single => Some(
                    self.singles
                        .acquire()
                        .await
                        .map_err(|_| Error::Transient("client shut down".into()))?,
                ),
                Lane::Batch => None,
            };
            let result = req.send().await;
            let (status, hdrs, bytes) = match result {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let hdrs = resp.headers().clone();
                    match resp.bytes().await {
                        Ok(b) => (status, hdrs, b),
                        Err(e) => {
                            drop(permit);
                            if attempt >= self.max_attempts || !replay_safe {
                                return Err(Error::transport(&e));
                            }
                            self.pause(backoff.next()).await;
                            continue;
                        }
                    }
                }
                Err(e) => {
                    drop(permit);
                    // A connection that never opened carried nothing: always safe to retry.
                    if attempt >= self.max_attempts || !(replay_safe || e.is_connect()) {
                        return Err(Error::transport(&e));
                    }
                    self.pause(backoff.next()).await;
                    continue;
                }
            };
            drop(permit);
            let json: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or(Value::Null)
            };
            if status == 401 && !refreshed {
                // InvalidAuthenticationToken: refresh once and retry.
                refreshed = true;
                failed_token = Some(token);
                continue;
            }
            failed_token = None;
            // A batch's 429 goes back to its caller: it is the batch window's signal.
            if matches!(status, 429 | 503 | 504) && !(status == 429 && lane == Lane::Batch) {
                if attempt >= self.max_attempts || (status != 429 && !replay_safe) {
                    return Err(if status == 429 {
                        Error::Throttled(
                            "Microsoft Graph is throttling requests; try again later".into(),
                        )
                    } else {
                        Error::Transient(format!("Microsoft Graph is unavailable ({status})"))
                    });
                }
                let wait = retry_after(&hdrs).or_else(|| backoff.next());
                tracing::debug!(status, ?wait, "graph: retrying");
                self.pause(wait).await;
                continue;
            }
            let mut keep = HashMap::new();
            for name in ["etag", "location", "retry-after"] {
                if let Some(v) = hdrs.get(name).and_then(|v| v.to_str().ok()) {
                    keep.insert(name.to_string(), v.to_string());
                }
            }
            return Ok(GraphResponse {
                status,
                headers: keep,
                body: json,
            });
        }
    }

    async fn pause(&self, d: Option<Duration>) {
        (self.sleeper)(d.unwrap_or(Duration::from_secs(1))).await;
    }

    /// GET a JSON body (error statuses become errors).
    pub async fn get(&self, path: &str, headers: &[(&str, String)]) -> Result<Value> {
        self.send(Method::GET, path, None, headers).await?.ok()
    }

    /// Runs sub-requests through `$batch` (20 per envelope, envelopes concurrently as the batch
    /// window allows), retrying throttled and transient items after the largest `Retry-After`.
    /// Answers come back in the order of `reqs`.
    pub async fn batch(&self, reqs: Vec<BatchRequest>) -> Result<Vec<GraphResponse>> {
        // By index: a closure over borrowed chunks trips the `Send` check of async-trait
        // callers (a higher-ranked lifetime the compiler cannot prove general).
        let reqs = &reqs;
        let chunks: Vec<Result<Vec<Option<GraphResponse>>>> =
            futures::stream::iter((0..reqs.len()).step_by(MAX_BATCH))
                .map(|from| self.batch_chunk(&reqs[from..reqs.len().min(from + MAX_BATCH)]))
                .buffered(MAILBOX_CONCURRENCY)
                .collect()
                .await;
        let mut out = Vec::with_capacity(reqs.len());
        for chunk in chunks {
            out.extend(chunk?);
        }
        Ok(out
            .into_iter()
            .map(|r| {
                r.unwrap_or(GraphResponse {
                    status: 503,
                    headers: HashMap::new(),
                    body: Value::Null,
                })
            })
            .collect())
    }

    /// One envelope's worth of sub-requests, sent until every item has a final answer or the
    /// attempts run out. Each attempt takes a place in the batch window and tells it whether
    /// anything was throttled; the wait before a retry is spent outside the window.
    async fn batch_chunk(&self, chunk: &[BatchRequest]) -> Result<Vec<Option<GraphResponse>>> {
        let mut out: Vec<Option<GraphResponse>> = vec![None; chunk.len()];
        let mut pending: Vec<usize> = (0..chunk.len()).collect();
        let replay_safe = chunk.iter().all(|r| r.method != Method::POST);
        let mut backoff = self.backoff();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let body = envelope(chunk, &pending);
            let place = self.batches.admit().await;
            let env = self
                .send_on(
                    Lane::Batch,
                    replay_safe,
                    Method::POST,
                    "/$batch",
                    Some(&body),
                    &[],
                )
                .await?;
            if env.status == 429 {
                // The whole envelope was refused: nothing in it ran.
                place.finish(true);
                if attempt >= self.max_attempts {
                    return Err(Error::Throttled(
                        "Microsoft Graph is throttling requests; try again later".into(),
                    ));
                }
                let wait = env
                    .headers
                    .get("retry-after")
                    .and_then(|v| parse_retry_after(v))
                    .or_else(|| backoff.next());
                tracing::debug!(?wait, "graph: batch throttled, retrying");
                self.pause(wait).await;
                continue;
            }
            let env = env.ok()?;
            let responses = env
                .get("responses")
                .and_then(Value::as_array)
                .ok_or_else(|| Error::Protocol("a $batch answer without responses".into()))?;
            let mut retry = Vec::new();
            let mut wait: Option<Duration> = None;
            let mut throttled = false;
            for r in responses {
                let Some(i) = r
                    .get("id")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<usize>().ok())
                    .filter(|i| *i < chunk.len())
                else {
                    continue;
                };
                let status = r.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
                let mut headers = HashMap::new();
                if let Some(h) = r.get("headers").and_then(Value::as_object) {
                    for (k, v) in h {
                        if let Some(v) = v.as_str() {
                            headers.insert(k.to_ascii_lowercase(), v.to_string());
                        }
                    }
                }
                let resp = GraphResponse {
                    status,
                    body: r.get("body").cloned().unwrap_or(Value::Null),
                    headers,
                };
                throttled |= status == 429;
                // 424: a dependency failed; our batches are unordered, so just retry it.
                let unknown = matches!(status, 503 | 504) && chunk[i].method == Method::POST;
                if matches!(status, 429 | 503 | 504 | 424)
                    && !unknown
                    && attempt < self.max_attempts
                {
                    if let Some(d) = resp
                        .headers
                        .get("retry-after")
                        .and_then(|v| parse_retry_after(v))
                    {
                        wait = Some(wait.map_or(d, |w| w.max(d)));
                    }
                    retry.push(i);
                }
                out[i] = Some(resp);
            }
            place.finish(throttled);
            // Items the envelope left out are retried too.
            for &i in &pending {
                if out[i].is_none() && !retry.contains(&i) && attempt < self.max_attempts {
                    retry.push(i);
                }
            }
            if !retry.is_empty() {
                self.pause(wait.or_else(|| backoff.next())).await;
            }
            pending = retry;
        }
        Ok(out)
    }
}

/// The `$batch` body of the `pending` items of `chunk`, each with its index as its id.
fn envelope(chunk: &[BatchRequest], pending: &[usize]) -> Value {
    json!({
        "requests": pending.iter().map(|&i| {
            let r = &chunk[i];
            // Sub-requests do not inherit the envelope's headers.
            let mut h = serde_json::Map::new();
            h.insert("Prefer".into(), Value::String(PREFER.into()));
            for (k, v) in &r.headers {
                if k.eq_ignore_ascii_case("prefer") {
                    h.insert("Prefer".into(), Value::String(format!("{PREFER}, {v}")));
                } else {
                    h.insert(k.clone(), Value::String(v.clone()));
                }
            }
            let mut item = json!({"id": i.to_string(), "method": r.method.as_str(), "url": r.url});
            if let Some(b) = &r.body {
                h.insert("Content-Type".into(), "application/json".into());
                item["body"] = b.clone();
            }
            if !h.is_empty() {
                item["headers"] = Value::Object(h);
            }
            item
        }).collect::<Vec<_>>()
    })
}
