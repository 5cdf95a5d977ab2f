//! A transport-neutral request and response, shared by plain HTTP requests and `$batch` items.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// One Graph request, already split into its parts.
#[derive(Clone, Debug)]
pub(crate) struct Req {
    pub method: String,
    /// The path below `/v1.0`, starting with `/`.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Header pairs with lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// The body was present but not JSON.
    pub bad_body: bool,
}

impl Req {
    /// Builds a request from a relative URL such as `/me/contacts?$top=5`.
    pub(crate) fn from_url(
        method: &str,
        url: &str,
        headers: Vec<(String, String)>,
        body: Option<Value>,
    ) -> Req {
        let (path, q) = match url.split_once('?') {
            Some((p, q)) => (p, q),
            None => (url, ""),
        };
        let query = url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect();
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        Req {
            method: method.to_ascii_uppercase(),
            path,
            query,
            headers,
            body,
            bad_body: false,
        }
    }

    /// The first query value with this name (case-insensitive, with or without `$`).
    pub(crate) fn q(&self, name: &str) -> Option<&str> {
        let bare = name.trim_start_matches('$');
        self.query
            .iter()
            .find(|(k, _)| k.trim_start_matches('$').eq_ignore_ascii_case(bare))
            .map(|(_, v)| v.as_str())
    }

    /// The first header with this name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All `Prefer` preferences as (name, value) with quotes removed.
    pub(crate) fn prefer(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (k, v) in &self.headers {
            if !k.eq_ignore_ascii_case("prefer") {
                continue;
            }
            for part in v.split(',') {
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                let (n, val) = part.split_once('=').unwrap_or((part, ""));
                out.push((
                    n.trim().to_string(),
                    val.trim().trim_matches('"').to_string(),
                ));
            }
        }
        out
    }

    /// One preference's value.
    pub(crate) fn pref(&self, name: &str) -> Option<String> {
        self.prefer()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The request asked for immutable ids.
    pub(crate) fn immutable(&self) -> bool {
        self.pref("IdType")
            .is_some_and(|v| v.eq_ignore_ascii_case("ImmutableId"))
    }
}

/// One Graph response.
#[derive(Clone, Debug)]
pub(crate) struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Resp {
    /// A JSON response.
    pub(crate) fn json(status: u16, body: Value) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    /// 204 No Content.
    pub(crate) fn no_content() -> Resp {
        Resp {
            status: 204,
            headers: Vec::new(),
            body: None,
        }
    }

    /// Adds a header.
    pub(crate) fn with_header(mut self, name: &str, value: impl Into<String>) -> Resp {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// A Graph error body: `{"error":{"code","message","innerError":{...}}}`.
pub(crate) fn error_body(code: &str, message: &str, now: DateTime<Utc>, request_id: &str) -> Value {
    json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": now.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id,
                "client-request-id": request_id,
            }
        }
    })
}

/// A Graph error response.
pub(crate) fn error(status: u16, code: &str, message: &str) -> Resp {
    Resp::json(
        status,
        error_body(
            code,
            message,
            Utc::now(),
            "00000000-0000-0000-0000-000000000000",
        ),
    )
}

/// The usual 404.
pub(crate) fn not_found() -> Resp {
    error(
        404,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

/// The usual 400 for a malformed request.
pub(crate) fn bad_request(message: &str) -> Resp {
    error(400, "ErrorInvalidRequest", message)
}

/// The 400 for an unknown route.
pub(crate) fn no_route(method: &str, path: &str) -> Resp {
    error(
        400,
        "BadRequest",
        &format!(
            "Resource not found for the segment '{}' ({method}).",
            path.rsplit('/').next().unwrap_or("")
        ),
    )
}

/// 405 for a known route with the wrong method.
pub(crate) fn bad_method() -> Resp {
    error(
        405,
        "ErrorInvalidRequest",
        "The OData request is not supported.",
    )
}

/// 429 with a (possibly fractional) Retry-After.
pub(crate) fn throttled(retry_after: f64) -> Resp {
    let mut r = error(429, "TooManyRequests", "Please retry again later.");
    if let Some(Value::Object(e)) = r.body.as_mut().and_then(|b| b.get_mut("error")) {
        e.insert(
            "innerError".into(),
            json!({"code": "429", "status": "429", "message": "Please retry again later."}),
        );
    }
    r.with_header("Retry-After", format_retry_after(retry_after))
}

/// Formats a Retry-After value, keeping fractions (`2.128`) and dropping `.0`.
pub(crate) fn format_retry_after(secs: f64) -> String {
    if secs.fract() == 0.0 {
        format!("{}", secs as i64)
    } else {
        let s = format!("{secs:.3}");
        s.trim_end_matches('0').to_string()
    }
}

/// The 429 for going over the mailbox's concurrency limit.
pub(crate) fn mailbox_concurrency(retry_after: f64) -> Resp {
    let mut r = error(
        429,
        "ApplicationThrottled",
        "Application is over its MailboxConcurrency limit.",
    );
    if let Some(Value::Object(e)) = r.body.as_mut().and_then(|b| b.get_mut("error")) {
        e.insert(
            "innerError".into(),
            json!({"code": "MailboxConcurrency", "status": "429"}),
        );
    }
    r.with_header("Retry-After", format_retry_after(retry_after))
}

/// 401 for a missing, unknown or expired token.
pub(crate) fn unauthenticated(message: &str) -> Resp {
    error(401, "InvalidAuthenticationToken", message)
        .with_header("WWW-Authenticate", "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\"")
}

/// 410 for an expired delta token.
pub(crate) fn sync_state_not_found(generation: u64, highest: u64) -> Resp {
    let mut r = error(
        410,
        "SyncStateNotFound",
        &format!(
            "The sync state generation is not found; generation={generation};[highest={highest}][{highest}][{}][{}].",
            highest.saturating_sub(2),
            highest.saturating_sub(1)
        ),
    );
    if let Some(Value::Object(e)) = r.body.as_mut().and_then(|b| b.get_mut("error")) {
        if let Some(Value::Object(inner)) = e.get_mut("innerError") {
            inner.insert("code".into(), "resyncRequired".into());
        }
    }
    r
}

/// Formats a UTC instant with whole seconds (contacts).
pub(crate) fn fmt_secs(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Formats a UTC instant with 7 fractional digits (events, tasks).
pub(crate) fn fmt_7(t: DateTime<Utc>) -> String {
    format!("{}Z", fmt_local(t.naive_utc()))
}

/// Formats a local date-time for `dateTimeTimeZone.dateTime`.
pub(crate) fn fmt_local(t: chrono::NaiveDateTime) -> String {
    use chrono::Timelike as _;
    format!(
        "{}.{:07}",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.nanosecond() % 1_000_000_000 / 100
    )
}
