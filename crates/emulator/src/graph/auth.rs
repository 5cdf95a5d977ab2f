//! The Microsoft identity platform (v2) authority: authorize, token and devicecode.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State as AxState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use base64::Engine as _;
use chrono::Duration;
use serde_json::{json, Value};
use sha2::Digest as _;

use super::state::{AuthCode, DeviceFlow, DeviceStatus, RefreshToken, State};
use super::Shared;

/// The authority's routes.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(devicecode))
        .with_state(shared)
}

fn valid_tenant(t: &str) -> bool {
    matches!(t, "common" | "organizations" | "consumers")
        || (t.len() == 36 && t.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        || (t.contains('.')
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
}

/// An AAD error body: `{error, error_description, error_codes, timestamp, trace_id, correlation_id}`.
fn aad_error(st: &mut State, status: u16, error: &str, code: u32, text: &str) -> Response {
    let now = st.now();
    let trace = st.new_guid();
    let corr = st.new_guid();
    let ts = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {corr} Timestamp: {ts}"),
        "error_codes": [code],
        "timestamp": ts,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": "https://login.microsoftonline.com/error?code=".to_string() + &code.to_string(),
    });
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(body),
    )
        .into_response()
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

fn redirect_ok(uri: &str) -> bool {
    match url::Url::parse(uri) {
        Ok(u) => {
            u.scheme() == "http" && matches!(u.host_str(), Some("localhost") | Some("127.0.0.1"))
        }
        Err(_) => false,
    }
}

fn has_scope(scope: &str, s: &str) -> bool {
    scope.split_whitespace().any(|x| x.eq_ignore_ascii_case(s))
}

/// The AADSTS90002 answer for a tenant that does not exist, if `tenant` is not valid.
fn unknown_tenant(st: &mut State, tenant: &str) -> Option<Response> {
    (!valid_tenant(tenant)).then(|| {
        aad_error(
            st,
            400,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
        )
    })
}

/// The AADSTS700016 answer for an application the directory does not know.
fn unknown_client(st: &mut State) -> Response {
    aad_error(
        st,
        400,
        "unauthorized_client",
        700016,
        "Application was not found in the directory.",
    )
}

/// [`unknown_client`] when the emulator accepts one client id only and this is another.
fn foreign_client(st: &mut State, client_id: &str) -> Option<Response> {
    let foreign = st.cfg.client_id.as_deref().is_some_and(|c| c != client_id);
    foreign.then(|| unknown_client(st))
}

async fn authorize(
    AxState(shared): AxState<Arc<Shared>>,
    Path(tenant): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut st = lock(&shared);
    st.count("GET /{tenant}/oauth2/v2.0/authorize".into());
    if let Some(r) = unknown_tenant(&mut st, &tenant) {
        return r;
    }
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    if client_id.is_empty() {
        return unknown_client(&mut st);
    }
    if let Some(r) = foreign_client(&mut st, &client_id) {
        return r;
    }
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    if !redirect_ok(&redirect) {
        return aad_error(
            &mut st,
            400,
            "invalid_request",
            50011,
            "The redirect URI specified in the request does not match the redirect URIs configured for the application.",
        );
    }
    let mut target = match url::Url::parse(&redirect) {
        Ok(u) => u,
        Err(_) => {
            return aad_error(
                &mut st,
                400,
                "invalid_request",
                50011,
                "Invalid redirect URI.",
            )
        }
    };
    let state_param = q.get("state").cloned();
    if q.get("response_type").map(String::as_str) != Some("code") {
        let mut pairs = target.query_pairs_mut();
        pairs.append_pair("error", "unsupported_response_type");
        pairs.append_pair(
            "error_description",
            "AADSTS70005: response_type must be 'code'.",
        );
        if let Some(s) = &state_param {
            pairs.append_pair("state", s);
        }
        drop(pairs);
        return (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response();
    }
    let challenge = match q.get("code_challenge") {
        Some(c) => {
            let method = q
                .get("code_challenge_method")
                .cloned()
                .unwrap_or_else(|| "plain".into());
            if method != "S256" && method != "plain" {
                return aad_error(
                    &mut st,
                    400,
                    "invalid_request",
                    501491,
                    "Invalid code_challenge_method.",
                );
            }
            Some((c.clone(), method))
        }
        None => None,
    };
    let code = format!("0.A{}", st.random_b64(48));
    let expires = st.now() + Duration::minutes(10);
    st.auth.codes.insert(
        code.clone(),
        AuthCode {
            client_id,
            redirect_uri: redirect,
            scope: q.get("scope").cloned().unwrap_or_default(),
            challenge,
            expires,
            redeemed: false,
        },
    );
    {
        let mut pairs = target.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(s) = &state_param {
            pairs.append_pair("state", s);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

/// Issues an access token (and a refresh token with `offline_access`).
pub(crate) fn issue_tokens(st: &mut State, client_id: &str, scope: &str) -> Value {
    let access = format!("EwB{}", st.random_b64(60));
    let lifetime = st.cfg.access_token_lifetime_secs;
    let expires = st.now() + Duration::seconds(lifetime);
    st.auth.access.insert(access.clone(), expires);
    let mut out = json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    });
    if has_scope(scope, "offline_access") {
        let refresh = format!("M.C5{}", st.random_b64(60));
        st.auth.refresh.insert(
            refresh.clone(),
            RefreshToken {
                client_id: client_id.to_string(),
                scope: scope.to_string(),
                valid: true,
            },
        );
        out["refresh_token"] = Value::String(refresh);
    }
    if has_scope(scope, "openid") {
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let u = st.cfg.user.clone();
        let header = json!({"typ": "JWT", "alg": "none"});
        let claims = json!({"aud": client_id, "iss": "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0", "oid": u.id, "name": u.display_name, "preferred_username": u.user_principal_name, "tid": "9188040d-6c67-4c5b-b112-36a304b66dad", "ver": "2.0"});
        out["id_token"] = Value::String(format!("{}.{}.", b64(&header), b64(&claims)));
    }
    out
}

async fn token(
    AxState(shared): AxState<Arc<Shared>>,
    Path(tenant): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let mut st = lock(&shared);
    st.count("POST /{tenant}/oauth2/v2.0/token".into());
    if let Some(r) = unknown_tenant(&mut st, &tenant) {
        return r;
    }
    let client_id = f.get("client_id").cloned().unwrap_or_default();
    if client_id.is_empty() {
        return aad_error(
            &mut st,
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    }
    if let Some(r) = foreign_client(&mut st, &client_id) {
        return r;
    }
    if f.contains_key("client_secret") {
        return aad_error(&mut st, 401, "invalid_client", 700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.");
    }
    let now = st.now();
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = f.get("code").cloned().unwrap_or_default();
            let Some(c) = st.auth.codes.get(&code).cloned() else {
                return aad_error(
                    &mut st,
                    400,
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid.",
                );
            };
            if c.redeemed {
                return aad_error(&mut st, 400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.");
            }
            if c.expires < now {
                return aad_error(&mut st, 400, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity.");
            }
            if c.client_id != client_id {
                return aad_error(
                    &mut st,
                    400,
                    "invalid_grant",
                    70002,
                    "The client does not match the client that requested the code.",
                );
            }
            if f.get("redirect_uri") != Some(&c.redirect_uri) {
                return aad_error(
                    &mut st,
                    400,
                    "invalid_grant",
                    50148,
                    "The redirect URI does not match the one used in the authorization request.",
                );
            }
            if let Some((challenge, method)) = &c.challenge {
                let Some(verifier) = f.get("code_verifier") else {
                    return aad_error(&mut st, 400, "invalid_grant", 50148, "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.");
                };
                let computed = if method == "S256" {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(sha2::Sha256::digest(verifier.as_bytes()))
                } else {
                    verifier.clone()
                };
                if &computed != challenge {
                    return aad_error(&mut st, 400, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.");
                }
            }
            if let Some(c) = st.auth.codes.get_mut(&code) {
                c.redeemed = true;
            }
            let scope = f.get("scope").cloned().unwrap_or(c.scope);
            let body = issue_tokens(&mut st, &client_id, &scope);
            axum::Json(body).into_response()
        }
        Some("refresh_token") => {
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            let Some(r) = st.auth.refresh.get(&rt).cloned() else {
                return aad_error(
                    &mut st,
                    400,
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid.",
                );
            };
            if !r.valid {
                return aad_error(&mut st, 400, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity.");
            }
            if r.client_id != client_id {
                return aad_error(
                    &mut st,
                    400,
                    "invalid_grant",
                    70000,
                    "The refresh token was issued to a different client.",
                );
            }
            if !st.cfg.keep_used_refresh_tokens {
                if let Some(r) = st.auth.refresh.get_mut(&rt) {
                    r.valid = false;
                }
            }
            let mut scope = f.get("scope").cloned().unwrap_or_else(|| r.scope.clone());
            if !has_scope(&scope, "offline_access") && has_scope(&r.scope, "offline_access") {
                scope.push_str(" offline_access");
            }
            let body = issue_tokens(&mut st, &client_id, &scope);
            axum::Json(body).into_response()
        }
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            let dc = f.get("device_code").cloned().unwrap_or_default();
            let Some(flow) = st.auth.device.get(&dc).cloned() else {
                return aad_error(
                    &mut st,
                    400,
                    "bad_verification_code",
                    70000,
                    "The device code was not recognised.",
                );
            };
            if flow.client_id != client_id {
                return aad_error(
                    &mut st,
                    400,
                    "bad_verification_code",
                    70000,
                    "The device code was issued to a different client.",
                );
            }
            if flow.expires < now || flow.status == DeviceStatus::Redeemed {
                return aad_error(
                    &mut st,
                    400,
                    "expired_token",
                    70019,
                    "Verification code expired.",
                );
            }
            if flow.status == DeviceStatus::Declined {
                return aad_error(
                    &mut st,
                    400,
                    "authorization_declined",
                    70000,
                    "The user declined the sign-in.",
                );
            }
            let too_fast = flow
                .last_poll
                .is_some_and(|t| now - t < Duration::seconds(flow.interval_secs));
            if let Some(fl) = st.auth.device.get_mut(&dc) {
                fl.last_poll = Some(now);
                if too_fast {
                    fl.interval_secs += 5;
                }
            }
            if too_fast {
                return aad_error(
                    &mut st,
                    400,
                    "slow_down",
                    70016,
                    "The client is polling too quickly; slow down.",
                );
            }
            if flow.status == DeviceStatus::Pending {
                return aad_error(
                    &mut st,
                    400,
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                );
            }
            if let Some(fl) = st.auth.device.get_mut(&dc) {
                fl.status = DeviceStatus::Redeemed;
            }
            let body = issue_tokens(&mut st, &client_id, &flow.scope);
            axum::Json(body).into_response()
        }
        Some(other) => {
            let other = other.to_string();
            aad_error(
                &mut st,
                400,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            )
        }
        None => aad_error(
            &mut st,
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ),
    }
}

async fn devicecode(
    AxState(shared): AxState<Arc<Shared>>,
    Path(tenant): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let mut st = lock(&shared);
    st.count("POST /{tenant}/oauth2/v2.0/devicecode".into());
    if let Some(r) = unknown_tenant(&mut st, &tenant) {
        return r;
    }
    let client_id = f.get("client_id").cloned().unwrap_or_default();
    if client_id.is_empty() {
        return unknown_client(&mut st);
    }
    if let Some(r) = foreign_client(&mut st, &client_id) {
        return r;
    }
    let Some(scope) = f.get("scope").cloned().filter(|s| !s.trim().is_empty()) else {
        return aad_error(
            &mut st,
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let user_code: String = (0..9)
        .map(|_| {
            let i: usize = rand::Rng::random_range(&mut st.rng, 0..ALPHABET.len());
            ALPHABET[i] as char
        })
        .collect();
    let device_code = format!("DAQABAAEAAA{}", st.random_b64(90));
    let lifetime = st.cfg.device_code_lifetime_secs;
    let interval = st.cfg.device_code_interval_secs;
    let expires = st.now() + Duration::seconds(lifetime);
    st.auth.device.insert(
        device_code.clone(),
        DeviceFlow {
            client_id,
            scope,
            expires,
            interval_secs: interval,
            last_poll: None,
            status: DeviceStatus::Pending,
        },
    );
    st.auth
        .user_codes
        .insert(user_code.clone(), device_code.clone());
    let uri = st.cfg.verification_uri.clone();
    axum::Json(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": uri,
        "expires_in": lifetime,
        "interval": interval,
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
    }))
    .into_response()
}

/// Sets the outcome of a pending device-code sign-in; false if the user code is unknown.
pub(crate) fn set_device_status(st: &mut State, user_code: &str, status: DeviceStatus) -> bool {
    let Some(dc) = st.auth.user_codes.get(user_code).cloned() else {
        return false;
    };
    match st.auth.device.get_mut(&dc) {
        Some(f) => {
            f.status = status;
            true
        }
        None => false,
    }
}

/// Expires a device code at once.
pub(crate) fn expire_device_code(st: &mut State, user_code: &str) -> bool {
    let Some(dc) = st.auth.user_codes.get(user_code).cloned() else {
        return false;
    };
    let past = st.now() - Duration::seconds(1);
    match st.auth.device.get_mut(&dc) {
        Some(f) => {
            f.expires = past;
            true
        }
        None => false,
    }
}
