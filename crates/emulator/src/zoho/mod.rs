//! A loopback fake of Zoho CRM: accounts servers (OAuth 2.0, one per data centre) and the CRM
//! API server (`/crm/v8/...`, `/crm/v7/...`), with fault knobs, request counters and a seeding
//! API (from Rust, and over HTTP under `/_emulator/` on the API server).
//!
//! It follows the project's reading of Zoho's public docs (`zoho-api.md`), quirks included:
//! token-endpoint errors on HTTP 200, 204 for empty lists, 304 for `If-Modified-Since` with no
//! changes, per-record results with 201/200/207/400, and 412 `ALREADY_MODIFIED`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use crmsync_emulator::zoho::{ZohoConfig, ZohoEmulator};
//! let emu = ZohoEmulator::start(ZohoConfig::default()).await?;
//! let refresh = emu.issue_refresh_token("owner@example.com").expect("seeded user");
//! let id = emu
//!     .insert_record("Contacts", serde_json::json!({"Last_Name": "Lovelace"}))
//!     .expect("valid record");
//! println!("{} {} {refresh} {id}", emu.accounts_url(), emu.api_url());
//! # Ok(()) }
//! ```
//!
//! # Control API (`{api_url}/_emulator/...`, JSON in and out, no auth)
//!
//! | Route | Body → answer |
//! |---|---|
//! | `GET /info` | → `{api_url, accounts_urls: {dc: url}, data_centres}` |
//! | `GET /users`, `POST /users` | [`UserSpec`] → `{id}`; list → `{users: [{id, email, full_name, dc, time_zone, utc_offset_minutes}]}` |
//! | `POST /browser_user` | `{user}` (id or e-mail) → `{id}`: who `/oauth/v2/auth` signs in |
//! | `POST /clients` | [`ClientSpec`] → `{status}` |
//! | `POST /refresh_tokens` | `{user, client_id?, scope?}` → `{refresh_token}` |
//! | `POST /access_tokens` | `{user, scope?}` → `{access_token}` |
//! | `POST /grant_codes` | `{user, client_id?, scope?, validity_secs?}` → `{code}` (self-client) |
//! | `POST /expire_tokens` | → every access token issued so far expires |
//! | `GET /records/{module}` | → `{data: [record…]}` |
//! | `POST /records/{module}` | `{data: [record…]}` or one record → 201 `{ids}`; 400 `{code, message, details, status}` |
//! | `GET`/`PUT`/`DELETE /records/{module}/{id}` | PUT: fields → the record; DELETE `?permanent=true` |
//! | `GET /records/{module}/deleted` | → `{data: [{id, display_name, type, deleted_time}]}` |
//! | `GET`/`PUT /faults` | [`Faults`] (PUT replaces all knobs; missing keys take defaults) |
//! | `GET`/`DELETE /counters` | → `{"GET /Contacts": 3, …}`; DELETE resets |
//! | `GET /clock`, `POST /clock/advance` | `{seconds}` → `{now, epoch_secs}` |
//! | `POST /views/{module}` | `{name, filter: {type: "owner_is", user_id} \| {type: "field_equals", field, value} \| {type: "all"}}` → `{id}` (a `cvid`) |
//! | `POST /modules/rename` | `{from, to}` → `{status}` |
//! | `GET`/`PUT /settings` | [`Settings`] (only the keys given change) |
//!
//! Time: the emulator keeps its own clock (wall time plus [`ZohoEmulator::advance_clock`]),
//! which moves at least one second per write, so `Modified_Time` strictly increases.
//! Not emulated: external ids (`X-EXTERNAL`), notifications (watch), bulk APIs, subforms, tags, layouts.

mod accounts;
mod api;
mod config;
mod control;
mod coql;
mod net;
mod records;
mod schema;
mod search;
mod state;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use axum::Router;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

pub use config::{
    ClientSpec, Faults, RecordFailure, TokenLimits, UserSpec, ViewFilter, ZohoConfig,
};
pub use control::Settings;

use state::{Inner, Shared, SharedRef};

/// Client id used by seeding calls that do not name one.
pub const DEFAULT_CLIENT_ID: &str = "1000.EMULATORCLIENT";

/// Why a seeding call failed: the same `code`, `message` and `details` the API would give.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedError {
    /// Zoho error code, e.g. `MANDATORY_NOT_FOUND`, `INVALID_DATA`, `DUPLICATE_DATA`.
    pub code: String,
    /// Zoho message.
    pub message: String,
    /// Zoho `details` (e.g. `api_name`).
    pub details: Value,
}

impl SeedError {
    fn new(code: &str, message: &str, details: Value) -> Self {
        Self {
            code: code.to_owned(),
            message: message.to_owned(),
            details,
        }
    }

    /// The error as Zoho's JSON item.
    pub fn to_json(&self) -> Value {
        json!({"code": self.code, "message": self.message, "details": self.details, "status": "error"})
    }
}

impl From<records::ItemError> for SeedError {
    fn from(e: records::ItemError) -> Self {
        Self {
            code: e.code,
            message: e.message,
            details: e.details,
        }
    }
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.code, self.message, self.details)
    }
}

impl std::error::Error for SeedError {}

/// A running Zoho emulator. Dropping it stops its servers.
pub struct ZohoEmulator {
    shared: SharedRef,
    api_addr: SocketAddr,
    accounts_addrs: BTreeMap<String, SocketAddr>,
    first_dc: String,
    tasks: Vec<JoinHandle<()>>,
}

impl fmt::Debug for ZohoEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZohoEmulator")
            .field("api", &self.api_addr)
            .field("accounts", &self.accounts_addrs)
            .finish()
    }
}

fn serve(listener: net::KillableListener, router: Router) -> JoinHandle<()> {
    tokio::spawn(async move {
        let app = router.into_make_service_with_connect_info::<net::Conn>();
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!("zoho emulator server stopped: {e}");
        }
    })
}

impl ZohoEmulator {
    /// Binds the API server and one accounts server per data centre on 127.0.0.1 and serves
    /// them on the current tokio runtime.
    pub async fn start(mut config: ZohoConfig) -> std::io::Result<Self> {
        if config.data_centres.is_empty() {
            config.data_centres.push("us".to_owned());
        }
        let (api_listener, api_addr) = net::bind(config.api_port).await?;
        let mut accounts = Vec::new();
        let mut accounts_addrs = BTreeMap::new();
        for dc in &config.data_centres {
            let port = config.accounts_ports.get(dc).copied().unwrap_or(0);
            let (l, addr) = net::bind(port).await?;
            accounts_addrs.insert(dc.clone(), addr);
            accounts.push((dc.clone(), l));
        }
        let first_dc = config.data_centres[0].clone();
        let mut inner = Inner::new(config);
        inner.api_url = format!("http://{api_addr}");
        inner.accounts_urls = accounts_addrs
            .iter()
            .map(|(dc, a)| (dc.clone(), format!("http://{a}")))
            .collect();
        let shared: SharedRef = Arc::new(Shared {
            inner: Mutex::new(inner),
            in_flight: AtomicUsize::new(0),
        });
        let mut tasks = Vec::new();
        let api_router = Router::<SharedRef>::new()
            .nest_service("/_emulator", control::router(shared.clone()))
            .fallback(api::entry)
            .with_state(shared.clone());
        tasks.push(serve(api_listener, api_router));
        for (dc, l) in accounts {
            let r = accounts::router(accounts::AccountsState {
                shared: shared.clone(),
                dc,
            });
            tasks.push(serve(l, r));
        }
        Ok(Self {
            shared,
            api_addr,
            accounts_addrs,
            first_dc,
            tasks,
        })
    }

    /// The API server's base URL (what the token endpoint returns as `api_domain`), e.g.
    /// `http://127.0.0.1:41234`; requests go to `{api_url}/crm/v8/...`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// The first data centre's accounts server (where sign-in starts).
    pub fn accounts_url(&self) -> String {
        self.accounts_url_for(&self.first_dc).unwrap_or_default()
    }

    /// The accounts server of a data centre (`us`, `eu`, …), if configured.
    pub fn accounts_url_for(&self, dc: &str) -> Option<String> {
        self.accounts_addrs.get(dc).map(|a| format!("http://{a}"))
    }

    /// Adds a user (or returns the id of the user with that e-mail).
    pub fn seed_user(&self, user: UserSpec) -> String {
        self.shared.lock().add_user(&user).to_string()
    }

    /// The id of the user with this e-mail.
    pub fn user_id(&self, email: &str) -> Option<String> {
        self.shared
            .lock()
            .find_user(email)
            .map(|u| u.id.to_string())
    }

    /// Makes the authorization page sign in as this user (id or e-mail) when the request has
    /// no `login_hint`.
    pub fn set_browser_user(&self, user: &str) -> bool {
        let mut i = self.shared.lock();
        match i.find_user(user).map(|u| u.id) {
            Some(id) => {
                i.browser_user = Some(id);
                true
            }
            None => false,
        }
    }

    /// Registers (or replaces) an OAuth client.
    pub fn register_client(&self, client: ClientSpec) {
        let mut i = self.shared.lock();
        i.clients.retain(|c| c.client_id != client.client_id);
        i.clients.push(client);
    }

    /// Issues a refresh token for a user (id or e-mail) and [`DEFAULT_CLIENT_ID`] with every
    /// CRM scope; redeem it at the user's data-centre accounts server.
    pub fn issue_refresh_token(&self, user: &str) -> Option<String> {
        self.issue_refresh_token_for(user, DEFAULT_CLIENT_ID, None)
    }

    /// Issues a refresh token for a user, client and comma-separated scope list (`None` = all).
    pub fn issue_refresh_token_for(
        &self,
        user: &str,
        client_id: &str,
        scope: Option<&str>,
    ) -> Option<String> {
        self.shared
            .lock()
            .seed_refresh_token(user, client_id, scope)
    }

    /// Issues an access token directly (not tied to a refresh token).
    pub fn issue_access_token(&self, user: &str, scope: Option<&str>) -> Option<String> {
        self.shared.lock().seed_access_token(user, scope)
    }

    /// Mints a self-client grant code (no redirect URI, always yields a refresh token), valid
    /// for `validity_secs` (default 180).
    pub fn issue_grant_code(
        &self,
        user: &str,
        client_id: &str,
        scope: Option<&str>,
        validity_secs: Option<i64>,
    ) -> Option<String> {
        self.shared
            .lock()
            .seed_grant_code(user, client_id, scope, validity_secs)
    }

    /// Makes every access token issued so far expired (API calls get 401 `INVALID_TOKEN`).
    pub fn expire_access_tokens(&self) {
        self.shared.lock().expire_all_tokens();
    }

    /// Inserts one record as the first user (validated like the API); returns its id.
    pub fn insert_record(&self, module: &str, record: Value) -> Result<String, SeedError> {
        let mut ids = self.shared.lock().seed_insert(module, &[record])?;
        Ok(ids.pop().unwrap_or_default())
    }

    /// Inserts many records with one `Modified_Time` (fast bulk seeding). A record may carry
    /// its own `Created_Time` / `Modified_Time`.
    pub fn insert_records(
        &self,
        module: &str,
        records: &[Value],
    ) -> Result<Vec<String>, SeedError> {
        self.shared.lock().seed_insert(module, records)
    }

    /// Updates fields of a record as the first user (moves `Modified_Time`).
    pub fn update_record(&self, module: &str, id: &str, fields: Value) -> Result<(), SeedError> {
        self.shared.lock().seed_update(module, id, &fields)
    }

    /// Deletes a record: to the recycle bin, or permanently (no names in `/deleted`).
    pub fn delete_record(&self, module: &str, id: &str, permanent: bool) -> bool {
        self.shared.lock().seed_delete(module, id, permanent)
    }

    /// One record as the API renders it to the first user.
    pub fn record(&self, module: &str, id: &str) -> Option<Value> {
        self.shared.lock().seed_record(module, id)
    }

    /// All live records of a module, by id.
    pub fn records(&self, module: &str) -> Vec<Value> {
        self.shared.lock().seed_records(module)
    }

    /// The deleted-records log of a module.
    pub fn deleted_records(&self, module: &str) -> Vec<Value> {
        self.shared.lock().seed_deleted(module)
    }

    /// Adds a custom view usable as `cvid`; returns its id.
    pub fn add_custom_view(&self, module: &str, name: &str, filter: ViewFilter) -> Option<String> {
        self.shared.lock().seed_view(module, name, filter)
    }

    /// Renames a module's API name (as an org admin can); the old name stops working.
    pub fn rename_module(&self, from: &str, to: &str) -> bool {
        self.shared.lock().rename_module(from, to)
    }

    /// Replaces the fault knobs (and re-seeds the fault generator).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().set_faults(faults);
    }

    /// The fault knobs in force.
    pub fn faults(&self) -> Faults {
        self.shared.lock().faults.clone()
    }

    /// Changes run-time settings (token limits, token response shape, scope checks, strict).
    pub fn apply_settings(&self, settings: Settings) {
        self.shared.lock().apply_settings(settings);
    }

    /// Requests per endpoint, e.g. `GET /Contacts`, `POST /Contacts/upsert`,
    /// `PUT /Contacts/{id}`, `POST /coql`, `POST /oauth/v2/token`.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.shared.lock().counters.clone()
    }

    /// One counter (0 when never hit).
    pub fn counter(&self, key: &str) -> u64 {
        self.shared.lock().counters.get(key).copied().unwrap_or(0)
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&self) {
        self.shared.lock().counters.clear();
    }

    /// Moves the emulator clock forward (code and token expiry, token-mint windows).
    pub fn advance_clock(&self, seconds: i64) {
        self.shared.lock().clock.offset_secs += seconds.max(0);
    }

    /// The emulator clock's current time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let secs = self.shared.lock().clock.now();
        chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default()
    }
}

impl Drop for ZohoEmulator {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
