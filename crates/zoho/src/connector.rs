//! [`ZohoConnector`]: the [`Connector`] of Zoho CRM (Contacts, Tasks, Events).
//!
//! Listing pages with `page` then `page_token`, incremental changes with `If-Modified-Since` on
//! the records and on `/deleted`, watermarks from the server's `Date` header taken at the start of
//! a round (minus a margin; what the round reported at or after its watermark is carried in the
//! cursor, so the next round, which `If-Modified-Since` hands it again, does not report it twice:
//! records by `(id, Modified_Time)`, deletions by id with `deleted_time`), batched writes (≤ 100) with `trigger: []`, idempotent creates through `upsert` on the
//! sync-id field, and COQL to find records by sync id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{Duration, Utc};
use crmsync_core::{
    Capabilities, ChangeItem, ChangePage, Connector, ConnectorError, ConnectorErrorKind, Container,
    CreateMode, Cursor, Kind, Next, OpResult, Operation, PageRequest, Record, RecordError,
    RecordErrorKind, RemoteRecord, Scope, SyncId, Vanish, Written, ZohoScope,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::auth::ZohoAuth;
use crate::client::{ApiRequest, ApiResponse, ClientOptions, ZohoClient};
use crate::error::{Error, Result};
use crate::mapping::{self, FieldsMeta, MapContext};

/// Connector settings.
#[derive(Debug, Clone)]
pub struct ZohoOptions {
    /// API name of the unique custom text field holding the sync id.
    pub sync_id_field: String,
    /// Link a contact to the Account named by its company (looked up by name with COQL). Off:
    /// the company is not written to Zoho at all.
    pub resolve_accounts: bool,
    /// Create the Account when none has that name (with `resolve_accounts`). Off: a company
    /// without an Account is not written, and the record returned as stored has no company.
    pub create_accounts: bool,
    /// Seconds taken off the server-clock watermarks (records modified around the watermark are
    /// read twice rather than missed).
    pub watermark_margin_secs: i64,
    /// Transport knobs.
    pub client: ClientOptions,
}

impl Default for ZohoOptions {
    fn default() -> Self {
        ZohoOptions {
            sync_id_field: "CRMSync_Id".into(),
            resolve_accounts: true,
            create_accounts: true,
            watermark_margin_secs: 2,
            client: ClientOptions::default(),
        }
    }
}

const PER_PAGE: u32 = 200;
const DISCRETE_LIMIT: u32 = 2000;

struct KindInfo {
    module: String,
    meta: FieldsMeta,
    ctx: MapContext,
}

/// The Zoho CRM connector of one signed-in account.
pub struct ZohoConnector {
    client: ZohoClient,
    opts: ZohoOptions,
    user_id: String,
    kinds: HashMap<Kind, KindInfo>,
    accounts_module: String,
    account_ids: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for ZohoConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZohoConnector")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// Where a listing or change round stands (the opaque page token).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PageState {
    /// 0 = records, 2 = (custom views) modified records outside the view, 1 = deletions.
    phase: u8,
    page: u32,
    token: Option<String>,
    /// The watermark of this round (server clock at its start, minus the margin).
    wm: Option<String>,
    /// The cursor's watermarks this round started from.
    rec: Option<String>,
    del: Option<String>,
    /// What the previous round already reported at or after this round's starting watermarks.
    #[serde(default)]
    seen: Carry,
    /// What this round reports at or after its own watermark (carried into the next cursor).
    #[serde(default)]
    next: Carry,
    /// Custom views: ids of the view's modified records this round (phase 0), so phase 2 tells
    /// which modified records are outside the view.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    in_view: Vec<String>,
}

/// A change round of a custom view with more modified records than this falls back to a full
/// listing (the ids of the view's modified records travel in the page token).
const IN_VIEW_MAX: usize = 10_000;

/// Items reported at or after a watermark. The watermark is taken a margin before the round's
/// start (so nothing modified around it is missed), and Zoho's `If-Modified-Since` returns them
/// again next round: the cursor carries them so the next round does not report them twice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Carry {
    /// `(id, Modified_Time)` of records (and of records that left the scope).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rec: Vec<(String, String)>,
    /// Ids of deletions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    del: Vec<String>,
}

/// At most this many items are carried (a bulk edit inside the margin is re-read once rather
/// than carried in a large cursor; a repeated record is recognised by its version anyway).
const CARRY_MAX: usize = 500;

impl Carry {
    fn push_rec(&mut self, id: &str, version: &str) {
        if self.rec.len() < CARRY_MAX {
            self.rec.push((id.to_string(), version.to_string()));
        }
    }

    fn push_del(&mut self, id: &str) {
        if self.del.len() < CARRY_MAX {
            self.del.push(id.to_string());
        }
    }

    fn has_rec(&self, id: &str, version: &str) -> bool {
        self.rec.iter().any(|(i, v)| i == id && v == version)
    }

    fn has_del(&self, id: &str) -> bool {
        self.del.iter().any(|i| i == id)
    }
}

/// Whether a Zoho time is at or after the watermark (unreadable times count as after: carrying
/// one too many only hides a repeat).
fn at_or_after(time: &str, wm: Option<&str>) -> bool {
    match (
        mapping::parse_datetime(time),
        wm.and_then(mapping::parse_datetime),
    ) {
        (Some(t), Some(w)) => t >= w,
        _ => true,
    }
}

fn encode(s: &PageState) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn decode(s: &str) -> std::result::Result<PageState, ConnectorError> {
    serde_json::from_str(s).map_err(|_| ConnectorError::cursor_expired())
}

fn cursor(rec: &str, del: &str, carry: &Carry) -> Cursor {
    if carry == &Carry::default() {
        return Cursor(format!("zoho1|{rec}|{del}"));
    }
    Cursor(format!(
        "zoho2|{rec}|{del}|{}",
        serde_json::to_string(carry).unwrap_or_default()
    ))
}

fn parse_cursor(c: &Cursor) -> std::result::Result<(String, String, Carry), ConnectorError> {
    let mut p = c.0.splitn(4, '|');
    match (p.next(), p.next(), p.next(), p.next()) {
        (Some("zoho1"), Some(r), Some(d), None) => {
            Ok((r.to_string(), d.to_string(), Carry::default()))
        }
        (Some("zoho2"), Some(r), Some(d), Some(j)) => {
            let carry = serde_json::from_str(j).map_err(|_| ConnectorError::cursor_expired())?;
            Ok((r.to_string(), d.to_string(), carry))
        }
        _ => Err(ConnectorError::cursor_expired()),
    }
}

fn kind_default_module(kind: Kind) -> &'static str {
    match kind {
        Kind::Contact => "Contacts",
        Kind::Task => "Tasks",
        Kind::Event => "Events",
    }
}

fn coql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn protocol(what: &str) -> Error {
    Error::Protocol(format!("Zoho answered {what} in an unexpected shape"))
}

impl ZohoConnector {
    /// Connects: discovers module API names, the current user (id, time zone) and each module's
    /// fields metadata (lengths, the sync-id field).
    pub async fn connect(auth: Arc<ZohoAuth>, opts: ZohoOptions) -> Result<ZohoConnector> {
        let client = ZohoClient::new(auth, opts.client.clone());
        let mods = ok_body(client.send(&ApiRequest::get("settings/modules")).await?)?;
        let mut names: HashMap<String, String> = HashMap::new();
        for m in mods
            .get("modules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let api = m
                .get("api_name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let sys = m.get("module_name").and_then(Value::as_str).unwrap_or(api);
            names.insert(sys.to_string(), api.to_string());
            names.insert(api.to_string(), api.to_string());
        }
        let module_of = |d: &str| names.get(d).cloned().unwrap_or_else(|| d.to_string());
        let users = ok_body(
            client
                .send(&ApiRequest::get("users").query("type", "CurrentUser"))
                .await?,
        )?;
        let me = users
            .get("users")
            .and_then(|u| u.get(0))
            .ok_or_else(|| protocol("the current user"))?;
        let user_id = me
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| protocol("the current user"))?
            .to_string();
        let tz = me
            .get("time_zone")
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok())
            .unwrap_or(chrono_tz::UTC);
        let mut kinds = HashMap::new();
        for kind in Kind::ALL {
            let module = module_of(kind_default_module(kind));
            let meta = FieldsMeta::parse(&ok_body(
                client
                    .send(&ApiRequest::get("settings/fields").query("module", module.clone()))
                    .await?,
            )?);
            let ctx = MapContext {
                tz,
                sync_field: meta
                    .has(&opts.sync_id_field)
                    .then(|| opts.sync_id_field.clone()),
            };
            if ctx.sync_field.is_none() {
                tracing::warn!(module = %module, "the sync-id field is missing: creates are at-least-once");
            }
            kinds.insert(kind, KindInfo { module, meta, ctx });
        }
        Ok(ZohoConnector {
            client,
            accounts_module: module_of("Accounts"),
            opts,
            user_id,
            kinds,
            account_ids: Mutex::new(HashMap::new()),
        })
    }

    /// The signed-in Zoho user's id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The Zoho user's time zone.
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.kinds
            .get(&Kind::Contact)
            .map(|k| k.ctx.tz)
            .unwrap_or(chrono_tz::UTC)
    }

    fn info(&self, kind: Kind) -> std::result::Result<&KindInfo, ConnectorError> {
        self.kinds
            .get(&kind)
            .ok_or_else(|| ConnectorError::new(ConnectorErrorKind::Invalid, "unknown kind"))
    }

    fn in_scope(&self, scope: &Scope, v: &Value) -> bool {
        match scope.zoho {
            ZohoScope::OwnedByMe => {
                v.pointer("/Owner/id").and_then(Value::as_str) == Some(self.user_id.as_str())
            }
            _ => true,
        }
    }

    /// The items of a records page. In a change round (`changes`), records that left the scope
    /// are `Vanished`; in both, what the previous round already reported (`st.seen`) is left
    /// out and what sits at or after this round's watermark is carried (`st.next`).
    fn items(
        &self,
        scope: &Scope,
        data: &Value,
        changes: bool,
        st: &mut PageState,
    ) -> Vec<ChangeItem> {
        let Ok(info) = self.info(scope.kind) else {
            return vec![];
        };
        let mut out = vec![];
        for v in data
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
            let version = v
                .get("Modified_Time")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if id.is_empty() {
                continue;
            }
            let view = matches!(scope.zoho, ZohoScope::CustomView(_));
            if changes && view && st.phase == 2 && st.in_view.iter().any(|i| i == id) {
                continue;
            }
            if changes && view && st.phase == 0 {
                st.in_view.push(id.to_string());
            }
            if at_or_after(version, st.wm.as_deref()) {
                st.next.push_rec(id, version);
            }
            if st.seen.has_rec(id, version) {
                continue;
            }
            if (changes && view && st.phase == 2) || !self.in_scope(scope, v) {
                if changes {
                    out.push(ChangeItem::Vanished { id: id.to_string() });
                }
                continue;
            }
            match mapping::from_zoho(scope.kind, v, &info.ctx) {
                Ok(r) => out.push(ChangeItem::Upsert(r)),
                Err(e) => tracing::warn!("skipped an unreadable Zoho record: {e}"),
            }
        }
        out
    }

    fn list_request(
        &self,
        scope: &Scope,
        st: &PageState,
    ) -> std::result::Result<ApiRequest, ConnectorError> {
        let info = self.info(scope.kind)?;
        let mut req = ApiRequest::get(info.module.clone())
            .query(
                "fields",
                mapping::read_fields(scope.kind, &info.ctx).join(","),
            )
            .query("per_page", PER_PAGE.to_string());
        req = match &st.token {
            Some(t) => req.query("page_token", t.clone()),
            None => req.query("page", st.page.max(1).to_string()),
        };
        // Phase 2 of a custom view's change round reads every modified record, without the view.
        if let (ZohoScope::CustomView(cv), false) = (&scope.zoho, st.phase == 2) {
            req = req.query("cvid", cv.clone());
        }
        Ok(req)
    }

    /// Moves `st` to the next page of a records listing; false when it was the last.
    fn advance(st: &mut PageState, body: &Value) -> bool {
        let info = body.get("info");
        let more = info
            .and_then(|i| i.get("more_records"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !more {
            return false;
        }
        let next_token = info
            .and_then(|i| i.get("next_page_token"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let page = st.page.max(1);
        if st.token.is_some() || (page + 1) * PER_PAGE > DISCRETE_LIMIT {
            match next_token {
                Some(t) => st.token = Some(t),
                None => return false,
            }
        } else {
            st.page = page + 1;
        }
        true
    }

    fn watermark(&self, resp: &ApiResponse) -> String {
        let now = resp.date.unwrap_or_else(Utc::now);
        (now - Duration::seconds(self.opts.watermark_margin_secs))
            .with_timezone(&self.time_zone())
            .to_rfc3339()
    }

    async fn by_ids(&self, scope: &Scope, ids: &[String]) -> Result<HashMap<String, Value>> {
        let info = self
            .info(scope.kind)
            .map_err(|e| Error::Invalid(e.message))?;
        let mut found = HashMap::new();
        for chunk in ids.chunks(100) {
            let req = ApiRequest::get(info.module.clone())
                .query("ids", chunk.join(","))
                .query(
                    "fields",
                    mapping::read_fields(scope.kind, &info.ctx).join(","),
                );
            let resp = self.client.send(&req).await?;
            if resp.status == 204 || resp.status == 404 {
                continue;
            }
            let body = ok_body(resp)?;
            for v in body
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    found.insert(id.to_string(), v.clone());
                }
            }
        }
        Ok(found)
    }

    async fn resolve_accounts(&self, names: Vec<String>) -> Result<HashMap<String, String>> {
        let mut known = self
            .account_ids
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let missing: Vec<String> = names
            .into_iter()
            .filter(|n| !known.contains_key(n))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for chunk in missing.chunks(50) {
            let q = format!(
                "select id, Account_Name from {} where Account_Name in ({})",
                self.accounts_module,
                chunk
                    .iter()
                    .map(|n| coql_quote(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let resp = self
                .client
                .send(&ApiRequest::with_body(
                    Method::POST,
                    "coql",
                    json!({"select_query": q}),
                ))
                .await?;
            if resp.status == 200 {
                for v in resp
                    .body
                    .get("data")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let (Some(id), Some(n)) = (
                        v.get("id").and_then(Value::as_str),
                        v.get("Account_Name").and_then(Value::as_str),
                    ) {
                        known.insert(n.to_string(), id.to_string());
                    }
                }
            }
        }
        let create: Vec<String> = missing
            .into_iter()
            .filter(|n| self.opts.create_accounts && !known.contains_key(n))
            .collect();
        for chunk in create.chunks(100) {
            let data: Vec<Value> = chunk.iter().map(|n| json!({"Account_Name": n})).collect();
            let resp = self
                .client
                .send(&ApiRequest::with_body(
                    Method::POST,
                    self.accounts_module.clone(),
                    json!({"data": data, "trigger": []}),
                ))
                .await?;
            for (n, item) in chunk.iter().zip(
                resp.body
                    .get("data")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            ) {
                if let Some(id) = item.pointer("/details/id").and_then(Value::as_str) {
                    known.insert(n.clone(), id.to_string());
                }
            }
        }
        if let Ok(mut m) = self.account_ids.lock() {
            m.extend(known.clone());
        }
        Ok(known)
    }

    /// Sends one write request and maps its `data[]` to one result per record.
    async fn write(
        &self,
        req: ApiRequest,
        n: usize,
    ) -> Vec<std::result::Result<Value, RecordError>> {
        match self.client.send(&req).await {
            Err(e) => {
                let kind = if e.is_retryable() {
                    RecordErrorKind::Transient
                } else {
                    RecordErrorKind::Rejected
                };
                vec![Err(RecordError::new(kind, e.to_string())); n]
            }
            Ok(resp) => {
                let items = resp.body.get("data").and_then(Value::as_array);
                match items {
                    Some(items) if items.len() == n => items.iter().map(item_result).collect(),
                    _ => {
                        let code = resp.code().unwrap_or("unknown").to_string();
                        vec![
                            Err(RecordError::new(
                                RecordErrorKind::Rejected,
                                format!("Zoho refused the request (HTTP {}, {code})", resp.status),
                            ));
                            n
                        ]
                    }
                }
            }
        }
    }
}

fn item_result(v: &Value) -> std::result::Result<Value, RecordError> {
    if v.get("status").and_then(Value::as_str) == Some("success") {
        return Ok(v.get("details").cloned().unwrap_or(Value::Null));
    }
    let code = v.get("code").and_then(Value::as_str).unwrap_or("UNKNOWN");
    let api = v
        .pointer("/details/api_name")
        .and_then(Value::as_str)
        .map(str::to_string);
    let kind = match code {
        "ALREADY_MODIFIED" => RecordErrorKind::Changed,
        "ID_ALREADY_DELETED" => RecordErrorKind::NotFound,
        "INVALID_DATA" if api.as_deref() == Some("id") => RecordErrorKind::NotFound,
        "INVALID_DATA" | "MANDATORY_NOT_FOUND" | "DEPENDENT_MISMATCH" | "LIMIT_EXCEEDED" => {
            RecordErrorKind::Invalid
        }
        "TOO_MANY_REQUESTS" | "INTERNAL_ERROR" => RecordErrorKind::Transient,
        _ => RecordErrorKind::Rejected,
    };
    Err(RecordError {
        kind,
        field: api,
        reason: format!("Zoho refused the record ({code})"),
    })
}

fn ok_body(resp: ApiResponse) -> Result<Value> {
    match resp.status {
        200..=299 => Ok(resp.body),
        403 => Err(Error::Auth(
            "the Zoho user lacks permission for this (NO_PERMISSION)".into(),
        )),
        s => Err(Error::Invalid(format!(
            "Zoho refused the request (HTTP {s}, {})",
            resp.code().unwrap_or("unknown")
        ))),
    }
}

fn written(d: &Value, stored: Option<Arc<Record>>) -> Written {
    let version = d
        .get("Modified_Time")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Written {
        id: d
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        modified_at: mapping::parse_datetime(&version),
        version,
        stored,
    }
}

#[async_trait]
impl Connector for ZohoConnector {
    fn capabilities(&self) -> Capabilities {
        let idempotent = self.kinds.values().all(|k| k.ctx.sync_field.is_some());
        Capabilities {
            kinds: Kind::ALL.to_vec(),
            max_batch: 100,
            max_concurrency: 2,
            create_mode: if idempotent {
                CreateMode::Idempotent
            } else {
                CreateMode::AtLeastOnce
            },
            change_feed: true,
            schemas: Kind::ALL
                .iter()
                .map(|k| {
                    let meta = self
                        .kinds
                        .get(k)
                        .map(|i| i.meta.clone())
                        .unwrap_or_default();
                    (*k, mapping::schema(*k, &meta))
                })
                .collect(),
        }
    }

    async fn containers(&self, _kind: Kind) -> std::result::Result<Vec<Container>, ConnectorError> {
        // Zoho has no folders: a module is one flat list.
        Ok(vec![])
    }

    async fn categories(&self) -> std::result::Result<Vec<String>, ConnectorError> {
        Ok(vec![])
    }

    async fn ensure_category(&self, _name: &str) -> std::result::Result<(), ConnectorError> {
        Ok(())
    }

    async fn changes(
        &self,
        cur: &Cursor,
        req: &PageRequest,
    ) -> std::result::Result<ChangePage, ConnectorError> {
        let (rec, del, seen) = parse_cursor(cur)?;
        let mut st = match &req.page {
            Some(p) => decode(p)?,
            None => PageState {
                phase: 0,
                page: 1,
                rec: Some(rec),
                del: Some(del),
                seen,
                ..Default::default()
            },
        };
        let info = self.info(req.scope.kind)?;
        if st.phase == 0 || st.phase == 2 {
            let r = self
                .list_request(&req.scope, &st)?
                .header("If-Modified-Since", st.rec.clone().unwrap_or_default());
            let resp = self.client.send(&r).await?;
            if st.wm.is_none() {
                st.wm = Some(self.watermark(&resp));
            }
            let (items, more) = match resp.status {
                204 | 304 => (vec![], false),
                _ => {
                    let body = ok_body(resp)?;
                    let items = self.items(&req.scope, &body, true, &mut st);
                    (items, Self::advance(&mut st, &body))
                }
            };
            if st.in_view.len() > IN_VIEW_MAX {
                return Err(ConnectorError::cursor_expired());
            }
            if !more {
                // A record modified since the watermark but not in the view has left it (or
                // never was in it): `Vanished`, which the engine classifies.
                st.phase = match (&req.scope.zoho, st.phase) {
                    (ZohoScope::CustomView(_), 0) => 2,
                    _ => 1,
                };
                st.page = 1;
                st.token = None;
            }
            return Ok(ChangePage {
                items,
                next: Next::Page(encode(&st)),
            });
        }
        let r = ApiRequest::get(format!("{}/deleted", info.module))
            .query("type", "all")
            .query("per_page", PER_PAGE.to_string())
            .query("page", st.page.max(1).to_string())
            .header("If-Modified-Since", st.del.clone().unwrap_or_default());
        let resp = self.client.send(&r).await?;
        let (items, more) = match resp.status {
            204 | 304 => (vec![], false),
            _ => {
                let body = ok_body(resp)?;
                let mut items = vec![];
                for d in body
                    .get("data")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let Some(id) = d.get("id").and_then(Value::as_str) else {
                        continue;
                    };
                    // `deleted_time` is when it was deleted: one at or after this round's
                    // watermark comes back next round and is carried so it is reported once.
                    let when = d
                        .get("deleted_time")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if at_or_after(when, st.wm.as_deref()) {
                        st.next.push_del(id);
                    }
                    if !st.seen.has_del(id) {
                        items.push(ChangeItem::Deleted { id: id.to_string() });
                    }
                }
                let more = body
                    .pointer("/info/more_records")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                (items, more)
            }
        };
        if more {
            st.page += 1;
            return Ok(ChangePage {
                items,
                next: Next::Page(encode(&st)),
            });
        }
        let wm = st.wm.clone().unwrap_or_default();
        Ok(ChangePage {
            items,
            next: Next::Done(cursor(&wm, &wm, &st.next)),
        })
    }

    async fn list(&self, req: &PageRequest) -> std::result::Result<ChangePage, ConnectorError> {
        let mut st = match &req.page {
            Some(p) => decode(p)?,
            None => PageState {
                page: 1,
                ..Default::default()
            },
        };
        let resp = self
            .client
            .send(&self.list_request(&req.scope, &st)?)
            .await?;
        if st.wm.is_none() {
            st.wm = Some(self.watermark(&resp));
        }
        let wm = st.wm.clone().unwrap_or_default();
        if resp.status == 204 || resp.status == 304 {
            return Ok(ChangePage {
                items: vec![],
                next: Next::Done(cursor(&wm, &wm, &st.next)),
            });
        }
        let body = ok_body(resp)?;
        let items = self.items(&req.scope, &body, false, &mut st);
        let next = if Self::advance(&mut st, &body) {
            Next::Page(encode(&st))
        } else {
            Next::Done(cursor(&wm, &wm, &st.next))
        };
        Ok(ChangePage { items, next })
    }

    async fn fetch(
        &self,
        scope: &Scope,
        ids: &[String],
    ) -> std::result::Result<Vec<ChangeItem>, ConnectorError> {
        let info = self.info(scope.kind)?;
        let found = self.by_ids(scope, ids).await?;
        Ok(ids
            .iter()
            .map(|id| match found.get(id) {
                None => ChangeItem::Deleted { id: id.clone() },
                Some(v) if !self.in_scope(scope, v) => ChangeItem::Vanished { id: id.clone() },
                Some(v) => match mapping::from_zoho(scope.kind, v, &info.ctx) {
                    Ok(r) => ChangeItem::Upsert(r),
                    Err(_) => ChangeItem::Vanished { id: id.clone() },
                },
            })
            .collect())
    }

    async fn classify_vanished(
        &self,
        scope: &Scope,
        ids: &[String],
    ) -> std::result::Result<Vec<(String, Vanish)>, ConnectorError> {
        let found = self.by_ids(scope, ids).await?;
        Ok(ids
            .iter()
            .map(|id| {
                let v = if found.contains_key(id) {
                    Vanish::OutOfScope
                } else {
                    Vanish::Deleted
                };
                (id.clone(), v)
            })
            .collect())
    }

    async fn apply(
        &self,
        scope: &Scope,
        ops: Vec<Operation>,
    ) -> std::result::Result<Vec<OpResult>, ConnectorError> {
        let kind = scope.kind;
        let info = self.info(kind)?;
        let ctx = &info.ctx;
        // Resolve the Accounts named by contacts' companies first.
        let mut accounts = HashMap::new();
        if kind == Kind::Contact && self.opts.resolve_accounts {
            let names: Vec<String> = ops
                .iter()
                .filter_map(|op| match op {
                    Operation::Create { record, .. } => match &**record {
                        Record::Contact(c) => Some(c.company.trim().to_string()),
                        _ => None,
                    },
                    Operation::Update { record, fields, .. }
                        if fields.contains(crmsync_core::Field::Company) =>
                    {
                        match &**record {
                            Record::Contact(c) => Some(c.company.trim().to_string()),
                            _ => None,
                        }
                    }
                    _ => None,
                })
                .filter(|n| !n.is_empty())
                .collect();
            if !names.is_empty() {
                accounts = self.resolve_accounts(names).await?;
            }
        }
        let account_of = |r: &Record| match r {
            Record::Contact(c) => accounts.get(c.company.trim()).cloned(),
            _ => None,
        };
        let mut results: Vec<Option<OpResult>> = vec![None; ops.len()];
        let mut creates: Vec<(usize, Map<String, Value>)> = vec![];
        let mut updates: Vec<(usize, Option<String>, Map<String, Value>)> = vec![];
        let mut deletes: Vec<(usize, String)> = vec![];
        let schema_fields = mapping::schema(kind, &info.meta).fields;
        // What Zoho will hold after each write, read back through the same mapping as a read:
        // derived values (a Last_Name made up from the e-mail, an unresolved company left out,
        // a task start kept only in a recurrence) show in `Written::stored`.
        let mut stored: Vec<Option<Arc<Record>>> = vec![None; ops.len()];
        let stored_of = |body: &Map<String, Value>| {
            let mut full = body.clone();
            full.insert("id".into(), json!("pending"));
            mapping::from_zoho(kind, &Value::Object(full), ctx)
                .ok()
                .map(|r| r.record)
        };
        let note = |i: usize, notes: &[String]| {
            if !notes.is_empty() {
                // Fixed texts only: no personal data in the log.
                tracing::warn!(
                    module = %info.module,
                    operation = i,
                    notes = ?notes,
                    "the record written to Zoho differs from the one given"
                );
            }
        };
        for (i, op) in ops.iter().enumerate() {
            match op {
                Operation::Create { sync_id, record } => {
                    let (mut body, notes) = mapping::to_zoho(record, schema_fields, ctx, None);
                    if let (Some(id), Record::Contact(c)) = (account_of(record), &**record) {
                        body.insert(
                            "Account_Name".into(),
                            json!({"id": id, "name": c.company.trim()}),
                        );
                    }
                    if let Some(f) = &ctx.sync_field {
                        body.insert(f.clone(), json!(sync_id.0));
                    }
                    match mapping::validate(kind, &body, &info.meta, true) {
                        Ok(()) => {
                            note(i, &notes);
                            stored[i] = stored_of(&body);
                            creates.push((i, body));
                        }
                        Err(e) => results[i] = Some(Err(e)),
                    }
                }
                Operation::Update {
                    id,
                    if_version,
                    fields,
                    record,
                    stamp,
                } => {
                    let fields = fields.intersect(schema_fields);
                    let (mut body, notes) = mapping::to_zoho(record, fields, ctx, None);
                    // The whole record as Zoho would hold it: coupled values (an event
                    // reminder is written relative to its start) read back consistently; the
                    // engine takes only the written fields from it.
                    let (mut full, _) = mapping::to_zoho(record, schema_fields, ctx, None);
                    if let (Some(aid), Record::Contact(c)) = (account_of(record), &**record) {
                        if fields.contains(crmsync_core::Field::Company) {
                            let v = json!({"id": aid, "name": c.company.trim()});
                            body.insert("Account_Name".into(), v.clone());
                            full.insert("Account_Name".into(), v);
                        }
                    }
                    if let (Some(f), Some(s)) = (&ctx.sync_field, stamp) {
                        body.insert(f.clone(), json!(s.0));
                    }
                    match mapping::validate(kind, &body, &info.meta, false) {
                        Ok(()) => {
                            note(i, &notes);
                            stored[i] = stored_of(&full);
                            body.insert("id".into(), json!(id));
                            updates.push((i, if_version.clone(), body));
                        }
                        Err(e) => results[i] = Some(Err(e)),
                    }
                }
                // Zoho has no conditional delete; `if_version` cannot be honoured.
                Operation::Delete { id, .. } => deletes.push((i, id.clone())),
            }
        }
        if !creates.is_empty() {
            let data: Vec<Value> = creates
                .iter()
                .map(|(_, b)| Value::Object(b.clone()))
                .collect();
            let req = match &ctx.sync_field {
                Some(f) => ApiRequest::with_body(
                    Method::POST,
                    format!("{}/upsert", info.module),
                    json!({"data": data, "trigger": [], "duplicate_check_fields": [f]}),
                ),
                None => ApiRequest::with_body(
                    Method::POST,
                    info.module.clone(),
                    json!({"data": data, "trigger": []}),
                ),
            };
            // An upsert on the sync id is safe to repeat; a plain insert is not.
            let req = ApiRequest {
                idempotent: ctx.sync_field.is_some(),
                ..req
            };
            let res = self.write(req, creates.len()).await;
            for ((i, _), r) in creates.iter().zip(res) {
                results[*i] = Some(r.map(|d| written(&d, stored[*i].clone())));
            }
        }
        // Unconditional updates go in one batch; conditional ones one by one (the header is
        // per request).
        let (plain, conditional): (Vec<_>, Vec<_>) =
            updates.into_iter().partition(|(_, v, _)| v.is_none());
        if !plain.is_empty() {
            let data: Vec<Value> = plain
                .iter()
                .map(|(_, _, b)| Value::Object(b.clone()))
                .collect();
            let req = ApiRequest::with_body(
                Method::PUT,
                info.module.clone(),
                json!({"data": data, "trigger": []}),
            );
            let res = self.write(req, plain.len()).await;
            for ((i, _, _), r) in plain.iter().zip(res) {
                results[*i] = Some(r.map(|d| written(&d, stored[*i].clone())));
            }
        }
        let futs = conditional.iter().map(|(i, v, b)| {
            let req = ApiRequest::with_body(
                Method::PUT,
                info.module.clone(),
                json!({"data": [b], "trigger": []}),
            )
            .header("If-Unmodified-Since", v.clone().unwrap_or_default());
            async move { (*i, self.write(req, 1).await) }
        });
        for (i, mut r) in futures::future::join_all(futs).await {
            results[i] = r.pop().map(|r| r.map(|d| written(&d, stored[i].clone())));
        }
        for chunk in deletes.chunks(100) {
            let ids: Vec<&str> = chunk.iter().map(|(_, id)| id.as_str()).collect();
            let req = ApiRequest {
                method: Method::DELETE,
                path: info.module.clone(),
                query: vec![
                    ("ids".into(), ids.join(",")),
                    ("wf_trigger".into(), "false".into()),
                ],
                headers: vec![],
                body: None,
                idempotent: true,
            };
            let res = self.write(req, chunk.len()).await;
            for ((i, id), r) in chunk.iter().zip(res) {
                results[*i] = Some(match r {
                    Ok(_) => Ok(Written {
                        id: id.clone(),
                        version: String::new(),
                        modified_at: None,
                        stored: None,
                    }),
                    // Already gone is what a delete wanted.
                    Err(e) if e.kind == RecordErrorKind::NotFound => Ok(Written {
                        id: id.clone(),
                        version: String::new(),
                        modified_at: None,
                        stored: None,
                    }),
                    Err(e) => Err(e),
                });
            }
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(RecordError::new(
                        RecordErrorKind::Transient,
                        "no result from Zoho",
                    ))
                })
            })
            .collect())
    }

    async fn find_by_sync_id(
        &self,
        scope: &Scope,
        ids: &[SyncId],
    ) -> std::result::Result<Vec<(SyncId, RemoteRecord)>, ConnectorError> {
        let info = self.info(scope.kind)?;
        let Some(field) = &info.ctx.sync_field else {
            return Ok(vec![]);
        };
        let mut zoho_ids = vec![];
        for chunk in ids.chunks(50) {
            let q = format!(
                "select id, {field} from {} where {field} in ({}) limit 200",
                info.module,
                chunk
                    .iter()
                    .map(|s| coql_quote(&s.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let resp = self
                .client
                .send(&ApiRequest::with_body(
                    Method::POST,
                    "coql",
                    json!({"select_query": q}),
                ))
                .await?;
            if resp.status == 204 {
                continue;
            }
            let body = ok_body(resp)?;
            for v in body
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    zoho_ids.push(id.to_string());
                }
            }
        }
        let found = self.by_ids(scope, &zoho_ids).await?;
        let mut out = vec![];
        for id in zoho_ids {
            if let Some(v) = found.get(&id) {
                if let Ok(r) = mapping::from_zoho(scope.kind, v, &info.ctx) {
                    if let Some(s) = r.sync_id.clone() {
                        out.push((s, r));
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn cursors_round_trip_and_read_the_older_shape() {
        let wm = "2026-01-02T03:04:05+08:00";
        let empty = cursor(wm, wm, &Carry::default());
        assert_eq!(empty.0, format!("zoho1|{wm}|{wm}"));
        assert_eq!(
            parse_cursor(&empty).unwrap(),
            (wm.to_string(), wm.to_string(), Carry::default())
        );
        let mut carry = Carry::default();
        carry.push_rec("1", wm);
        carry.push_del("2");
        let c = cursor(wm, wm, &carry);
        let (_, _, back) = parse_cursor(&c).unwrap();
        assert_eq!(back, carry);
        assert!(back.has_rec("1", wm) && !back.has_rec("1", "other") && back.has_del("2"));
        assert!(parse_cursor(&Cursor("zoho9|x".into())).is_err());
        for i in 0..CARRY_MAX + 10 {
            carry.push_del(&i.to_string());
        }
        assert_eq!(carry.del.len(), CARRY_MAX);
    }

    #[test]
    fn watermark_comparison_is_by_instant() {
        assert!(at_or_after(
            "2026-01-02T03:04:05+08:00",
            Some("2026-01-01T19:04:05Z")
        ));
        assert!(!at_or_after(
            "2026-01-02T03:04:04+08:00",
            Some("2026-01-01T19:04:05Z")
        ));
        assert!(at_or_after("garbled", Some("2026-01-01T19:04:05Z")));
    }
}
