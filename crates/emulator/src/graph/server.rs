//! The Graph server's HTTP edge: faults, network latency, the mailbox concurrency limit and the
//! server time spent inside it, bearer tokens and `$batch`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use rand::seq::SliceRandom as _;
use serde_json::{json, Map, Value};

use super::api::{dispatch, route_template};
use super::http::{error, mailbox_concurrency, throttled, unauthenticated, Req, Resp};
use super::{control, Shared};

/// Largest accepted request body.
const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Sub-requests of an unordered batch run this many at a time.
const BATCH_PARALLEL: usize = 4;
/// Most requests in one batch.
const BATCH_MAX: usize = 20;

/// The Graph server's routes (everything goes through one fallback handler).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// Sleeps for `ms` milliseconds (nothing for 0).
async fn pause(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

fn to_response(r: Resp) -> Response {
    let mut resp = match &r.body {
        Some(b) => {
            let mut resp = Response::new(Body::from(b.to_string()));
            resp.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
                ),
            );
            resp
        }
        None => Response::new(Body::empty()),
    };
    *resp.status_mut() =
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in &r.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

/// Drops the connection without an answer. The handler's task unwinds without running the
/// panic hook, so hyper closes the socket and the client sees a connection error.
fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("emulated dropped connection"))
}

async fn handle(AxState(shared): AxState<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let bytes = match axum::body::to_bytes(req.into_body(), BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return to_response(error(
                413,
                "RequestEntityTooLarge",
                "The request body is too large.",
            ))
        }
    };
    if let Some(rest) = path.strip_prefix("/_emulator/") {
        return control::handle(&shared, &method, rest, &query, &bytes);
    }
    let Some(graph_path) = path.strip_prefix("/v1.0") else {
        return to_response(error(400, "BadRequest", "Invalid version."));
    };
    let (body, bad_body) = if bytes.is_empty() {
        (None, false)
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => (Some(v), false),
            Err(_) => (None, true),
        }
    };
    let url = if query.is_empty() {
        graph_path.to_string()
    } else {
        format!("{graph_path}?{query}")
    };
    let mut r = Req::from_url(&method, &url, headers, body);
    r.bad_body = bad_body;
    // The network round trip: half on the way in, half on the way out, once per HTTP request
    // and outside the mailbox's concurrency slots.
    let (_request, _) = shared.requests.enter();
    let _batch = (r.path == "/$batch").then(|| shared.batches.enter());
    let latency = shared.lock().faults.latency_ms;
    pause(latency / 2).await;
    let resp = if r.path == "/$batch" {
        Some(batch(&shared, r).await)
    } else {
        run_one(&shared, r, false).await
    };
    match resp {
        Some(resp) => {
            pause(latency - latency / 2).await;
            to_response(resp)
        }
        None => drop_connection(),
    }
}

fn check_token(shared: &Shared, req: &Req) -> Result<(), Resp> {
    let Some(h) = req.header("authorization") else {
        return Err(unauthenticated("Access token is empty."));
    };
    let Some(tok) = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))
        .map(str::trim)
    else {
        return Err(unauthenticated("Access token is empty."));
    };
    let st = shared.lock();
    match st.auth.access.get(tok) {
        Some(exp) if *exp > st.now() => Ok(()),
        Some(_) => Err(unauthenticated(
            "Access token has expired or is not yet valid.",
        )),
        None => Err(unauthenticated(
            "CompactToken parsing failed with error code: 80049217",
        )),
    }
}

/// Runs one Graph request (plain or a batch item) through faults, the concurrency limit (holding
/// a slot for the server time, `service_ms`), authentication and the router. `None` means "drop
/// the connection".
pub(crate) async fn run_one(shared: &Shared, req: Req, sub: bool) -> Option<Resp> {
    let template = route_template(&req.method, &req.path);
    let key = if sub {
        format!("$batch {template}")
    } else {
        template
    };
    let (faults, drop, throttle, unavailable, gateway) = {
        let mut st = shared.lock();
        st.count(key);
        let f = st.faults.clone();
        let drop = !sub && st.roll(f.drop_rate);
        let throttle = st.roll(f.throttle_rate);
        let unavailable = st.roll(f.unavailable_rate);
        let gateway = st.roll(0.5);
        (f, drop, throttle, unavailable, gateway)
    };
    let (_slot, n) = shared.items.enter();
    if faults.concurrency_limit.is_some_and(|l| n > l) {
        shared.lock().count("throttled: MailboxConcurrency".into());
        return Some(mailbox_concurrency(faults.retry_after_secs));
    }
    pause(faults.service_ms).await;
    if drop {
        return None;
    }
    if throttle {
        shared.lock().count("throttled: TooManyRequests".into());
        return Some(throttled(faults.retry_after_secs));
    }
    if unavailable {
        let r = if gateway {
            error(504, "UnknownError", "Gateway Timeout")
        } else {
            error(
                503,
                "serviceNotAvailable",
                "The service is temporarily unavailable.",
            )
            .with_header(
                "Retry-After",
                super::http::format_retry_after(faults.retry_after_secs),
            )
        };
        return Some(r);
    }
    if let Err(r) = check_token(shared, &req) {
        return Some(r);
    }
    let mut st = shared.lock();
    let base = shared.graph_url.clone();
    Some(dispatch(&mut st, &base, &req, false))
}

fn batch_error(msg: &str) -> Resp {
    error(400, "BadRequest", msg)
}

struct BatchItem {
    id: String,
    req: Req,
    depends_on: Vec<String>,
}

fn parse_batch(envelope: &Req) -> Result<Vec<BatchItem>, Resp> {
    let Some(requests) = envelope
        .body
        .as_ref()
        .and_then(|b| b.get("requests"))
        .and_then(Value::as_array)
    else {
        return Err(batch_error("Invalid batch payload format."));
    };
    if requests.len() > BATCH_MAX {
        return Err(batch_error(&format!(
            "The number of requests in the batch exceeds the limit of {BATCH_MAX}."
        )));
    }
    let auth: Vec<(String, String)> = envelope
        .headers
        .iter()
        .filter(|(k, _)| k == "authorization")
        .cloned()
        .collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in requests {
        let id = match r.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(batch_error("Each request in a batch needs a string id.")),
        };
        if !seen.insert(id.to_lowercase()) {
            return Err(batch_error(&format!(
                "Request id '{id}' is duplicated in the batch."
            )));
        }
        let method = r
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_uppercase();
        if !matches!(method.as_str(), "GET" | "POST" | "PATCH" | "PUT" | "DELETE") {
            return Err(batch_error(&format!("Invalid method in request '{id}'.")));
        }
        let Some(url) = r.get("url").and_then(Value::as_str) else {
            return Err(batch_error(&format!("Request '{id}' has no url.")));
        };
        if url.starts_with("http://") || url.starts_with("https://") {
            return Err(batch_error("Batch request urls must be relative."));
        }
        let url = url.strip_prefix("/v1.0").unwrap_or(url);
        let mut headers = auth.clone();
        if let Some(h) = r.get("headers").and_then(Value::as_object) {
            for (k, v) in h {
                if let Some(v) = v.as_str() {
                    headers.push((k.to_ascii_lowercase(), v.to_string()));
                }
            }
        }
        let body = r.get("body").cloned();
        if body.is_some() && !headers.iter().any(|(k, _)| k == "content-type") {
            return Err(batch_error(
                "Content-Type header must be specified when a request has a body.",
            ));
        }
        let depends_on: Vec<String> = match r.get("dependsOn") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_lowercase)
                .collect(),
            Some(_) => return Err(batch_error("dependsOn must be an array of ids.")),
        };
        out.push(BatchItem {
            id,
            req: Req::from_url(&method, url, headers, body),
            depends_on,
        });
    }
    for it in &out {
        for d in &it.depends_on {
            if !seen.contains(d) || *d == it.id.to_lowercase() {
                return Err(batch_error(&format!(
                    "dependsOn of request '{}' names an unknown request.",
                    it.id
                )));
            }
        }
    }
    Ok(out)
}

fn item_response(id: &str, r: Resp) -> Value {
    let mut headers = Map::new();
    for (k, v) in &r.headers {
        headers.insert(k.clone(), Value::String(v.clone()));
    }
    if r.body.is_some() {
        headers.insert("Content-Type".into(), "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8".into());
    }
    let mut m = Map::new();
    m.insert("id".into(), Value::String(id.to_string()));
    m.insert("status".into(), json!(r.status));
    m.insert("headers".into(), Value::Object(headers));
    if let Some(b) = r.body {
        m.insert("body".into(), b);
    }
    Value::Object(m)
}

async fn batch(shared: &Arc<Shared>, envelope: Req) -> Resp {
    shared.lock().count("POST /$batch".into());
    if envelope.method != "POST" {
        return error(
            405,
            "ErrorInvalidRequest",
            "The batch endpoint accepts POST only.",
        );
    }
    if let Err(r) = check_token(shared, &envelope) {
        return r;
    }
    if envelope.bad_body {
        return batch_error("Invalid JSON in the batch payload.");
    }
    let retry_after = {
        let mut st = shared.lock();
        (st.faults.throttle_batches > 0).then(|| {
            st.faults.throttle_batches -= 1;
            st.count("throttled: $batch envelope".into());
            st.faults.retry_after_secs
        })
    };
    if let Some(secs) = retry_after {
        return throttled(secs);
    }
    let items = match parse_batch(&envelope) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let mut status: std::collections::HashMap<String, u16> = std::collections::HashMap::new();
    let mut pending: Vec<BatchItem> = items;
    let mut responses: Vec<Value> = Vec::new();
    while !pending.is_empty() {
        let (ready, wait): (Vec<BatchItem>, Vec<BatchItem>) = pending
            .into_iter()
            .partition(|it| it.depends_on.iter().all(|d| status.contains_key(d)));
        pending = wait;
        if ready.is_empty() {
            // A dependency cycle: nothing can run.
            for it in pending.drain(..) {
                responses.push(item_response(&it.id, error(424, "", "Failed dependency")));
            }
            break;
        }
        let mut runnable = Vec::new();
        for it in ready {
            let failed = it
                .depends_on
                .iter()
                .any(|d| !status.get(d).is_some_and(|s| (200..300).contains(s)));
            if failed {
                status.insert(it.id.to_lowercase(), 424);
                responses.push(item_response(&it.id, error(424, "", "Failed dependency")));
            } else {
                runnable.push(it);
            }
        }
        // Items that others wait on run first and alone, so ordered batches stay sequential.
        for chunk in runnable.chunks(BATCH_PARALLEL) {
            let mut handles = Vec::new();
            for it in chunk {
                let shared = Arc::clone(shared);
                let req = it.req.clone();
                handles.push(tokio::spawn(
                    async move { run_one(&shared, req, true).await },
                ));
            }
            for (it, h) in chunk.iter().zip(handles) {
                let r = match h.await {
                    Ok(Some(r)) => r,
                    _ => error(500, "generalException", "An internal error occurred."),
                };
                status.insert(it.id.to_lowercase(), r.status);
                responses.push(item_response(&it.id, r));
            }
        }
    }
    {
        let mut st = shared.lock();
        responses.shuffle(&mut st.rng);
    }
    Resp::json(200, json!({"responses": responses}))
}
