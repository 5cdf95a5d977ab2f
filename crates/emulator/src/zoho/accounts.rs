//! The accounts server (Zoho OAuth 2.0): `/oauth/v2/auth`, `/oauth/v2/token`,
//! `/oauth/v2/token/revoke` and `/oauth/serverinfo`. One instance runs per data centre.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::state::{split_scopes, GrantCode, SharedRef};

/// Router state of one accounts server.
#[derive(Clone)]
pub(crate) struct AccountsState {
    pub(crate) shared: SharedRef,
    pub(crate) dc: String,
}

pub(crate) fn router(state: AccountsState) -> Router {
    Router::new()
        .route("/oauth/v2/auth", get(authorize))
        .route("/oauth/v2/token", post(token))
        .route("/oauth/v2/token/revoke", post(revoke))
        .route("/oauth/serverinfo", get(serverinfo))
        .with_state(state)
}

fn page(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<html><body><h1>{text}</h1></body></html>"),
    )
        .into_response()
}

/// Approves at once (there is no one to click) and redirects to the client.
async fn authorize(
    State(st): State<AccountsState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = st.shared.lock();
    inner.count("GET /oauth/v2/auth".to_owned());
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    let Some(redirect_uri) = q.get("redirect_uri").cloned() else {
        return page(StatusCode::BAD_REQUEST, "Invalid Redirect Uri");
    };
    if client_id.is_empty() {
        return page(StatusCode::BAD_REQUEST, "Invalid Client");
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return page(StatusCode::BAD_REQUEST, "Invalid response type");
    }
    let registered = inner
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
        .cloned();
    if inner.cfg.strict {
        match &registered {
            None => return page(StatusCode::BAD_REQUEST, "Invalid Client"),
            Some(c) if !c.redirect_uris.contains(&redirect_uri) => {
                return page(StatusCode::BAD_REQUEST, "Invalid Redirect Uri");
            }
            Some(_) => {}
        }
    }
    let user = match q.get("login_hint") {
        Some(h) => inner.find_user(h).map(|u| u.id),
        None => inner
            .browser_user
            .or_else(|| inner.users.first().map(|u| u.id)),
    };
    let Some(user) = user else {
        return page(StatusCode::BAD_REQUEST, "No such user");
    };
    let challenge = q.get("code_challenge").map(|c| {
        let method = q
            .get("code_challenge_method")
            .cloned()
            .unwrap_or_else(|| "plain".to_owned());
        (method, c.clone())
    });
    if let Some((m, _)) = &challenge {
        if m != "S256" && m != "plain" {
            return page(StatusCode::BAD_REQUEST, "Invalid code_challenge_method");
        }
    }
    let scopes = split_scopes(q.get("scope").map(String::as_str).unwrap_or(""));
    let offline = q.get("access_type").map(String::as_str) == Some("offline");
    let consent = q.get("prompt").map(String::as_str) == Some("consent");
    let first = inner.consents.insert((user, client_id.clone()));
    let dc = inner
        .user(user)
        .map(|u| u.dc.clone())
        .unwrap_or_else(|| st.dc.clone());
    let code = inner.new_token();
    let expires_at = inner.clock.now() + inner.cfg.limits.grant_code_lifetime_secs;
    inner.codes.insert(
        code.clone(),
        GrantCode {
            user,
            client_id,
            redirect_uri: Some(redirect_uri.clone()),
            challenge,
            scopes,
            dc: dc.clone(),
            expires_at,
            used: false,
            issue_refresh: offline && (first || consent),
        },
    );
    let server = inner.accounts_urls.get(&dc).cloned().unwrap_or_default();
    drop(inner);
    let mut url = match url::Url::parse(&redirect_uri) {
        Ok(u) => u,
        Err(_) => return page(StatusCode::BAD_REQUEST, "Invalid Redirect Uri"),
    };
    {
        let mut qp = url.query_pairs_mut();
        if let Some(s) = q.get("state") {
            qp.append_pair("state", s);
        }
        qp.append_pair("code", &code);
        qp.append_pair("location", &dc);
        qp.append_pair("accounts-server", &server);
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

/// Token-endpoint parameters: query string, form body and Basic auth together.
fn params(q: HashMap<String, String>, headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let mut p = q;
    for (k, v) in url::form_urlencoded::parse(body) {
        p.insert(k.into_owned(), v.into_owned());
    }
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(basic.trim()) {
            if let Ok(text) = String::from_utf8(raw) {
                if let Some((id, secret)) = text.split_once(':') {
                    p.entry("client_id".to_owned())
                        .or_insert_with(|| id.to_owned());
                    p.entry("client_secret".to_owned())
                        .or_insert_with(|| secret.to_owned());
                }
            }
        }
    }
    p
}

fn token_error(status: u16, error: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (status, Json(json!({"error": error}))).into_response()
}

fn pkce_ok(challenge: &Option<(String, String)>, verifier: Option<&String>) -> bool {
    match (challenge, verifier) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some((m, c)), Some(v)) if m == "S256" => {
            let digest = Sha256::digest(v.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) == *c
        }
        (Some((_, c)), Some(v)) => c == v,
    }
}

async fn token(
    State(st): State<AccountsState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = params(q, &headers, &body);
    let mut inner = st.shared.lock();
    inner.count("POST /oauth/v2/token".to_owned());
    let err_status = inner.cfg.token_error_status;
    let client_id = p.get("client_id").cloned().unwrap_or_default();
    // Client authentication.
    let registered = inner
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
        .cloned();
    let sent_secret = p.get("client_secret");
    if inner.cfg.strict {
        match &registered {
            None => return token_error(err_status, "invalid_client"),
            Some(c) => {
                if c.client_secret.is_some() && c.client_secret.as_ref() != sent_secret {
                    return token_error(err_status, "invalid_client");
                }
            }
        }
    } else if let (Some(c), Some(s)) = (&registered, sent_secret) {
        if c.client_secret.as_ref().is_some_and(|x| x != s) {
            return token_error(err_status, "invalid_client");
        }
    }
    let api_domain = inner.api_url.clone();
    let lifetime = inner.cfg.limits.access_token_lifetime_secs;
    let legacy = inner.cfg.legacy_expires_shape;
    let shape = |mut v: Value| {
        if legacy {
            v["expires_in_sec"] = json!(lifetime);
            v["expires_in"] = json!(lifetime * 1000);
        } else {
            v["expires_in"] = json!(lifetime);
        }
        v["api_domain"] = json!(api_domain);
        v["token_type"] = json!("Bearer");
        (StatusCode::OK, Json(v)).into_response()
    };
    match p.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = p.get("code").cloned().unwrap_or_default();
            let now = inner.clock.now();
            let Some(g) = inner.codes.get(&code).cloned() else {
                return token_error(err_status, "invalid_code");
            };
            if g.used || g.expires_at < now || g.dc != st.dc || g.client_id != client_id {
                return token_error(err_status, "invalid_code");
            }
            if let Some(expected) = &g.redirect_uri {
                if p.get("redirect_uri") != Some(expected) {
                    return token_error(err_status, "invalid_redirect_uri");
                }
            }
            if !pkce_ok(&g.challenge, p.get("code_verifier")) {
                return token_error(err_status, "invalid_code");
            }
            if let Some(c) = inner.codes.get_mut(&code) {
                c.used = true;
            }
            let mut out = json!({});
            let refresh = if g.issue_refresh {
                let r = inner.issue_refresh(g.user, &client_id, g.scopes.clone(), &g.dc);
                out["refresh_token"] = json!(r);
                Some(r)
            } else {
                None
            };
            let access = inner.mint_access(g.user, refresh.as_deref(), g.scopes.clone());
            out["access_token"] = json!(access);
            out["scope"] = json!(g.scopes.join(" "));
            shape(out)
        }
        Some("refresh_token") => {
            let r = p.get("refresh_token").cloned().unwrap_or_default();
            let Some(rt) = inner.refresh.get(&r).cloned() else {
                return token_error(err_status, "invalid_code");
            };
            // Outside strict mode a refresh token works with any client id, so tokens seeded for
            // DEFAULT_CLIENT_ID serve a connector configured with its own id.
            let wrong_client = inner.cfg.strict && rt.client_id != client_id;
            if rt.dc != st.dc || wrong_client {
                return token_error(err_status, "invalid_code");
            }
            let now = inner.clock.now();
            let window = inner.cfg.limits.mint_window_secs;
            let limit = inner.cfg.limits.mints_per_refresh_token;
            let recent = rt.mints.iter().filter(|t| **t > now - window).count();
            if recent >= limit {
                let status = StatusCode::from_u16(err_status).unwrap_or(StatusCode::OK);
                return (
                    status,
                    Json(json!({
                        "error_description": "You have made too many requests continuously. Please try again after some time.",
                        "error": "Access Denied",
                        "status": "failure",
                    })),
                )
                    .into_response();
            }
            if let Some(x) = inner.refresh.get_mut(&r) {
                x.mints.retain(|t| *t > now - window);
            }
            let access = inner.mint_access(rt.user, Some(&r), rt.scopes.clone());
            shape(json!({"access_token": access, "scope": rt.scopes.join(" ")}))
        }
        _ => token_error(err_status, "unsupported_grant_type"),
    }
}

async fn revoke(
    State(st): State<AccountsState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = params(q, &headers, &body);
    let mut inner = st.shared.lock();
    inner.count("POST /oauth/v2/token/revoke".to_owned());
    let token = p.get("token").cloned().unwrap_or_default();
    let ok = if inner.refresh.get(&token).is_some_and(|r| r.dc == st.dc) {
        inner.revoke_refresh(&token)
    } else {
        inner.access.remove(&token).is_some()
    };
    if ok {
        (StatusCode::OK, Json(json!({"status": "success"}))).into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "failure", "error": "invalid_token"})),
        )
            .into_response()
    }
}

async fn serverinfo(State(st): State<AccountsState>) -> Response {
    let inner = st.shared.lock();
    let locations: serde_json::Map<String, Value> = inner
        .accounts_urls
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Json(json!({"result": "success", "locations": locations})).into_response()
}
