//! Seeding and inspection: operations shared by the Rust handle and the `/_emulator/` routes.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::config::{ClientSpec, Faults, TokenLimits, UserSpec, ViewFilter};
use super::records::Mode;
use super::schema::Kind;
use super::state::{parse_time, split_scopes, GrantCode, Inner, SharedRef, View, ALL_SCOPES};
use super::SeedError;

impl Inner {
    fn acting_user(&self) -> u64 {
        self.users.first().map(|u| u.id).unwrap_or_default()
    }

    fn seed_kind(&self, module: &str) -> Result<Kind, SeedError> {
        self.kind_by_name(module).ok_or_else(|| {
            SeedError::new(
                "INVALID_MODULE",
                "the module name given seems to be invalid",
                json!({"module": module}),
            )
        })
    }

    /// Inserts records as the first user (or their `Owner`), all with one stamp unless a record
    /// carries its own `Created_Time` / `Modified_Time`.
    pub(crate) fn seed_insert(
        &mut self,
        module: &str,
        records: &[Value],
    ) -> Result<Vec<String>, SeedError> {
        let kind = self.seed_kind(module)?;
        let stamp = self.clock.stamp();
        let caller = self.acting_user();
        let mut ids = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let Some(obj) = r.as_object() else {
                return Err(SeedError::new(
                    "INVALID_DATA",
                    "a record must be a JSON object",
                    json!({"index": i}),
                ));
            };
            let (fields, owner) = self
                .normalise(kind, obj, i, Mode::Insert, None)
                .map_err(SeedError::from)?;
            let id = self.store_new(kind, fields, owner, caller, stamp);
            let created = obj
                .get("Created_Time")
                .and_then(Value::as_str)
                .and_then(parse_time);
            let modified = obj
                .get("Modified_Time")
                .and_then(Value::as_str)
                .and_then(parse_time);
            if created.is_some() || modified.is_some() {
                let t = self.table_mut(kind);
                if let Some(mut rec) = t.take(id) {
                    rec.created = created.unwrap_or(rec.created);
                    rec.modified = modified.unwrap_or(rec.modified);
                    t.put(rec);
                }
            }
            ids.push(id.to_string());
        }
        Ok(ids)
    }

    pub(crate) fn seed_update(
        &mut self,
        module: &str,
        id: &str,
        fields: &Value,
    ) -> Result<(), SeedError> {
        let kind = self.seed_kind(module)?;
        let Some(id) = id
            .parse::<u64>()
            .ok()
            .filter(|id| self.table(kind).by_id.contains_key(id))
        else {
            return Err(SeedError::new(
                "INVALID_DATA",
                "the id given seems to be invalid",
                json!({"id": id}),
            ));
        };
        let empty = Map::new();
        let obj = fields.as_object().unwrap_or(&empty);
        let existing = self.table(kind).by_id.get(&id).cloned();
        let (norm, owner) = self
            .normalise(kind, obj, 0, Mode::Update, existing.as_ref())
            .map_err(SeedError::from)?;
        let stamp = self.clock.stamp();
        let caller = self.acting_user();
        self.store_update(kind, id, norm, owner, caller, stamp);
        Ok(())
    }

    pub(crate) fn seed_delete(&mut self, module: &str, id: &str, permanent: bool) -> bool {
        let Some(kind) = self.kind_by_name(module) else {
            return false;
        };
        let Ok(id) = id.parse::<u64>() else {
            return false;
        };
        let stamp = self.clock.stamp();
        let caller = self.acting_user();
        self.store_delete(kind, id, caller, permanent, stamp)
    }

    pub(crate) fn seed_records(&self, module: &str) -> Vec<Value> {
        let Some(kind) = self.kind_by_name(module) else {
            return Vec::new();
        };
        let viewer = self.acting_user();
        let t = self.table(kind);
        t.by_idx
            .iter()
            .filter_map(|k| t.by_id.get(&k.1))
            .map(|r| self.render(kind, r, viewer, None))
            .collect()
    }

    pub(crate) fn seed_record(&self, module: &str, id: &str) -> Option<Value> {
        let kind = self.kind_by_name(module)?;
        let r = self.table(kind).by_id.get(&id.parse().ok()?)?;
        Some(self.render(kind, r, self.acting_user(), None))
    }

    pub(crate) fn seed_deleted(&self, module: &str) -> Vec<Value> {
        let Some(kind) = self.kind_by_name(module) else {
            return Vec::new();
        };
        let viewer = self.acting_user();
        self.table(kind)
            .deleted
            .iter()
            .map(|d| {
                json!({
                    "id": d.id.to_string(),
                    "display_name": d.display_name,
                    "type": if d.permanent { "permanent" } else { "recycle" },
                    "deleted_time": self.render_time(d.deleted_time, viewer),
                })
            })
            .collect()
    }

    pub(crate) fn seed_refresh_token(
        &mut self,
        user: &str,
        client_id: &str,
        scope: Option<&str>,
    ) -> Option<String> {
        let u = self.find_user(user)?.clone();
        let scopes = split_scopes(scope.unwrap_or(ALL_SCOPES));
        self.consents.insert((u.id, client_id.to_owned()));
        Some(self.issue_refresh(u.id, client_id, scopes, &u.dc))
    }

    pub(crate) fn seed_access_token(&mut self, user: &str, scope: Option<&str>) -> Option<String> {
        let u = self.find_user(user)?.clone();
        Some(self.mint_access(u.id, None, split_scopes(scope.unwrap_or(ALL_SCOPES))))
    }

    pub(crate) fn seed_grant_code(
        &mut self,
        user: &str,
        client_id: &str,
        scope: Option<&str>,
        validity_secs: Option<i64>,
    ) -> Option<String> {
        let u = self.find_user(user)?.clone();
        let code = self.new_token();
        let validity = validity_secs.unwrap_or(self.cfg.limits.self_client_code_lifetime_secs);
        let expires_at = self.clock.now() + validity;
        self.codes.insert(
            code.clone(),
            GrantCode {
                user: u.id,
                client_id: client_id.to_owned(),
                redirect_uri: None,
                challenge: None,
                scopes: split_scopes(scope.unwrap_or(ALL_SCOPES)),
                dc: u.dc.clone(),
                expires_at,
                used: false,
                issue_refresh: true,
            },
        );
        Some(code)
    }

    pub(crate) fn seed_view(
        &mut self,
        module: &str,
        name: &str,
        filter: ViewFilter,
    ) -> Option<String> {
        let kind = self.kind_by_name(module)?;
        let id = self.new_id();
        self.views.push(View {
            id,
            kind,
            name: name.to_owned(),
            filter,
        });
        Some(id.to_string())
    }

    pub(crate) fn rename_module(&mut self, from: &str, to: &str) -> bool {
        if self.kind_by_name(to).is_some() {
            return false;
        }
        match self.kind_by_name(from) {
            Some(k) => {
                self.module_names.insert(k, to.to_owned());
                true
            }
            None => false,
        }
    }

    pub(crate) fn set_faults(&mut self, f: Faults) {
        self.rng = rand::SeedableRng::seed_from_u64(f.seed);
        self.faults = f;
    }

    pub(crate) fn users_json(&self) -> Value {
        Value::Array(
            self.users
                .iter()
                .map(|u| {
                    json!({"id": u.id.to_string(), "email": u.email, "full_name": u.full_name, "dc": u.dc,
                           "time_zone": u.time_zone, "utc_offset_minutes": u.offset.local_minus_utc() / 60})
                })
                .collect(),
        )
    }
}

pub(crate) fn router(shared: SharedRef) -> Router {
    Router::new()
        .route("/info", get(info))
        .route("/users", get(list_users).post(add_user))
        .route("/browser_user", post(browser_user))
        .route("/clients", post(add_client))
        .route("/refresh_tokens", post(refresh_token))
        .route("/access_tokens", post(access_token))
        .route("/grant_codes", post(grant_code))
        .route("/expire_tokens", post(expire_tokens))
        .route("/records/{module}", get(list_records).post(insert_records))
        .route("/records/{module}/deleted", get(list_deleted))
        .route(
            "/records/{module}/{id}",
            get(get_record).put(update_record).delete(delete_record),
        )
        .route("/faults", get(get_faults).put(put_faults))
        .route("/counters", get(get_counters).delete(reset_counters))
        .route("/clock", get(get_clock))
        .route("/clock/advance", post(advance_clock))
        .route("/views/{module}", post(add_view))
        .route("/modules/rename", post(rename_module))
        .route("/settings", get(get_settings).put(put_settings))
        .with_state(shared)
}

fn bad(msg: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))).into_response()
}

async fn info(State(s): State<SharedRef>) -> Json<Value> {
    let i = s.lock();
    Json(
        json!({"api_url": i.api_url, "accounts_urls": i.accounts_urls, "data_centres": i.cfg.data_centres}),
    )
}

async fn list_users(State(s): State<SharedRef>) -> Json<Value> {
    Json(json!({"users": s.lock().users_json()}))
}

async fn add_user(State(s): State<SharedRef>, Json(u): Json<UserSpec>) -> Json<Value> {
    let id = s.lock().add_user(&u);
    Json(json!({"id": id.to_string()}))
}

#[derive(Deserialize)]
struct UserRef {
    user: String,
}

async fn browser_user(State(s): State<SharedRef>, Json(b): Json<UserRef>) -> Response {
    let mut i = s.lock();
    match i.find_user(&b.user).map(|u| u.id) {
        Some(id) => {
            i.browser_user = Some(id);
            Json(json!({"id": id.to_string()})).into_response()
        }
        None => not_found(),
    }
}

async fn add_client(State(s): State<SharedRef>, Json(c): Json<ClientSpec>) -> Json<Value> {
    let mut i = s.lock();
    i.clients.retain(|x| x.client_id != c.client_id);
    i.clients.push(c);
    Json(json!({"status": "success"}))
}

#[derive(Deserialize)]
struct TokenReq {
    user: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    validity_secs: Option<i64>,
}

async fn refresh_token(State(s): State<SharedRef>, Json(b): Json<TokenReq>) -> Response {
    let client = b
        .client_id
        .unwrap_or_else(|| super::DEFAULT_CLIENT_ID.to_owned());
    match s
        .lock()
        .seed_refresh_token(&b.user, &client, b.scope.as_deref())
    {
        Some(t) => Json(json!({"refresh_token": t})).into_response(),
        None => not_found(),
    }
}

async fn access_token(State(s): State<SharedRef>, Json(b): Json<TokenReq>) -> Response {
    match s.lock().seed_access_token(&b.user, b.scope.as_deref()) {
        Some(t) => Json(json!({"access_token": t})).into_response(),
        None => not_found(),
    }
}

async fn grant_code(State(s): State<SharedRef>, Json(b): Json<TokenReq>) -> Response {
    let client = b
        .client_id
        .unwrap_or_else(|| super::DEFAULT_CLIENT_ID.to_owned());
    match s
        .lock()
        .seed_grant_code(&b.user, &client, b.scope.as_deref(), b.validity_secs)
    {
        Some(c) => Json(json!({"code": c})).into_response(),
        None => not_found(),
    }
}

async fn expire_tokens(State(s): State<SharedRef>) -> Json<Value> {
    s.lock().expire_all_tokens();
    Json(json!({"status": "success"}))
}

async fn list_records(State(s): State<SharedRef>, Path(module): Path<String>) -> Json<Value> {
    Json(json!({"data": s.lock().seed_records(&module)}))
}

async fn list_deleted(State(s): State<SharedRef>, Path(module): Path<String>) -> Json<Value> {
    Json(json!({"data": s.lock().seed_deleted(&module)}))
}

async fn insert_records(
    State(s): State<SharedRef>,
    Path(module): Path<String>,
    Json(b): Json<Value>,
) -> Response {
    let records = match b.get("data") {
        Some(Value::Array(a)) => a.clone(),
        _ => vec![b],
    };
    match s.lock().seed_insert(&module, &records) {
        Ok(ids) => (StatusCode::CREATED, Json(json!({"ids": ids}))).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(e.to_json())).into_response(),
    }
}

async fn get_record(
    State(s): State<SharedRef>,
    Path((module, id)): Path<(String, String)>,
) -> Response {
    match s.lock().seed_record(&module, &id) {
        Some(r) => Json(r).into_response(),
        None => not_found(),
    }
}

async fn update_record(
    State(s): State<SharedRef>,
    Path((module, id)): Path<(String, String)>,
    Json(b): Json<Value>,
) -> Response {
    let mut i = s.lock();
    match i.seed_update(&module, &id, &b) {
        Ok(()) => Json(i.seed_record(&module, &id).unwrap_or(Value::Null)).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(e.to_json())).into_response(),
    }
}

async fn delete_record(
    State(s): State<SharedRef>,
    Path((module, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let permanent = q.get("permanent").is_some_and(|v| v == "true");
    if s.lock().seed_delete(&module, &id, permanent) {
        Json(json!({"status": "success"})).into_response()
    } else {
        not_found()
    }
}

async fn get_faults(State(s): State<SharedRef>) -> Json<Faults> {
    Json(s.lock().faults.clone())
}

async fn put_faults(State(s): State<SharedRef>, Json(f): Json<Faults>) -> Json<Faults> {
    let mut i = s.lock();
    i.set_faults(f);
    Json(i.faults.clone())
}

async fn get_counters(State(s): State<SharedRef>) -> Json<Value> {
    Json(json!(s.lock().counters))
}

async fn reset_counters(State(s): State<SharedRef>) -> Json<Value> {
    s.lock().counters.clear();
    Json(json!({"status": "success"}))
}

async fn get_clock(State(s): State<SharedRef>) -> Json<Value> {
    let i = s.lock();
    let now = i.clock.now();
    Json(json!({"now": super::records::utc_text(now), "epoch_secs": now}))
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

async fn advance_clock(State(s): State<SharedRef>, Json(a): Json<Advance>) -> Json<Value> {
    let mut i = s.lock();
    i.clock.offset_secs += a.seconds.max(0);
    let now = i.clock.now();
    Json(json!({"now": super::records::utc_text(now), "epoch_secs": now}))
}

#[derive(Deserialize)]
struct ViewReq {
    name: String,
    filter: ViewFilter,
}

async fn add_view(
    State(s): State<SharedRef>,
    Path(module): Path<String>,
    Json(v): Json<ViewReq>,
) -> Response {
    match s.lock().seed_view(&module, &v.name, v.filter) {
        Some(id) => Json(json!({"id": id})).into_response(),
        None => bad("unknown module"),
    }
}

#[derive(Deserialize)]
struct Rename {
    from: String,
    to: String,
}

async fn rename_module(State(s): State<SharedRef>, Json(r): Json<Rename>) -> Response {
    if s.lock().rename_module(&r.from, &r.to) {
        Json(json!({"status": "success"})).into_response()
    } else {
        bad("unknown module or name taken")
    }
}

/// Run-time settings that may change after start (`PUT /_emulator/settings`, all optional).
#[derive(Clone, Debug, Default, serde::Serialize, Deserialize)]
pub struct Settings {
    /// Token lifetimes and limits.
    #[serde(default)]
    pub limits: Option<TokenLimits>,
    /// See [`ZohoConfig::legacy_expires_shape`](super::ZohoConfig::legacy_expires_shape).
    #[serde(default)]
    pub legacy_expires_shape: Option<bool>,
    /// See [`ZohoConfig::token_error_status`](super::ZohoConfig::token_error_status).
    #[serde(default)]
    pub token_error_status: Option<u16>,
    /// See [`ZohoConfig::enforce_scopes`](super::ZohoConfig::enforce_scopes).
    #[serde(default)]
    pub enforce_scopes: Option<bool>,
    /// See [`ZohoConfig::strict`](super::ZohoConfig::strict).
    #[serde(default)]
    pub strict: Option<bool>,
}

impl Inner {
    pub(crate) fn apply_settings(&mut self, s: Settings) {
        if let Some(l) = s.limits {
            self.cfg.limits = l;
        }
        if let Some(v) = s.legacy_expires_shape {
            self.cfg.legacy_expires_shape = v;
        }
        if let Some(v) = s.token_error_status {
            self.cfg.token_error_status = v;
        }
        if let Some(v) = s.enforce_scopes {
            self.cfg.enforce_scopes = v;
        }
        if let Some(v) = s.strict {
            self.cfg.strict = v;
        }
    }

    pub(crate) fn settings(&self) -> Settings {
        Settings {
            limits: Some(self.cfg.limits.clone()),
            legacy_expires_shape: Some(self.cfg.legacy_expires_shape),
            token_error_status: Some(self.cfg.token_error_status),
            enforce_scopes: Some(self.cfg.enforce_scopes),
            strict: Some(self.cfg.strict),
        }
    }
}

async fn get_settings(State(s): State<SharedRef>) -> Json<Settings> {
    Json(s.lock().settings())
}

async fn put_settings(State(s): State<SharedRef>, Json(b): Json<Settings>) -> Json<Settings> {
    let mut i = s.lock();
    i.apply_settings(b);
    Json(i.settings())
}
