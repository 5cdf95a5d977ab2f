//! The API server: `/crm/v8/...` (and `/crm/v7/...`), with auth, faults and counters.

// Helpers return a finished error `Response` as their `Err`, the early-return style of axum
// handlers; boxing it would only add noise on a test server.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::config::ViewFilter;
use super::coql;
use super::net::Conn;
use super::records::{same_text, ItemError, Mode};
use super::schema::{field_json, Kind};
use super::state::{parse_time, Inner, PageToken, SharedRef};

/// A request-level error: `{code, details, message, status: "error"}`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str, details: Value) -> Response {
    (
        status,
        Json(json!({"code": code, "details": details, "message": message, "status": "error"})),
    )
        .into_response()
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn not_modified() -> Response {
    StatusCode::NOT_MODIFIED.into_response()
}

fn too_many() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_REQUESTS",
        "Number of API requests for the 24 hour period is exceeded or the concurrency limit of the user for the app is exceeded",
        json!({}),
    )
}

struct InFlight<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The parsed request a route handler sees.
pub(crate) struct Req {
    pub(crate) method: Method,
    pub(crate) segs: Vec<String>,
    pub(crate) query: HashMap<String, String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) user: u64,
}

/// The counter key of a request, e.g. `GET /Contacts` or `PUT /Contacts/{id}`.
fn counter_key(method: &Method, segs: &[String]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        let is_id = i > 0 && !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
        parts.push(if is_id { "{id}" } else { s.as_str() });
    }
    format!("{} /{}", method, parts.join("/"))
}

/// Every request to the API server that is not under `/_emulator/`.
pub(crate) async fn entry(
    State(shared): State<SharedRef>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let rest = path
        .strip_prefix("/crm/v8/")
        .or_else(|| path.strip_prefix("/crm/v7/"));
    let Some(rest) = rest else {
        shared.lock().count(format!("{method} {path}"));
        return error(
            StatusCode::NOT_FOUND,
            "INVALID_URL_PATTERN",
            "Please check if the URL trying to access is a correct one",
            json!({}),
        );
    };
    let segs: Vec<String> = rest
        .trim_end_matches('/')
        .split('/')
        .map(|s| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();

    let in_flight = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(&shared.in_flight);
    let (latency, drop_it) = {
        let mut inner = shared.lock();
        inner.count(counter_key(&method, &segs));
        let f = inner.faults.clone();
        if f.max_concurrency > 0 && in_flight > f.max_concurrency {
            return too_many();
        }
        let (r429, r5xx, rdrop) = (inner.roll(), inner.roll(), inner.roll());
        if r429 < f.rate_429 {
            return too_many();
        }
        if r5xx < f.rate_5xx {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "Internal Server Error",
                json!({}),
            );
        }
        (f.latency_ms, rdrop < f.rate_drop)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let mut inner = shared.lock();
    let mut resp = match authenticate(&inner, &headers) {
        Err(r) => r,
        Ok((user, scopes)) => {
            let req = Req {
                method,
                segs,
                query,
                headers,
                body,
                user,
            };
            route(&mut inner, &req, &scopes)
        }
    };
    // The Date header follows the emulator clock, the same clock as Modified_Time, so a client
    // taking its watermark from the server's time sees a consistent value.
    let date = chrono::DateTime::<chrono::Utc>::from_timestamp(inner.clock.now(), 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(v) = header::HeaderValue::from_str(&date) {
        resp.headers_mut().insert(header::DATE, v);
    }
    drop(inner);
    if drop_it {
        conn.kill();
    }
    resp
}

fn authenticate(inner: &Inner, headers: &HeaderMap) -> Result<(u64, Vec<String>), Response> {
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_FAILURE",
            "Authentication failed",
            json!({}),
        ));
    };
    let Some(token) = auth.strip_prefix("Zoho-oauthtoken ") else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_FAILURE",
            "Authentication failed",
            json!({}),
        ));
    };
    match inner.access.get(token.trim()) {
        Some(a) if a.expires_at > inner.clock.now() => Ok((a.user, a.scopes.clone())),
        _ => Err(error(
            StatusCode::UNAUTHORIZED,
            "INVALID_TOKEN",
            "invalid oauth token",
            json!({}),
        )),
    }
}

/// Does any granted scope allow `group[.sub].op`?
fn scope_allows(scopes: &[String], group: &str, sub: Option<&str>, op: &str) -> bool {
    scopes.iter().any(|s| {
        let p: Vec<&str> = s.split('.').collect();
        if p.len() < 3 || !p[0].eq_ignore_ascii_case("ZohoCRM") || !p[1].eq_ignore_ascii_case(group)
        {
            return false;
        }
        let granted_op = p[p.len() - 1].to_ascii_uppercase();
        let sub_ok = match (p.len(), sub) {
            (3, _) => true,
            (4, Some(want)) => p[2].eq_ignore_ascii_case(want),
            _ => false,
        };
        let op_ok = granted_op == "ALL"
            || granted_op == op
            || (granted_op == "WRITE" && matches!(op, "CREATE" | "UPDATE" | "DELETE"));
        sub_ok && op_ok
    })
}

fn scope_error() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "OAUTH_SCOPE_MISMATCH",
        "Unauthorized",
        json!({}),
    )
}

fn invalid_module() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "INVALID_MODULE",
        "the module name given seems to be invalid",
        json!({}),
    )
}

fn bad_param(code: &str, message: &str, param: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        code,
        message,
        json!({"param_name": param}),
    )
}

fn route(inner: &mut Inner, req: &Req, scopes: &[String]) -> Response {
    let enforce = inner.cfg.enforce_scopes;
    let need =
        |group: &str, sub: Option<&str>, op: &str| !enforce || scope_allows(scopes, group, sub, op);
    let segs: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    let m = &req.method;
    match segs.as_slice() {
        ["settings", "modules"] if m == Method::GET => {
            if !need("settings", Some("modules"), "READ") {
                return scope_error();
            }
            modules(inner)
        }
        ["settings", "fields"] if m == Method::GET => {
            if !need("settings", Some("fields"), "READ") {
                return scope_error();
            }
            settings_fields(inner, req)
        }
        ["settings", "custom_views"] if m == Method::GET => {
            if !need("settings", Some("custom_views"), "READ") {
                return scope_error();
            }
            custom_views(inner, req)
        }
        ["users"] | ["users", _] if m == Method::GET => {
            if !need("users", None, "READ") {
                return scope_error();
            }
            users(inner, req)
        }
        ["org"] if m == Method::GET => {
            if !need("org", None, "READ") {
                return scope_error();
            }
            org(inner)
        }
        ["coql"] if m == Method::POST => {
            if !need("coql", None, "READ") {
                return scope_error();
            }
            coql::run(inner, req, &|kind: Kind| {
                need(
                    "modules",
                    Some(&kind.default_api_name().to_ascii_lowercase()),
                    "READ",
                )
            })
        }
        [module, rest @ ..] => {
            let Some(kind) = inner.kind_by_name(module) else {
                return invalid_module();
            };
            let sub = kind.default_api_name().to_ascii_lowercase();
            let op = match (m, rest) {
                (&Method::GET, _) => "READ",
                (&Method::POST, ["upsert"]) => "CREATE",
                (&Method::POST, _) => "CREATE",
                (&Method::PUT, _) => "UPDATE",
                (&Method::DELETE, _) => "DELETE",
                _ => "READ",
            };
            if !need("modules", Some(&sub), op)
                || (rest == ["upsert"] && !need("modules", Some(&sub), "UPDATE"))
            {
                return scope_error();
            }
            match (m, rest) {
                (&Method::GET, []) => list(inner, kind, req),
                (&Method::GET, ["deleted"]) => deleted(inner, kind, req),
                (&Method::GET, ["search"]) => super::search::run(inner, kind, req),
                (&Method::GET, [id]) => get_one(inner, kind, req, id),
                (&Method::POST, []) => write(inner, kind, req, WriteKind::Insert, None),
                (&Method::POST, ["upsert"]) => write(inner, kind, req, WriteKind::Upsert, None),
                (&Method::PUT, []) => write(inner, kind, req, WriteKind::Update, None),
                (&Method::PUT, [id]) => write(inner, kind, req, WriteKind::Update, Some(id)),
                (&Method::DELETE, []) => {
                    let ids = req.query.get("ids").cloned().unwrap_or_default();
                    delete(inner, kind, req, &ids)
                }
                (&Method::DELETE, [id]) => delete(inner, kind, req, id),
                _ => url_pattern(),
            }
        }
        _ => url_pattern(),
    }
}

fn url_pattern() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "INVALID_URL_PATTERN",
        "Please check if the URL trying to access is a correct one",
        json!({}),
    )
}

fn modules(inner: &Inner) -> Response {
    let list: Vec<Value> = Kind::ALL
        .iter()
        .map(|k| {
            json!({
                "api_name": inner.name_of(*k),
                "module_name": inner.name_of(*k),
                "singular_label": k.singular_label(),
                "plural_label": k.plural_label(),
                "id": k.module_id().to_string(),
                "api_supported": true,
                "generated_type": "default",
                "creatable": true,
                "editable": true,
                "deletable": true,
                "viewable": true,
                "visible": true,
            })
        })
        .collect();
    Json(json!({"modules": list})).into_response()
}

fn settings_fields(inner: &Inner, req: &Req) -> Response {
    let Some(name) = req.query.get("module") else {
        return bad_param(
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            "module",
        );
    };
    let Some(kind) = inner.kind_by_name(name) else {
        return invalid_module();
    };
    let fields: Vec<Value> = inner
        .schema(kind)
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut v = field_json(kind, i, d);
            if let Some(target) = v.pointer("/lookup/module/api_name").and_then(Value::as_str) {
                if let Some(t) = inner.kind_by_name(target).or(Kind::ALL
                    .iter()
                    .copied()
                    .find(|k| k.default_api_name() == target))
                {
                    v["lookup"]["module"]["api_name"] = json!(inner.name_of(t));
                }
            }
            v
        })
        .collect();
    Json(json!({"fields": fields})).into_response()
}

fn custom_views(inner: &Inner, req: &Req) -> Response {
    let Some(name) = req.query.get("module") else {
        return bad_param(
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            "module",
        );
    };
    let Some(kind) = inner.kind_by_name(name) else {
        return invalid_module();
    };
    let views: Vec<Value> = inner
        .views
        .iter()
        .filter(|v| v.kind == kind)
        .map(|v| json!({"id": v.id.to_string(), "name": v.name, "display_value": v.name, "system_defined": false, "default": false}))
        .collect();
    if views.is_empty() {
        return no_content();
    }
    Json(json!({"custom_views": views})).into_response()
}

fn user_json(inner: &Inner, u: &super::state::User) -> Value {
    let (first, last) = match u.full_name.rsplit_once(' ') {
        Some((f, l)) => (Some(f.to_owned()), l.to_owned()),
        None => (None, u.full_name.clone()),
    };
    let offset = u.offset;
    json!({
        "id": u.id.to_string(),
        "full_name": u.full_name,
        "first_name": first,
        "last_name": last,
        "email": u.email,
        "time_zone": u.time_zone,
        "status": "active",
        "confirm": true,
        "locale": "en_US",
        "country_locale": "en_US",
        "time_format": "HH:mm",
        "date_format": "MM-dd-yyyy",
        "role": {"name": "CEO", "id": "4876876000000026005"},
        "profile": {"name": "Administrator", "id": "4876876000000026011"},
        "zuid": u.id.to_string(),
        "Modified_Time": super::state::render_time(inner.clock.now(), offset),
    })
}

fn users(inner: &Inner, req: &Req) -> Response {
    let list: Vec<Value> = match req.segs.get(1) {
        Some(id) => inner
            .find_user(id)
            .into_iter()
            .map(|u| user_json(inner, u))
            .collect(),
        None => match req.query.get("type").map(String::as_str) {
            Some("CurrentUser") => inner
                .user(req.user)
                .into_iter()
                .map(|u| user_json(inner, u))
                .collect(),
            _ => inner.users.iter().map(|u| user_json(inner, u)).collect(),
        },
    };
    if list.is_empty() {
        return no_content();
    }
    let n = list.len();
    Json(json!({"users": list, "info": {"per_page": 200, "count": n, "page": 1, "more_records": false}}))
        .into_response()
}

fn org(inner: &Inner) -> Response {
    let first = inner.users.first();
    Json(json!({"org": [{
        "id": "4876876000000012345",
        "company_name": "Emulated Org",
        "primary_email": first.map(|u| u.email.clone()),
        "time_zone": first.map(|u| u.time_zone.clone()),
        "iso_code": "USD",
        "currency_symbol": "$",
        "domain_name": "org4876876",
    }]}))
    .into_response()
}

fn if_modified_since(req: &Req, name: &str) -> Result<Option<i64>, Response> {
    match req.headers.get(name) {
        None => Ok(None),
        Some(v) => match v.to_str().ok().and_then(parse_time) {
            Some(t) => Ok(Some(t)),
            None => Err(error(
                StatusCode::BAD_REQUEST,
                "INVALID_DATA",
                "invalid data",
                json!({"header_name": name}),
            )),
        },
    }
}

fn list(inner: &mut Inner, kind: Kind, req: &Req) -> Response {
    let q = &req.query;
    let fields: Option<Vec<String>> = q.get("fields").map(|f| {
        f.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    });
    if let Some(ids) = q.get("ids") {
        let found: Vec<Value> = ids
            .split(',')
            .filter_map(|s| s.trim().parse::<u64>().ok())
            .filter_map(|id| inner.table(kind).by_id.get(&id))
            .map(|r| inner.render(kind, r, req.user, fields.as_deref()))
            .collect();
        if found.is_empty() {
            return no_content();
        }
        let n = found.len();
        return Json(json!({"data": found, "info": {"per_page": n, "count": n, "page": 1, "more_records": false}}))
            .into_response();
    }
    let Some(fields) = fields.filter(|f| !f.is_empty()) else {
        return bad_param(
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            "fields",
        );
    };
    if fields.len() > 50 {
        return error(
            StatusCode::BAD_REQUEST,
            "LIMIT_EXCEEDED",
            "The number of fields exceeds the limit",
            json!({"param_name": "fields", "limit": 50}),
        );
    }
    let per_page = match q.get("per_page").map(|s| s.parse::<usize>()) {
        None => inner.cfg.max_per_page,
        Some(Ok(n)) if n >= 1 => n.min(inner.cfg.max_per_page),
        Some(_) => return bad_param("INVALID_DATA", "invalid data", "per_page"),
    };
    let sort_by = q.get("sort_by").cloned();
    if let Some(s) = &sort_by {
        if !matches!(s.as_str(), "id" | "Created_Time" | "Modified_Time") {
            return bad_param("INVALID_DATA", "invalid data", "sort_by");
        }
    }
    let sort_order = q
        .get("sort_order")
        .cloned()
        .unwrap_or_else(|| "desc".to_owned());
    if sort_order != "asc" && sort_order != "desc" {
        return bad_param("INVALID_DATA", "invalid data", "sort_order");
    }
    let view = match q.get("cvid") {
        None => None,
        Some(c) => {
            if sort_by.is_some() {
                return bad_param(
                    "INVALID_DATA",
                    "sort_by cannot be used with cvid",
                    "sort_by",
                );
            }
            match inner
                .views
                .iter()
                .find(|v| v.id.to_string() == *c && v.kind == kind)
            {
                Some(v) => Some(v.filter.clone()),
                None => return bad_param("INVALID_DATA", "invalid data", "cvid"),
            }
        }
    };
    let sort_by = sort_by.unwrap_or_else(|| "id".to_owned());
    let ims = match if_modified_since(req, "if-modified-since") {
        Ok(t) => t,
        Err(r) => return r,
    };
    if q.contains_key("page") && q.contains_key("page_token") {
        return error(
            StatusCode::BAD_REQUEST,
            "AMBIGUITY_DURING_PROCESSING",
            "page and page_token cannot be given together",
            json!({"ambiguity_due_to": ["page", "page_token"]}),
        );
    }
    let binding = format!(
        "{}|{}|{}|{}|{}|{:?}|{:?}",
        kind.default_api_name(),
        fields.join(","),
        per_page,
        sort_by,
        sort_order,
        q.get("cvid"),
        ims
    );
    let now = inner.clock.now();
    // Where this page starts: after a key (page_token) or at an offset (page number).
    let (after, skip, page, served) = match q.get("page_token") {
        Some(t) => match inner.page_tokens.get(t) {
            None => return bad_param("INVALID_DATA", "invalid data", "page_token"),
            Some(pt) if pt.expires_at < now => {
                return bad_param(
                    "EXPIRED_VALUE",
                    "the given page token is expired",
                    "page_token",
                )
            }
            Some(pt) if pt.user != req.user || pt.binding != binding => {
                return bad_param(
                    "TOKEN_BOUND_DATA_MISMATCH",
                    "the parameters do not match the ones the page token was issued for",
                    "page_token",
                )
            }
            Some(pt) => {
                if pt.served >= inner.cfg.page_token_limit {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "PAGINATION_LIMIT_EXCEEDED",
                        "cannot fetch more records",
                        json!({"limit": inner.cfg.page_token_limit}),
                    );
                }
                (Some(pt.after), 0, pt.page, pt.served)
            }
        },
        None => {
            let page = match q.get("page").map(|s| s.parse::<usize>()) {
                None => 1,
                Some(Ok(n)) if n >= 1 => n,
                Some(_) => return bad_param("INVALID_DATA", "invalid data", "page"),
            };
            let limit = inner.cfg.discrete_page_limit;
            if page.saturating_mul(per_page) > limit && page > 1 {
                return error(
                    StatusCode::BAD_REQUEST,
                    "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                    &format!("cannot fetch more than {limit} records. Use page_token for fetching more records."),
                    json!({"limit": limit}),
                );
            }
            (None, (page - 1) * per_page, page, (page - 1) * per_page)
        }
    };
    let table = inner.table(kind);
    let index = table.index(&sort_by);
    let iter: Box<dyn Iterator<Item = &(i64, u64)>> = match (sort_order.as_str(), after) {
        ("asc", None) => Box::new(index.iter()),
        ("asc", Some(a)) => Box::new(index.range((Bound::Excluded(a), Bound::Unbounded))),
        (_, None) => Box::new(index.iter().rev()),
        (_, Some(a)) => Box::new(index.range(..a).rev()),
    };
    let matches = |id: u64| {
        let Some(r) = table.by_id.get(&id) else {
            return false;
        };
        if ims.is_some_and(|t| r.modified < t) {
            return false;
        }
        match &view {
            None | Some(ViewFilter::All) => true,
            Some(ViewFilter::OwnerIs { user_id }) => r.owner.to_string() == *user_id,
            Some(ViewFilter::FieldEquals { field, value }) => {
                r.fields.get(field).is_some_and(|v| same_text(v, value))
            }
        }
    };
    let picked: Vec<(i64, u64)> = iter
        .filter(|k| matches(k.1))
        .skip(skip)
        .take(per_page + 1)
        .copied()
        .collect();
    let more = picked.len() > per_page;
    let page_keys = &picked[..picked.len().min(per_page)];
    if page_keys.is_empty() {
        return if ims.is_some() {
            not_modified()
        } else {
            no_content()
        };
    }
    let data: Vec<Value> = page_keys
        .iter()
        .filter_map(|k| table.by_id.get(&k.1))
        .map(|r| inner.render(kind, r, req.user, Some(&fields)))
        .collect();
    let count = data.len();
    let last = page_keys[count - 1];
    let (next, expiry) = if more {
        let token = inner.new_token().replace("1000.", "");
        let expires_at = now + 86_400;
        inner.page_tokens.insert(
            token.clone(),
            PageToken {
                user: req.user,
                binding,
                after: last,
                served: served + count,
                page: page + 1,
                expires_at,
            },
        );
        (
            Value::String(token),
            Value::String(inner.render_time(expires_at, req.user)),
        )
    } else {
        (Value::Null, Value::Null)
    };
    Json(json!({
        "data": data,
        "info": {
            "per_page": per_page,
            "count": count,
            "page": page,
            "sort_by": sort_by,
            "sort_order": sort_order,
            "more_records": more,
            "next_page_token": next,
            "previous_page_token": Value::Null,
            "page_token_expiry": expiry,
            "call": false,
            "email": false,
        }
    }))
    .into_response()
}

fn get_one(inner: &Inner, kind: Kind, req: &Req, id: &str) -> Response {
    let fields: Option<Vec<String>> = req
        .query
        .get("fields")
        .map(|f| f.split(',').map(|s| s.trim().to_owned()).collect());
    match id
        .parse::<u64>()
        .ok()
        .and_then(|id| inner.table(kind).by_id.get(&id))
    {
        Some(r) => Json(json!({"data": [inner.render(kind, r, req.user, fields.as_deref())]}))
            .into_response(),
        None => no_content(),
    }
}

fn deleted(inner: &Inner, kind: Kind, req: &Req) -> Response {
    let ty = req
        .query
        .get("type")
        .cloned()
        .unwrap_or_else(|| "all".to_owned());
    if !matches!(ty.as_str(), "all" | "recycle" | "permanent") {
        return error(
            StatusCode::BAD_REQUEST,
            "PATTERN_NOT_MATCHED",
            "Please check whether the input values are correct",
            json!({"param_name": "type"}),
        );
    }
    let ims = match if_modified_since(req, "if-modified-since") {
        Ok(t) => t,
        Err(r) => return r,
    };
    let per_page = req
        .query
        .get("per_page")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(200)
        .clamp(1, inner.cfg.max_per_page);
    let page = req
        .query
        .get("page")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let mut items: Vec<&super::records::Deleted> = inner
        .table(kind)
        .deleted
        .iter()
        .filter(|d| match ty.as_str() {
            "recycle" => !d.permanent,
            "permanent" => d.permanent,
            _ => true,
        })
        .filter(|d| ims.is_none_or(|t| d.deleted_time >= t))
        .collect();
    items.sort_by(|a, b| b.deleted_time.cmp(&a.deleted_time).then(b.id.cmp(&a.id)));
    let start = (page - 1) * per_page;
    let slice: Vec<Value> = items
        .iter()
        .skip(start)
        .take(per_page)
        .map(|d| {
            let who = |u: Option<u64>| match u.and_then(|id| inner.user(id)) {
                Some(u) => json!({"name": u.full_name, "id": u.id.to_string()}),
                None => Value::Null,
            };
            json!({
                "deleted_by": who(d.deleted_by),
                "id": d.id.to_string(),
                "display_name": d.display_name,
                "type": if d.permanent { "permanent" } else { "recycle" },
                "created_by": who(d.created_by),
                "deleted_time": inner.render_time(d.deleted_time, req.user),
            })
        })
        .collect();
    if slice.is_empty() {
        return if ims.is_some() {
            not_modified()
        } else {
            no_content()
        };
    }
    let n = slice.len();
    Json(json!({
        "data": slice,
        "info": {"per_page": per_page, "count": n, "page": page, "more_records": items.len() > start + n}
    }))
    .into_response()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    Insert,
    Update,
    Upsert,
}

fn parse_body(req: &Req) -> Result<Vec<Map<String, Value>>, Response> {
    let body: Value = serde_json::from_slice(&req.body).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "INVALID_DATA",
            "body",
            json!({"expected_data_type": "jsonobject"}),
        )
    })?;
    let Some(data) = body.get("data").and_then(Value::as_array) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": "data"}),
        ));
    };
    if data.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": "data"}),
        ));
    }
    if data.len() > 100 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "LIMIT_EXCEEDED",
            "the number of records exceeds the limit",
            json!({"limit": 100}),
        ));
    }
    if let Some(t) = body.get("trigger") {
        if !t.is_array() {
            return Err(bad_param("INVALID_DATA", "invalid data", "trigger"));
        }
    }
    let mut out = Vec::new();
    for (i, r) in data.iter().enumerate() {
        match r.as_object() {
            Some(o) => out.push(o.clone()),
            None => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_DATA",
                    "invalid data",
                    json!({"json_path": format!("$.data[{i}]")}),
                ))
            }
        }
    }
    Ok(out)
}

fn success(inner: &Inner, kind: Kind, id: u64, user: u64, message: &str) -> Value {
    json!({"code": "SUCCESS", "details": inner.success_details(kind, id, user), "message": message, "status": "success"})
}

fn already_modified(inner: &Inner, kind: Kind, id: u64, user: u64) -> ItemError {
    let r = inner.table(kind).by_id.get(&id);
    ItemError::new(
        "ALREADY_MODIFIED",
        "record updated time has already passed if-unmodified-since time",
        json!({
            "Modified_Time": r.map(|r| inner.render_time(r.modified, user)),
            "Modified_By": r.map(|r| inner.user_ref(r.modified_by)),
            "id": id.to_string(),
        }),
    )
}

fn write(
    inner: &mut Inner,
    kind: Kind,
    req: &Req,
    wk: WriteKind,
    path_id: Option<&str>,
) -> Response {
    let mut records = match parse_body(req) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if let Some(id) = path_id {
        records.truncate(1);
        if let Some(r) = records.first_mut() {
            r.insert("id".to_owned(), Value::String(id.to_owned()));
        }
    }
    let ius = match if_modified_since(req, "if-unmodified-since") {
        Ok(t) => t,
        Err(r) => return r,
    };
    let dup_fields: Vec<String> = match serde_json::from_slice::<Value>(&req.body)
        .ok()
        .and_then(|b| b.get("duplicate_check_fields").cloned())
    {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => {
            let mut v: Vec<String> = kind
                .system_duplicate_field()
                .map(str::to_owned)
                .into_iter()
                .collect();
            v.extend(
                inner
                    .schema(kind)
                    .iter()
                    .filter(|d| d.unique)
                    .map(|d| d.api_name.clone()),
            );
            v
        }
    };
    let stamp = inner.clock.stamp();
    let user = req.user;
    let mut results: Vec<Result<Value, ItemError>> = Vec::new();
    for (i, rec) in records.iter().enumerate() {
        let target = match wk {
            WriteKind::Insert => None,
            WriteKind::Update => match rec.get("id") {
                None | Some(Value::Null) => {
                    results.push(Err(ItemError::new(
                        "MANDATORY_NOT_FOUND",
                        "required field not found",
                        json!({"api_name": "id", "json_path": format!("$.data[{i}].id")}),
                    )));
                    continue;
                }
                Some(v) => {
                    let id = match v {
                        Value::String(s) => s.parse::<u64>().ok(),
                        Value::Number(n) => n.as_u64(),
                        _ => None,
                    };
                    match id.filter(|id| inner.table(kind).by_id.contains_key(id)) {
                        Some(id) => Some((id, None)),
                        None => {
                            results.push(Err(ItemError::new(
                                "INVALID_DATA",
                                "the id given seems to be invalid",
                                json!({"api_name": "id", "json_path": format!("$.data[{i}].id")}),
                            )));
                            continue;
                        }
                    }
                }
            },
            WriteKind::Upsert => dup_fields.iter().find_map(|f| {
                let v = rec
                    .get(f)
                    .filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))?;
                inner
                    .find_by_field(kind, f, v)
                    .first()
                    .map(|id| (*id, Some(f.clone())))
            }),
        };
        let res = match target {
            None => match inner.normalise(kind, rec, i, Mode::Insert, None) {
                Err(e) => Err(e),
                Ok((fields, owner)) => {
                    let id = inner.store_new(kind, fields, owner, user, stamp);
                    let mut s = success(inner, kind, id, user, "record added");
                    if wk == WriteKind::Upsert {
                        s["action"] = json!("insert");
                        s["duplicate_field"] = Value::Null;
                    }
                    Ok(s)
                }
            },
            Some((id, dup_field)) => {
                let existing = inner.table(kind).by_id.get(&id).cloned();
                if ius.is_some_and(|t| existing.as_ref().is_some_and(|r| r.modified > t)) {
                    Err(already_modified(inner, kind, id, user))
                } else {
                    match inner.normalise(kind, rec, i, Mode::Update, existing.as_ref()) {
                        Err(e) => Err(e),
                        Ok((fields, owner)) => {
                            inner.store_update(kind, id, fields, owner, user, stamp);
                            let mut s = success(inner, kind, id, user, "record updated");
                            if wk == WriteKind::Upsert {
                                s["action"] = json!("update");
                                s["duplicate_field"] = json!(dup_field);
                            }
                            Ok(s)
                        }
                    }
                }
            }
        };
        results.push(res);
    }
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let all_412 = results
        .iter()
        .all(|r| matches!(r, Err(e) if e.code == "ALREADY_MODIFIED"));
    let status = if ok == results.len() {
        if wk == WriteKind::Insert {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        }
    } else if ok > 0 {
        StatusCode::MULTI_STATUS
    } else if all_412 {
        StatusCode::PRECONDITION_FAILED
    } else {
        StatusCode::BAD_REQUEST
    };
    let data: Vec<Value> = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| e.json()))
        .collect();
    (status, Json(json!({"data": data}))).into_response()
}

fn delete(inner: &mut Inner, kind: Kind, req: &Req, ids: &str) -> Response {
    let ids: Vec<&str> = ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() {
        return bad_param(
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            "ids",
        );
    }
    if ids.len() > 100 {
        return error(
            StatusCode::BAD_REQUEST,
            "LIMIT_EXCEEDED",
            "You cannot give more than 100 record ids",
            json!({"limit": 100}),
        );
    }
    let stamp = inner.clock.stamp();
    let mut ok = 0;
    let mut data = Vec::new();
    for s in &ids {
        let id = s.parse::<u64>().ok();
        let item = match id {
            Some(id) if inner.store_delete(kind, id, req.user, false, stamp) => {
                ok += 1;
                json!({"code": "SUCCESS", "details": {"id": id.to_string()}, "message": "record deleted", "status": "success"})
            }
            Some(id) if inner.table(kind).deleted_ids.contains(&id) => ItemError::new(
                "ID_ALREADY_DELETED",
                "record already deleted",
                json!({"id": id.to_string()}),
            )
            .json(),
            _ => ItemError::new(
                "INVALID_DATA",
                "the related id given seems to be invalid",
                json!({"id": s}),
            )
            .json(),
        };
        data.push(item);
    }
    let status = if ok == ids.len() {
        StatusCode::OK
    } else if ok > 0 {
        StatusCode::MULTI_STATUS
    } else {
        StatusCode::BAD_REQUEST
    };
    (status, Json(json!({"data": data}))).into_response()
}
