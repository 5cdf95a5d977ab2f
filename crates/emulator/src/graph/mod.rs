//! A loopback Microsoft Graph v1.0 and Microsoft identity platform (v2) emulator.
//!
//! Two servers on `127.0.0.1`: the authority (`/{tenant}/oauth2/v2.0/authorize`, `/token`,
//! `/devicecode`) and Graph (`/v1.0/…`, plus a JSON control API under `/_emulator/`). Both share
//! one in-memory mailbox behind a std mutex. Behaviour follows `graph-api.md` (the project's
//! reading of Microsoft's docs), including its quirks: ids that change on move unless
//! `Prefer: IdType="ImmutableId"`, delta tokens that expire into 410, skeletal occurrences in
//! calendarView delta, edited occurrences as `exception`s, per-item 429s inside a 200 `$batch`,
//! and a limit of 4 concurrent requests per mailbox. Time is a network round trip per HTTP
//! request plus server time per request or batch item inside the mailbox's slots (see
//! [`GraphFaults`]); [`GraphEmulator::concurrency`] tells the peaks seen.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use crmsync_emulator::graph::{GraphConfig, GraphEmulator};
//! let emu = GraphEmulator::start(GraphConfig::default()).await?;
//! let token = emu.issue_access_token();
//! let folder = emu.default_contact_folder();
//! emu.insert_contact(&folder, serde_json::json!({"givenName": "Ada"})).expect("valid contact");
//! // GET {emu.graph_url()}/me/contacts with `Authorization: Bearer {token}`.
//! # let _ = token; Ok(()) }
//! ```

mod api;
mod auth;
mod contacts;
mod control;
mod delta;
mod events;
mod http;
mod odata;
mod server;
mod state;
mod todo;
mod tz;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use state::{ContainerKind, DeviceStatus, Kind, State};

/// The signed-in user the mailbox belongs to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GraphUser {
    /// The user's object id (`/me` `id`).
    pub id: String,
    /// `displayName`.
    pub display_name: String,
    /// `mail`.
    pub mail: String,
    /// `userPrincipalName`.
    pub user_principal_name: String,
}

impl Default for GraphUser {
    fn default() -> Self {
        GraphUser {
            id: "48d31887-5fad-4d73-a9f5-3c356e68a038".into(),
            display_name: "Megan Bowen".into(),
            mail: "megan@contoso.example".into(),
            user_principal_name: "megan@contoso.example".into(),
        }
    }
}

/// Fault knobs. Rates are probabilities in `0.0..=1.0`, rolled from the seeded generator.
///
/// Time is modelled in two parts, as a real mailbox behaves:
///
/// - [`latency_ms`](Self::latency_ms) is the network round trip: paid once per HTTP request (a
///   `$batch` envelope once, not per item), half before the request is handled and half before
///   the answer leaves, and it holds **no** mailbox concurrency slot. Latency alone slows a
///   client down but never makes it exceed the mailbox's limit.
/// - [`service_ms`](Self::service_ms) is the server's time per request or batch item, spent
///   **inside** the mailbox concurrency slot. It is what makes
///   [`concurrency_limit`](Self::concurrency_limit) reachable: an unordered batch runs four
///   items at a time, so two batches in service at once already hold eight slots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphFaults {
    /// Network round-trip time of every Graph HTTP request, in milliseconds: paid once per
    /// request (a `$batch` envelope once, not per item), outside the concurrency slot.
    pub latency_ms: u64,
    /// Server time of every Graph request and of every batch item, in milliseconds, held inside
    /// the mailbox concurrency slot (so it makes the mailbox limit reachable). Default 0.
    pub service_ms: u64,
    /// Share of Graph requests (and batch items) answered 429 `TooManyRequests`.
    pub throttle_rate: f64,
    /// The `Retry-After` sent with 429 and 503, in seconds; may be fractional (`2.128`).
    pub retry_after_secs: f64,
    /// Share of Graph requests answered 503 or 504 (half each).
    pub unavailable_rate: f64,
    /// Share of plain Graph requests whose connection is dropped without an answer.
    pub drop_rate: f64,
    /// Concurrent requests allowed per mailbox (batch items count one by one); above it → 429
    /// `ApplicationThrottled`/`MailboxConcurrency`. `None` disables the limit.
    pub concurrency_limit: Option<usize>,
    /// After this many more delta pages, every delta/next link issued so far answers 410.
    pub expire_delta_after_pages: Option<u32>,
    /// Share of changed items a delta page repeats (the docs allow repeats within a round).
    pub delta_replay_rate: f64,
    /// The next this-many `$batch` envelopes are answered 429 as a whole (with `Retry-After`)
    /// before any of their items runs; counted down as they are used.
    pub throttle_batches: u32,
}

impl Default for GraphFaults {
    fn default() -> Self {
        GraphFaults {
            latency_ms: 0,
            service_ms: 0,
            throttle_rate: 0.0,
            retry_after_secs: 2.128,
            unavailable_rate: 0.0,
            drop_rate: 0.0,
            concurrency_limit: Some(4),
            expire_delta_after_pages: None,
            delta_replay_rate: 0.0,
            throttle_batches: 0,
        }
    }
}

/// Configuration of a [`GraphEmulator`].
#[derive(Clone, Debug)]
pub struct GraphConfig {
    /// Port of the authority server; 0 picks a free one.
    pub auth_port: u16,
    /// Port of the Graph server; 0 picks a free one.
    pub graph_port: u16,
    /// Seed of every random choice (ids, faults, batch order).
    pub seed: u64,
    /// When set, only this client id is accepted by the authority.
    pub client_id: Option<String>,
    /// The mailbox owner.
    pub user: GraphUser,
    /// `mailboxSettings.timeZone`, a Windows zone name.
    pub time_zone: String,
    /// `expires_in` of access tokens.
    pub access_token_lifetime_secs: i64,
    /// Keep a refresh token valid after it was used (real Graph does not revoke it at once);
    /// by default a used refresh token is invalid, which catches clients that drop the rotated one.
    pub keep_used_refresh_tokens: bool,
    /// `expires_in` of device codes.
    pub device_code_lifetime_secs: i64,
    /// `interval` of device codes; polling faster gives `slow_down`.
    pub device_code_interval_secs: i64,
    /// `verification_uri` of device codes.
    pub verification_uri: String,
    /// Whether calendarView delta returns the series master row next to its occurrences.
    pub calendar_delta_includes_master: bool,
    /// Initial fault knobs.
    pub faults: GraphFaults,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            auth_port: 0,
            graph_port: 0,
            seed: 1,
            client_id: None,
            user: GraphUser::default(),
            time_zone: "China Standard Time".into(),
            access_token_lifetime_secs: 3599,
            keep_used_refresh_tokens: false,
            device_code_lifetime_secs: 900,
            device_code_interval_secs: 5,
            verification_uri: "https://microsoft.com/devicelogin".into(),
            calendar_delta_includes_master: true,
            faults: GraphFaults::default(),
        }
    }
}

/// Request counters: per endpoint (`GET /me/contacts/{id}`), batch items separately
/// (`$batch GET /me/contacts/{id}`), authority endpoints and throttling outcomes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphCounters {
    /// Count per endpoint key.
    pub by_endpoint: BTreeMap<String, u64>,
}

impl GraphCounters {
    /// The count of one endpoint key (0 when never hit).
    pub fn get(&self, key: &str) -> u64 {
        self.by_endpoint.get(key).copied().unwrap_or(0)
    }

    /// Plain Graph requests (batch envelopes included, batch items and the authority excluded).
    pub fn graph_requests(&self) -> u64 {
        self.by_endpoint
            .iter()
            .filter(|(k, _)| k.contains(" /me") || k.contains(" /users") || k.ends_with(" /$batch"))
            .filter(|(k, _)| !k.starts_with("$batch "))
            .map(|(_, v)| v)
            .sum()
    }

    /// Batch items.
    pub fn batch_items(&self) -> u64 {
        self.by_endpoint
            .iter()
            .filter(|(k, _)| k.starts_with("$batch "))
            .map(|(_, v)| v)
            .sum()
    }
}

/// A control-API call that Graph refused (the status and Graph error body).
#[derive(Clone, Debug, PartialEq)]
pub struct ControlError {
    /// The HTTP status Graph would have answered.
    pub status: u16,
    /// The Graph error body.
    pub body: Value,
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "emulated Graph answered {}: {}", self.status, self.body)
    }
}

impl std::error::Error for ControlError {}

/// Peaks of concurrency the Graph server has seen since the last reset (see
/// [`GraphEmulator::concurrency`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphConcurrency {
    /// Most mailbox slots asked for at once: plain requests and batch items being served,
    /// counting the one that was turned away with 429 `MailboxConcurrency` when the limit was
    /// exceeded (so a value above the limit means the limit was hit).
    pub peak_items: usize,
    /// Most Graph HTTP requests in flight at once (plain requests and `$batch` envelopes, from
    /// arrival to answer, network latency included; the control API and the authority are not
    /// counted).
    pub peak_requests: usize,
    /// Most `$batch` envelopes in flight at once.
    pub peak_batches: usize,
}

/// A gauge of things in flight and the highest value it reached.
#[derive(Debug, Default)]
pub(crate) struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    /// Counts one more in flight until the returned guard drops; returns it and the new count.
    pub(crate) fn enter(&self) -> (GaugeGuard<'_>, usize) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
        (GaugeGuard(&self.now), n)
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Restarts the peak from what is in flight now.
    fn reset_peak(&self) {
        self.peak
            .store(self.now.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// Leaves a [`Gauge`] when dropped.
pub(crate) struct GaugeGuard<'a>(&'a AtomicUsize);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// State shared by both servers and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Mailbox slots in use (plain requests and batch items being served).
    pub(crate) items: Gauge,
    /// Graph HTTP requests in flight.
    pub(crate) requests: Gauge,
    /// `$batch` envelopes in flight.
    pub(crate) batches: Gauge,
    /// `http://127.0.0.1:port/v1.0`
    pub(crate) graph_url: String,
}

/// The client id used by tokens the handle mints directly.
const CONTROL_CLIENT: &str = "emulator-control";
/// The scopes of tokens the handle mints directly.
const FULL_SCOPE: &str =
    "openid profile offline_access User.Read Contacts.ReadWrite Calendars.ReadWrite Tasks.ReadWrite MailboxSettings.ReadWrite";

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a Graph request internally (not counted, no faults) with seeding rights.
    fn call(&self, method: &str, url: &str, body: Option<Value>) -> Result<Value, ControlError> {
        let headers = vec![(
            "prefer".to_string(),
            "outlook.body-content-type=\"html\"".to_string(),
        )];
        let req = http::Req::from_url(method, url, headers, body);
        let mut st = self.lock();
        let r = api::dispatch(&mut st, &self.graph_url, &req, true);
        let mut body = r.body.unwrap_or(Value::Null);
        if !(200..300).contains(&r.status) {
            return Err(ControlError {
                status: r.status,
                body,
            });
        }
        if let Value::Object(m) = &mut body {
            m.remove("@odata.context");
            if let Some(id) = m.get("id").and_then(Value::as_str) {
                if let Some(item) = st.mbox.ids.get(id).and_then(|k| st.mbox.items.get(k)) {
                    m.insert(
                        "@emulator.immutableId".into(),
                        Value::String(item.immutable_id.clone()),
                    );
                }
            }
        }
        Ok(body)
    }

    fn item_container(&self, id: &str, kind: Kind) -> Result<String, ControlError> {
        let st = self.lock();
        st.item_key(id, kind)
            .and_then(|k| st.mbox.items.get(&k))
            .map(|i| i.container.clone())
            .ok_or_else(|| ControlError {
                status: 404,
                body: json!({"error": {"code": "ErrorItemNotFound"}}),
            })
    }

    fn list(&self, container: &str) -> Vec<Value> {
        let st = self.lock();
        let Some(c) = st.mbox.containers.get(container) else {
            return Vec::new();
        };
        c.members
            .iter()
            .filter_map(|k| st.mbox.items.get(k))
            .map(|item| {
                let mut m = api::render(&st, item, &api::RenderOpts::default());
                m.insert(
                    "@emulator.immutableId".into(),
                    Value::String(item.immutable_id.clone()),
                );
                if item.kind == Kind::Task {
                    m.insert(
                        "linkedResources".into(),
                        Value::Array(item.links.iter().cloned().map(Value::Object).collect()),
                    );
                }
                if !item.ext.is_empty() {
                    m.insert(
                        "singleValueExtendedProperties".into(),
                        Value::Array(
                            item.ext
                                .iter()
                                .map(|(i, v)| json!({"id": i, "value": v}))
                                .collect(),
                        ),
                    );
                }
                Value::Object(m)
            })
            .collect()
    }

    fn move_item(&self, id: &str, kind: Kind, to: &str) -> Result<Value, ControlError> {
        let ck = match kind {
            Kind::Contact => ContainerKind::ContactFolder,
            Kind::Task => ContainerKind::TaskList,
            Kind::Event => ContainerKind::Calendar,
        };
        let key = {
            let mut st = self.lock();
            let Some(key) = st.item_key(id, kind) else {
                return Err(ControlError {
                    status: 404,
                    body: json!({"error": {"code": "ErrorItemNotFound"}}),
                });
            };
            if st.container(to, ck).is_none() {
                return Err(ControlError {
                    status: 404,
                    body: json!({"error": {"code": "ErrorItemNotFound"}}),
                });
            }
            st.move_item(key, to, kind == Kind::Task);
            key
        };
        let id = self
            .lock()
            .mbox
            .items
            .get(&key)
            .map(|i| i.regular_id.clone())
            .unwrap_or_default();
        let url = match kind {
            Kind::Contact => format!("/me/contacts/{id}"),
            Kind::Event => format!("/me/events/{id}"),
            Kind::Task => format!("/me/todo/lists/{to}/tasks/{id}"),
        };
        self.call("GET", &url, None)
    }
}

/// A running Graph + authority emulator. Dropping it stops both servers.
#[derive(Debug)]
pub struct GraphEmulator {
    shared: Arc<Shared>,
    login_url: String,
    base_url: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for GraphEmulator {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl GraphEmulator {
    /// A handle on shared state that owns no server task (used by the HTTP control API).
    pub(crate) fn view(shared: &Arc<Shared>) -> GraphEmulator {
        GraphEmulator {
            shared: Arc::clone(shared),
            login_url: String::new(),
            base_url: String::new(),
            tasks: Vec::new(),
        }
    }

    /// Binds both servers on `127.0.0.1` and starts serving on the current tokio runtime.
    pub async fn start(config: GraphConfig) -> std::io::Result<GraphEmulator> {
        let auth_listener = tokio::net::TcpListener::bind(("127.0.0.1", config.auth_port)).await?;
        let graph_listener =
            tokio::net::TcpListener::bind(("127.0.0.1", config.graph_port)).await?;
        let login_url = format!("http://{}", auth_listener.local_addr()?);
        let base_url = format!("http://{}", graph_listener.local_addr()?);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(config)),
            items: Gauge::default(),
            requests: Gauge::default(),
            batches: Gauge::default(),
            graph_url: format!("{base_url}/v1.0"),
        });
        let auth_app = auth::router(Arc::clone(&shared));
        let graph_app = server::router(Arc::clone(&shared));
        let tasks = vec![
            tokio::spawn(async move {
                let _ = axum::serve(auth_listener, auth_app).await;
            }),
            tokio::spawn(async move {
                let _ = axum::serve(graph_listener, graph_app).await;
            }),
        ];
        Ok(GraphEmulator {
            shared,
            login_url,
            base_url,
            tasks,
        })
    }

    /// The authority's base, `http://127.0.0.1:port`; endpoints are `{login_url}/{tenant}/oauth2/v2.0/…`.
    pub fn login_url(&self) -> String {
        self.login_url.clone()
    }

    /// The Graph base, `http://127.0.0.1:port/v1.0`.
    pub fn graph_url(&self) -> String {
        self.shared.graph_url.clone()
    }

    /// The Graph server's root, `http://127.0.0.1:port`; the control API is under `/_emulator/`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Mints a valid access token without a sign-in.
    pub fn issue_access_token(&self) -> String {
        let mut st = self.shared.lock();
        let v = auth::issue_tokens(&mut st, CONTROL_CLIENT, "User.Read");
        v["access_token"].as_str().unwrap_or_default().to_string()
    }

    /// Mints a refresh token for `client_id` with all the scopes the sync needs.
    pub fn issue_refresh_token(&self, client_id: &str) -> String {
        let mut st = self.shared.lock();
        let v = auth::issue_tokens(&mut st, client_id, FULL_SCOPE);
        v["refresh_token"].as_str().unwrap_or_default().to_string()
    }

    /// Approves a pending device-code sign-in; false for an unknown user code.
    pub fn approve_device_code(&self, user_code: &str) -> bool {
        auth::set_device_status(&mut self.shared.lock(), user_code, DeviceStatus::Approved)
    }

    /// Declines a pending device-code sign-in; false for an unknown user code.
    pub fn decline_device_code(&self, user_code: &str) -> bool {
        auth::set_device_status(&mut self.shared.lock(), user_code, DeviceStatus::Declined)
    }

    /// Expires a device code now; false for an unknown user code.
    pub fn expire_device_code(&self, user_code: &str) -> bool {
        auth::expire_device_code(&mut self.shared.lock(), user_code)
    }

    /// Makes every access token issued so far expired (401 `InvalidAuthenticationToken`).
    pub fn expire_access_tokens(&self) {
        let mut st = self.shared.lock();
        let past = st.now() - chrono::Duration::seconds(1);
        for exp in st.auth.access.values_mut() {
            *exp = past;
        }
    }

    /// Revokes every refresh token (`invalid_grant` on next use).
    pub fn revoke_refresh_tokens(&self) {
        for r in self.shared.lock().auth.refresh.values_mut() {
            r.valid = false;
        }
    }

    /// Moves the emulator's clock forward (token, code and device-code expiry, polling interval).
    pub fn advance_clock(&self, by: std::time::Duration) {
        let mut st = self.shared.lock();
        st.clock_offset +=
            chrono::Duration::from_std(by).unwrap_or_else(|_| chrono::Duration::zero());
    }

    /// Makes every delta/next link issued so far answer 410 `SyncStateNotFound`.
    pub fn expire_delta_tokens(&self) {
        self.shared.lock().expire_delta_tokens();
    }

    /// Replaces the fault knobs.
    pub fn set_faults(&self, faults: GraphFaults) {
        let mut st = self.shared.lock();
        st.mbox.delta_pages_left = faults.expire_delta_after_pages;
        st.faults = faults;
    }

    /// The current fault knobs.
    pub fn faults(&self) -> GraphFaults {
        self.shared.lock().faults.clone()
    }

    /// A snapshot of the request counters.
    pub fn counters(&self) -> GraphCounters {
        GraphCounters {
            by_endpoint: self.shared.lock().counters.clone(),
        }
    }

    /// Sets every counter back to zero, and the concurrency peaks back to what is in flight.
    pub fn reset_counters(&self) {
        self.shared.lock().counters.clear();
        self.shared.items.reset_peak();
        self.shared.requests.reset_peak();
        self.shared.batches.reset_peak();
    }

    /// The most requests, batches and mailbox slots that were in flight at once since the start
    /// or the last [`reset_counters`](Self::reset_counters).
    pub fn concurrency(&self) -> GraphConcurrency {
        GraphConcurrency {
            peak_items: self.shared.items.peak(),
            peak_requests: self.shared.requests.peak(),
            peak_batches: self.shared.batches.peak(),
        }
    }

    /// The id of the default Contacts folder (not listed by `/me/contactFolders`).
    pub fn default_contact_folder(&self) -> String {
        self.shared.lock().mbox.default_contacts.clone()
    }

    /// The id of the default calendar.
    pub fn default_calendar(&self) -> String {
        self.shared.lock().mbox.default_calendar.clone()
    }

    /// The id of the default To Do list (`wellknownListName: defaultList`).
    pub fn default_task_list(&self) -> String {
        self.shared.lock().mbox.default_list.clone()
    }

    /// Creates a contact folder under `parent` (the default folder when `None`).
    pub fn create_contact_folder(
        &self,
        parent: Option<&str>,
        name: &str,
    ) -> Result<String, ControlError> {
        let parent = parent.map_or_else(|| self.default_contact_folder(), str::to_string);
        let v = self.shared.call(
            "POST",
            &format!("/me/contactFolders/{parent}/childFolders"),
            Some(json!({"displayName": name})),
        )?;
        Ok(v["id"].as_str().unwrap_or_default().to_string())
    }

    /// Creates a contact (Graph JSON, `singleValueExtendedProperties` allowed) and returns it as
    /// a GET would, plus `@emulator.immutableId`.
    pub fn insert_contact(&self, folder: &str, contact: Value) -> Result<Value, ControlError> {
        self.shared.call(
            "POST",
            &format!("/me/contactFolders/{folder}/contacts"),
            Some(contact),
        )
    }

    /// PATCHes a contact by either of its ids.
    pub fn update_contact(&self, id: &str, patch: Value) -> Result<Value, ControlError> {
        self.shared
            .call("PATCH", &format!("/me/contacts/{id}"), Some(patch))
    }

    /// Deletes a contact by either of its ids.
    pub fn delete_contact(&self, id: &str) -> Result<(), ControlError> {
        self.shared
            .call("DELETE", &format!("/me/contacts/{id}"), None)
            .map(|_| ())
    }

    /// Moves a contact to another folder: its regular id changes, its immutable id does not.
    pub fn move_contact(&self, id: &str, folder: &str) -> Result<Value, ControlError> {
        self.shared.move_item(id, Kind::Contact, folder)
    }

    /// Every contact of a folder, in creation order (with `@emulator.immutableId`).
    pub fn contacts(&self, folder: &str) -> Vec<Value> {
        self.shared.list(folder)
    }

    /// One contact by either id.
    pub fn contact(&self, id: &str) -> Option<Value> {
        self.shared
            .call("GET", &format!("/me/contacts/{id}"), None)
            .ok()
    }

    /// Creates a To Do list.
    pub fn create_task_list(&self, name: &str) -> Result<String, ControlError> {
        let v = self
            .shared
            .call("POST", "/me/todo/lists", Some(json!({"displayName": name})))?;
        Ok(v["id"].as_str().unwrap_or_default().to_string())
    }

    /// Creates a task (`linkedResources` may be inline).
    pub fn insert_task(&self, list: &str, task: Value) -> Result<Value, ControlError> {
        self.shared
            .call("POST", &format!("/me/todo/lists/{list}/tasks"), Some(task))
    }

    /// PATCHes a task.
    pub fn update_task(&self, id: &str, patch: Value) -> Result<Value, ControlError> {
        let list = self.shared.item_container(id, Kind::Task)?;
        self.shared.call(
            "PATCH",
            &format!("/me/todo/lists/{list}/tasks/{id}"),
            Some(patch),
        )
    }

    /// Deletes a task.
    pub fn delete_task(&self, id: &str) -> Result<(), ControlError> {
        let list = self.shared.item_container(id, Kind::Task)?;
        self.shared
            .call("DELETE", &format!("/me/todo/lists/{list}/tasks/{id}"), None)
            .map(|_| ())
    }

    /// Moves a task to another list; it gets a new id (as when a user drags it in To Do).
    pub fn move_task(&self, id: &str, list: &str) -> Result<Value, ControlError> {
        self.shared.move_item(id, Kind::Task, list)
    }

    /// Every task of a list, with its linked resources.
    pub fn tasks(&self, list: &str) -> Vec<Value> {
        self.shared.list(list)
    }

    /// Creates a calendar.
    pub fn create_calendar(&self, name: &str) -> Result<String, ControlError> {
        let v = self
            .shared
            .call("POST", "/me/calendars", Some(json!({"name": name})))?;
        Ok(v["id"].as_str().unwrap_or_default().to_string())
    }

    /// Creates an event. Seeding may also set `isOrganizer`, `organizer` and `responseStatus`.
    pub fn insert_event(&self, calendar: &str, event: Value) -> Result<Value, ControlError> {
        self.shared.call(
            "POST",
            &format!("/me/calendars/{calendar}/events"),
            Some(event),
        )
    }

    /// PATCHes an event.
    pub fn update_event(&self, id: &str, patch: Value) -> Result<Value, ControlError> {
        self.shared
            .call("PATCH", &format!("/me/events/{id}"), Some(patch))
    }

    /// Deletes an event.
    pub fn delete_event(&self, id: &str) -> Result<(), ControlError> {
        self.shared
            .call("DELETE", &format!("/me/events/{id}"), None)
            .map(|_| ())
    }

    /// Edits one occurrence of a series, named by the series' id (either id) and the date its
    /// pattern gives the occurrence (`YYYY-MM-DD`), as `PATCH /me/events/{occurrence id}`
    /// does: the occurrence becomes an `exception` with its own properties, and the series'
    /// change key changes. Returns the exception as a GET would.
    pub fn edit_occurrence(
        &self,
        series_id: &str,
        date: &str,
        patch: Value,
    ) -> Result<Value, ControlError> {
        let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| ControlError {
            status: 400,
            body: json!({"error": {"code": "ErrorInvalidRequest", "message": "a date is YYYY-MM-DD"}}),
        })?;
        let id = events::occurrence_id(series_id, date);
        self.shared
            .call("PATCH", &format!("/me/events/{id}"), Some(patch))
    }

    /// Moves an event to another calendar: its regular id changes, its immutable id does not.
    pub fn move_event(&self, id: &str, calendar: &str) -> Result<Value, ControlError> {
        self.shared.move_item(id, Kind::Event, calendar)
    }

    /// Every event (series masters and single instances) of a calendar.
    pub fn events(&self, calendar: &str) -> Vec<Value> {
        self.shared.list(calendar)
    }

    /// Adds a master category (409 error on a duplicate name).
    pub fn add_category(&self, name: &str, color: &str) -> Result<Value, ControlError> {
        self.shared.call(
            "POST",
            "/me/outlook/masterCategories",
            Some(json!({"displayName": name, "color": color})),
        )
    }

    /// The master categories.
    pub fn categories(&self) -> Vec<Value> {
        self.shared
            .call("GET", "/me/outlook/masterCategories", None)
            .ok()
            .and_then(|v| v.get("value").and_then(Value::as_array).cloned())
            .unwrap_or_default()
    }
}
