//! [`OutlookConnector`]: the core's [`Connector`] over Microsoft Graph.
//!
//! Contacts and To Do tasks are read through per-folder / per-list delta queries, events of the
//! primary calendar through `calendarView/delta` over the scope's window. A chosen non-primary
//! calendar has no delta in v1.0: its listing is a windowed `calendarView` compared by version,
//! and `changes` answers `CursorExpired` so the engine lists again. The cursor is the whole
//! deltaLink, returned only with `Next::Done`; nextLinks are page tokens.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use crmsync_core::{
    Capabilities, ChangeItem, ChangePage, Connector, ConnectorError, Container, CreateMode, Cursor,
    FieldSet, Kind, Next, OpResult, Operation, PageRequest, Record, RecordError, RecordErrorKind,
    RemoteRecord, Scope, SyncId, Vanish, Written,
};
use reqwest::Method;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::error::{Error, Result};
use crate::http::{
    status_error, BatchRequest, GraphClient, GraphResponse, MAILBOX_CONCURRENCY, MAX_BATCH,
};
use crate::mapping::{self, MappingOptions, SYNC_ID_PROPERTY};

/// Options of the connector.
#[derive(Debug, Clone, Copy)]
pub struct OutlookOptions {
    /// Mapping options (attendees).
    pub mapping: MappingOptions,
    /// `Prefer: odata.maxpagesize` for delta pages.
    pub page_size: u32,
}

impl Default for OutlookOptions {
    fn default() -> Self {
        OutlookOptions {
            mapping: MappingOptions::default(),
            page_size: 200,
        }
    }
}

/// The Microsoft Graph connector of one mailbox.
pub struct OutlookConnector {
    graph: GraphClient,
    opts: OutlookOptions,
    defaults: Mutex<HashMap<Kind, String>>,
    /// Set when this round already found no default Contacts folder id (an empty mailbox): the
    /// writes of the round go to `/me/contacts` without asking again (up to two GETs per
    /// concurrent batch before), until a created contact reveals the id. Cleared at the start
    /// of each round's read and before listing folders.
    no_default_contacts: AtomicBool,
    /// Task id → sync id, remembered from reads: a To Do task gets a new id when moved, so a
    /// vanished task is looked for in the other lists by its sync id.
    task_sync_ids: Mutex<HashMap<String, SyncId>>,
    /// Master categories known to exist (so writes carrying them show coloured in Outlook).
    known_categories: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for OutlookConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutlookConnector")
            .field("graph", &self.graph)
            .finish()
    }
}

fn quote(s: &str) -> String {
    s.replace('\'', "''")
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn expand_property() -> String {
    format!(
        "$expand=singleValueExtendedProperties($filter=id eq '{}')",
        quote(SYNC_ID_PROPERTY)
    )
    .replace(' ', "%20")
}

fn ce(e: Error) -> ConnectorError {
    e.into()
}

fn is_exception(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("exception")
}

/// Whether an event's categories pass the scope's category filter (Graph cannot filter delta
/// by category, so the connector looks before reporting what it will not sync).
fn passes_categories(scope: &Scope, v: &Value) -> bool {
    let cats: Vec<&str> = v
        .get("categories")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    scope.categories.admits(&cats, &scope.zoho_category)
}

/// An exception (an edited occurrence of a series) as a record this connector does not sync,
/// titled by its own subject and explained with its date and its series' title.
fn unsupported_exception(v: &Value, id: &str, series_title: Option<&str>) -> ChangeItem {
    let e = mapping::event_from_graph(v);
    let series = series_title.map(str::trim).filter(|t| !t.is_empty());
    let title = Some(e.title.trim())
        .filter(|t| !t.is_empty())
        .or(series)
        .unwrap_or("(untitled)")
        .to_string();
    let date = match e.time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => e.start.with_timezone(&tz).date_naive(),
        Err(_) => e.start.date_naive(),
    };
    let of = match series {
        Some(t) => format!("the recurring series \"{t}\""),
        None => "a recurring series".to_string(),
    };
    ChangeItem::Unsupported {
        id: id.to_string(),
        title,
        reason: format!(
            "an edited occurrence ({date}) of {of}: Zoho CRM has no per-occurrence edits"
        ),
    }
}

impl OutlookConnector {
    /// A connector on the Graph v1.0 base URL (`https://graph.microsoft.com/v1.0`).
    pub fn new(graph_url: impl Into<String>, auth: Arc<Auth>, opts: OutlookOptions) -> Self {
        OutlookConnector {
            graph: GraphClient::new(graph_url, auth),
            opts,
            defaults: Mutex::new(HashMap::new()),
            no_default_contacts: AtomicBool::new(false),
            task_sync_ids: Mutex::new(HashMap::new()),
            known_categories: Mutex::new(BTreeSet::new()),
        }
    }

    /// A connector over an existing client (custom sleeper, attempts).
    pub fn with_client(graph: GraphClient, opts: OutlookOptions) -> Self {
        OutlookConnector {
            graph,
            opts,
            defaults: Mutex::new(HashMap::new()),
            no_default_contacts: AtomicBool::new(false),
            task_sync_ids: Mutex::new(HashMap::new()),
            known_categories: Mutex::new(BTreeSet::new()),
        }
    }

    /// The underlying HTTP client.
    pub fn graph(&self) -> &GraphClient {
        &self.graph
    }

    /// How many `$batch`es the client's adaptive window lets into the mailbox at once now (1 to
    /// 4; see the crate's decisions).
    pub fn batch_window(&self) -> usize {
        self.graph.batch_window()
    }

    fn cached_default(&self, kind: Kind) -> Option<String> {
        self.defaults.lock().ok()?.get(&kind).cloned()
    }

    fn set_default(&self, kind: Kind, id: &str) {
        if let Ok(mut d) = self.defaults.lock() {
            d.insert(kind, id.to_string());
        }
    }

    /// The id of the default Contacts folder (not listed by `/me/contactFolders`): the
    /// `parentFolderId` of a top-level folder or of a contact in `/me/contacts`.
    pub async fn default_contact_folder(&self) -> Result<Option<String>> {
        if let Some(id) = self.cached_default(Kind::Contact) {
            return Ok(Some(id));
        }
        if self.no_default_contacts.load(Ordering::SeqCst) {
            return Ok(None);
        }
        for path in [
            "/me/contactFolders?$top=1&$select=parentFolderId",
            "/me/contacts?$top=1&$select=parentFolderId",
        ] {
            let v = self.graph.get(path, &[]).await?;
            if let Some(id) = v.pointer("/value/0/parentFolderId").and_then(Value::as_str) {
                self.set_default(Kind::Contact, id);
                return Ok(Some(id.to_string()));
            }
        }
        self.no_default_contacts.store(true, Ordering::SeqCst);
        Ok(None)
    }

    /// A new round (or a folder listing): look for the default Contacts folder again.
    fn forget_missing_default(&self, scope: &Scope, page: &Option<String>) {
        if scope.kind == Kind::Contact && page.is_none() {
            self.no_default_contacts.store(false, Ordering::SeqCst);
        }
    }

    async fn default_task_list(&self) -> Result<String> {
        if let Some(id) = self.cached_default(Kind::Task) {
            return Ok(id);
        }
        let lists = self.collect("/me/todo/lists").await?;
        let id = lists
            .iter()
            .find(|l| l.get("wellknownListName").and_then(Value::as_str) == Some("defaultList"))
            .or_else(|| lists.first())
            .and_then(|l| l.get("id").and_then(Value::as_str))
            .ok_or_else(|| Error::Config("the mailbox has no To Do list".into()))?
            .to_string();
        self.set_default(Kind::Task, &id);
        Ok(id)
    }

    async fn default_calendar(&self) -> Result<String> {
        if let Some(id) = self.cached_default(Kind::Event) {
            return Ok(id);
        }
        let v = self.graph.get("/me/calendar?$select=id", &[]).await?;
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Protocol("the primary calendar has no id".into()))?
            .to_string();
        self.set_default(Kind::Event, &id);
        Ok(id)
    }

    /// Follows nextLinks of a plain collection.
    async fn collect(&self, path: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut next = Some(path.to_string());
        while let Some(url) = next {
            let v = self.graph.get(&url, &[]).await?;
            if let Some(a) = v.get("value").and_then(Value::as_array) {
                out.extend(a.iter().cloned());
            }
            next = v
                .get("@odata.nextLink")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        Ok(out)
    }

    async fn contacts_base(&self, scope: &Scope) -> Result<String> {
        // Delta is documented per folder only: use the folder path whenever its id is known.
        let folder = match &scope.container {
            Some(id) => Some(id.clone()),
            None => self.default_contact_folder().await?,
        };
        Ok(match folder {
            Some(id) if !id.is_empty() => format!("/me/contactFolders/{id}/contacts"),
            _ => "/me/contacts".into(),
        })
    }

    async fn task_list(&self, scope: &Scope) -> Result<String> {
        match &scope.container {
            Some(id) => Ok(id.clone()),
            None => self.default_task_list().await,
        }
    }

    /// `None` = the primary calendar, else the chosen other calendar's id.
    async fn other_calendar(&self, scope: &Scope) -> Result<Option<String>> {
        match &scope.container {
            None => Ok(None),
            Some(id) if *id == self.default_calendar().await? => Ok(None),
            Some(id) => Ok(Some(id.clone())),
        }
    }

    fn window_query(scope: &Scope) -> String {
        let (start, end) = match scope.window {
            Some(w) => (w.start, w.end),
            None => {
                let now = chrono::Utc::now();
                (
                    now - chrono::Duration::days(365),
                    now + chrono::Duration::days(365),
                )
            }
        };
        let f = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        format!("startDateTime={}&endDateTime={}", f(start), f(end))
    }

    async fn item_path(&self, scope: &Scope, id: &str) -> Result<String> {
        Ok(match scope.kind {
            Kind::Contact => format!("/me/contacts/{id}"),
            Kind::Event => format!("/me/events/{id}"),
            Kind::Task => format!("/me/todo/lists/{}/tasks/{id}", self.task_list(scope).await?),
        })
    }

    fn remote(&self, kind: Kind, v: &Value) -> Option<RemoteRecord> {
        let id = v.get("id")?.as_str()?.to_string();
        let record = match kind {
            Kind::Contact => Record::Contact(mapping::contact_from_graph(v)),
            Kind::Task => Record::Task(mapping::task_from_graph(v)),
            Kind::Event => Record::Event(mapping::event_from_graph(v)),
        };
        let sync_id = mapping::sync_id(v);
        if kind == Kind::Task {
            if let (Some(s), Ok(mut m)) = (&sync_id, self.task_sync_ids.lock()) {
                m.insert(id.clone(), s.clone());
            }
        }
        Some(RemoteRecord {
            id,
            version: mapping::version(v),
            modified_at: mapping::modified_at(v),
            sync_id,
            record: record.into(),
        })
    }

    fn page_size_header(&self) -> (&'static str, String) {
        (
            "Prefer",
            format!("odata.maxpagesize={}", self.opts.page_size),
        )
    }

    /// Reads one page (delta or listing) and turns it into change items.
    async fn read_page(&self, scope: &Scope, url: &str, done: Option<&str>) -> Result<ChangePage> {
        let v = self.graph.get(url, &[self.page_size_header()]).await?;
        let empty = vec![];
        let values = v.get("value").and_then(Value::as_array).unwrap_or(&empty);
        let mut items = Vec::new();
        let mut masters = BTreeSet::new();
        // Edited occurrences, once each (a delta round may repeat one).
        let mut exceptions: Vec<(&str, &Value)> = Vec::new();
        for it in values {
            let Some(id) = it.get("id").and_then(Value::as_str) else {
                continue;
            };
            if it.get("@removed").is_some() {
                items.push(ChangeItem::Vanished { id: id.to_string() });
                continue;
            }
            if scope.kind == Kind::Event {
                match it.get("type").and_then(Value::as_str) {
                    // Occurrences carry little: fetch the series master instead.
                    Some("occurrence") | Some("seriesMaster") => {
                        let m = if it.get("type").and_then(Value::as_str) == Some("seriesMaster") {
                            Some(id)
                        } else {
                            it.get("seriesMasterId").and_then(Value::as_str)
                        };
                        if let Some(m) = m {
                            masters.insert(m.to_string());
                        }
                        continue;
                    }
                    // Edited occurrences are reported as not synced, with their series' title.
                    Some("exception") => {
                        if passes_categories(scope, it) && !exceptions.iter().any(|(x, _)| *x == id)
                        {
                            exceptions.push((id, it));
                            if let Some(m) = it.get("seriesMasterId").and_then(Value::as_str) {
                                masters.insert(m.to_string());
                            }
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            if let Some(r) = self.remote(scope.kind, it) {
                items.push(ChangeItem::Upsert(r));
            }
        }
        let mut titles: HashMap<String, String> = HashMap::new();
        if !masters.is_empty() {
            let reqs: Vec<BatchRequest> = masters
                .iter()
                .map(|m| BatchRequest {
                    method: Method::GET,
                    url: format!("/me/events/{m}"),
                    headers: vec![],
                    body: None,
                })
                .collect();
            for (m, r) in masters.iter().zip(self.graph.batch(reqs).await?) {
                match r.status {
                    200 => {
                        if let Some(t) = r.body.get("subject").and_then(Value::as_str) {
                            titles.insert(m.clone(), t.to_string());
                        }
                        if let Some(rec) = self.remote(Kind::Event, &r.body) {
                            items.push(ChangeItem::Upsert(rec));
                        }
                    }
                    404 => items.push(ChangeItem::Vanished { id: m.clone() }),
                    s => return Err(status_error(s, &r.error_code())),
                }
            }
        }
        for (id, it) in exceptions {
            let series = it
                .get("seriesMasterId")
                .and_then(Value::as_str)
                .and_then(|m| titles.get(m));
            items.push(unsupported_exception(it, id, series.map(String::as_str)));
        }
        let next = if let Some(n) = v.get("@odata.nextLink").and_then(Value::as_str) {
            Next::Page(n.to_string())
        } else if let Some(d) = v.get("@odata.deltaLink").and_then(Value::as_str) {
            Next::Done(Cursor(d.to_string()))
        } else {
            Next::Done(Cursor(done.unwrap_or("listing").to_string()))
        };
        Ok(ChangePage { items, next })
    }

    async fn first_url(&self, scope: &Scope) -> Result<(String, bool)> {
        Ok(match scope.kind {
            Kind::Contact => (format!("{}/delta", self.contacts_base(scope).await?), true),
            Kind::Task => (
                format!(
                    "/me/todo/lists/{}/tasks/delta",
                    self.task_list(scope).await?
                ),
                true,
            ),
            Kind::Event => match self.other_calendar(scope).await? {
                None => (
                    format!("/me/calendarView/delta?{}", Self::window_query(scope)),
                    true,
                ),
                Some(cal) => (
                    format!(
                        "/me/calendars/{cal}/calendarView?{}&$top={}",
                        Self::window_query(scope),
                        self.opts.page_size
                    ),
                    false,
                ),
            },
        })
    }

    fn op_request(
        &self,
        scope: &Scope,
        op: &Operation,
        create_base: &str,
        item_base: &str,
    ) -> BatchRequest {
        let if_match = |v: &Option<String>| -> Vec<(String, String)> {
            v.iter()
                .filter(|v| !v.is_empty())
                .map(|v| ("If-Match".to_string(), v.clone()))
                .collect()
        };
        match op {
            Operation::Create { sync_id, record } => {
                let mut body = self.to_graph(record, FieldSet::all(scope.kind));
                match scope.kind {
                    Kind::Task => {
                        body["linkedResources"] = json!([mapping::sync_id_link(sync_id)]);
                    }
                    _ => {
                        body["singleValueExtendedProperties"] = mapping::sync_id_property(sync_id);
                    }
                }
                BatchRequest {
                    method: Method::POST,
                    url: create_base.to_string(),
                    headers: vec![],
                    body: Some(body),
                }
            }
            Operation::Update {
                id,
                if_version,
                fields,
                record,
                stamp,
            } => {
                let mut body = self.to_graph(record, *fields);
                if let (Some(s), false) = (stamp, scope.kind == Kind::Task) {
                    body["singleValueExtendedProperties"] = mapping::sync_id_property(s);
                }
                BatchRequest {
                    method: Method::PATCH,
                    url: format!("{item_base}/{id}"),
                    headers: if_match(if_version),
                    body: Some(body),
                }
            }
            Operation::Delete { id, if_version } => BatchRequest {
                method: Method::DELETE,
                url: format!("{item_base}/{id}"),
                headers: if_match(if_version),
                body: None,
            },
        }
    }

    fn to_graph(&self, record: &Record, fields: FieldSet) -> Value {
        match record {
            Record::Contact(c) => mapping::contact_to_graph(c, fields),
            Record::Task(t) => mapping::task_to_graph(t, fields),
            Record::Event(e) => mapping::event_to_graph(e, fields, self.opts.mapping),
        }
    }

    fn written(&self, kind: Kind, op: &Operation, r: &GraphResponse) -> OpResult {
        match r.status {
            200 | 201 => {
                let rec = self.remote(kind, &r.body).ok_or_else(|| {
                    RecordError::new(RecordErrorKind::Rejected, "Outlook answered without an id")
                })?;
                Ok(Written {
                    id: rec.id,
                    version: rec.version,
                    modified_at: rec.modified_at,
                    stored: Some(rec.record),
                })
            }
            204 => Ok(Written {
                id: match op {
                    Operation::Update { id, .. } | Operation::Delete { id, .. } => id.clone(),
                    Operation::Create { .. } => String::new(),
                },
                version: String::new(),
                modified_at: None,
                stored: None,
            }),
            // Deleting what is already gone is done.
            404 if matches!(op, Operation::Delete { .. }) => Ok(Written {
                id: match op {
                    Operation::Delete { id, .. } => id.clone(),
                    _ => String::new(),
                },
                version: String::new(),
                modified_at: None,
                stored: None,
            }),
            s => Err(status_error(s, &r.error_code()).to_record_error()),
        }
    }

    async fn get_many(&self, paths: Vec<String>) -> Result<Vec<GraphResponse>> {
        let reqs = paths
            .into_iter()
            .map(|url| BatchRequest {
                method: Method::GET,
                url,
                headers: vec![],
                body: None,
            })
            .collect();
        self.graph.batch(reqs).await
    }

    /// The titles of the series of the exceptions among `resps`, by series id.
    async fn series_titles(&self, resps: &[GraphResponse]) -> Result<HashMap<String, String>> {
        let masters: BTreeSet<String> = resps
            .iter()
            .filter(|r| r.status == 200 && is_exception(&r.body))
            .filter_map(|r| r.body.get("seriesMasterId").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        if masters.is_empty() {
            return Ok(HashMap::new());
        }
        let got = self
            .get_many(
                masters
                    .iter()
                    .map(|m| format!("/me/events/{m}?$select=subject"))
                    .collect(),
            )
            .await?;
        Ok(masters
            .into_iter()
            .zip(got)
            .filter_map(|(m, r)| {
                let t = r.body.get("subject").and_then(Value::as_str)?.to_string();
                (r.status == 200).then_some((m, t))
            })
            .collect())
    }

    fn in_scope(&self, scope: &Scope, v: &Value, folder: Option<&str>) -> bool {
        match scope.kind {
            Kind::Contact => match (folder, v.get("parentFolderId").and_then(Value::as_str)) {
                (Some(f), Some(p)) => f == p,
                _ => true,
            },
            Kind::Event => match scope.window {
                Some(w) => {
                    let e = mapping::event_from_graph(v);
                    e.recurrence.is_some() || (e.start < w.end && e.end >= w.start)
                }
                None => true,
            },
            Kind::Task => true,
        }
    }

    async fn scope_folder(&self, scope: &Scope) -> Result<Option<String>> {
        Ok(match (scope.kind, &scope.container) {
            (Kind::Contact, Some(f)) => Some(f.clone()),
            (Kind::Contact, None) => self.default_contact_folder().await?,
            _ => None,
        })
    }

    async fn contact_folders(&self) -> Result<Vec<Container>> {
        self.no_default_contacts.store(false, Ordering::SeqCst);
        let mut out = Vec::new();
        let default = self.default_contact_folder().await?;
        let default_id = default.clone().unwrap_or_default();
        out.push(Container {
            id: default_id.clone(),
            name: "Contacts".into(),
            is_default: true,
            parent_id: None,
        });
        let mut queue: Vec<(String, String, Option<String>)> = self
            .collect("/me/contactFolders")
            .await?
            .iter()
            .filter_map(|f| {
                Some((
                    f.get("id")?.as_str()?.to_string(),
                    format!("Contacts/{}", f.get("displayName")?.as_str()?),
                    default.clone(),
                ))
            })
            .collect();
        while let Some((id, name, parent)) = queue.pop() {
            let children = self
                .collect(&format!("/me/contactFolders/{id}/childFolders"))
                .await?;
            for c in &children {
                if let (Some(cid), Some(cn)) = (
                    c.get("id").and_then(Value::as_str),
                    c.get("displayName").and_then(Value::as_str),
                ) {
                    queue.push((cid.to_string(), format!("{name}/{cn}"), Some(id.clone())));
                }
            }
            out.push(Container {
                id,
                name,
                is_default: false,
                parent_id: parent,
            });
        }
        out.sort_by(|a, b| (!a.is_default, &a.name).cmp(&(!b.is_default, &b.name)));
        Ok(out)
    }

    /// Makes sure the master list holds the categories that events about to be written carry
    /// (the engine stamps "Zoho" on events it creates); one listing per connector lifetime.
    async fn ensure_categories_of(&self, ops: &[Operation]) -> Result<(), ConnectorError> {
        let mut wanted = BTreeSet::new();
        for op in ops {
            let (Operation::Create { record, .. } | Operation::Update { record, .. }) = op else {
                continue;
            };
            if let Record::Event(e) = &**record {
                wanted.extend(e.categories.iter().cloned());
            }
        }
        let missing: Vec<String> = {
            let known = self.known_categories.lock().map_err(|_| {
                ConnectorError::new(crmsync_core::ConnectorErrorKind::Other, "lock poisoned")
            })?;
            wanted.into_iter().filter(|c| !known.contains(c)).collect()
        };
        for name in missing {
            self.ensure_category(&name).await?;
            if let Ok(mut k) = self.known_categories.lock() {
                k.insert(name);
            }
        }
        Ok(())
    }

    async fn find_task_link(&self, sync_id: &SyncId, except: &str) -> Result<bool> {
        for l in self.collect("/me/todo/lists").await? {
            let Some(lid) = l.get("id").and_then(Value::as_str) else {
                continue;
            };
            if lid == except {
                continue;
            }
            let tasks = self
                .collect(&format!(
                    "/me/todo/lists/{lid}/tasks?$expand=linkedResources"
                ))
                .await?;
            if tasks
                .iter()
                .any(|t| mapping::sync_id(t).as_ref() == Some(sync_id))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[async_trait]
impl Connector for OutlookConnector {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            kinds: Kind::ALL.to_vec(),
            max_batch: MAX_BATCH,
            // The ceiling: the client's adaptive window decides how many of the engine's
            // concurrent batches are in flight (see the crate's decisions).
            max_concurrency: MAILBOX_CONCURRENCY,
            create_mode: CreateMode::Idempotent,
            change_feed: true,
            schemas: vec![
                (Kind::Contact, mapping::contact_schema()),
                (Kind::Task, mapping::task_schema()),
                (Kind::Event, mapping::event_schema(self.opts.mapping)),
            ],
        }
    }

    async fn containers(&self, kind: Kind) -> Result<Vec<Container>, ConnectorError> {
        match kind {
            Kind::Contact => self.contact_folders().await.map_err(ce),
            Kind::Task => {
                let lists = self.collect("/me/todo/lists").await.map_err(ce)?;
                Ok(lists
                    .iter()
                    .filter_map(|l| {
                        Some(Container {
                            id: l.get("id")?.as_str()?.to_string(),
                            name: l.get("displayName")?.as_str()?.to_string(),
                            is_default: l.get("wellknownListName").and_then(Value::as_str)
                                == Some("defaultList"),
                            parent_id: None,
                        })
                    })
                    .collect())
            }
            Kind::Event => {
                let default = self.default_calendar().await.map_err(ce)?;
                let cals = self.collect("/me/calendars").await.map_err(ce)?;
                Ok(cals
                    .iter()
                    .filter_map(|c| {
                        let id = c.get("id")?.as_str()?.to_string();
                        Some(Container {
                            is_default: id == default
                                || c.get("isDefaultCalendar").and_then(Value::as_bool)
                                    == Some(true),
                            id,
                            name: c.get("name")?.as_str()?.to_string(),
                            parent_id: None,
                        })
                    })
                    .collect())
            }
        }
    }

    async fn categories(&self) -> Result<Vec<String>, ConnectorError> {
        let cats = self
            .collect("/me/outlook/masterCategories")
            .await
            .map_err(ce)?;
        Ok(cats
            .iter()
            .filter_map(|c| c.get("displayName")?.as_str().map(str::to_string))
            .collect())
    }

    async fn ensure_category(&self, name: &str) -> Result<(), ConnectorError> {
        if self
            .categories()
            .await?
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
        {
            return Ok(());
        }
        let r = self
            .graph
            .send(
                Method::POST,
                "/me/outlook/masterCategories",
                Some(&json!({"displayName": name, "color": "preset9"})),
                &[],
            )
            .await
            .map_err(ce)?;
        match r.status {
            200 | 201 | 409 => Ok(()),
            s => Err(ce(status_error(s, &r.error_code()))),
        }
    }

    async fn changes(
        &self,
        cursor: &Cursor,
        req: &PageRequest,
    ) -> Result<ChangePage, ConnectorError> {
        self.forget_missing_default(&req.scope, &req.page);
        if !cursor.0.starts_with("http") {
            // A listing without delta (a non-primary calendar): list again.
            return Err(ConnectorError::cursor_expired());
        }
        let url = req.page.as_deref().unwrap_or(&cursor.0);
        self.read_page(&req.scope, url, None).await.map_err(ce)
    }

    async fn list(&self, req: &PageRequest) -> Result<ChangePage, ConnectorError> {
        self.forget_missing_default(&req.scope, &req.page);
        let (url, _) = self.first_url(&req.scope).await.map_err(ce)?;
        let url = req.page.clone().unwrap_or(url);
        let mut page = self.read_page(&req.scope, &url, None).await.map_err(ce)?;
        // A full listing reports presence only (and what is present but not synced).
        page.items
            .retain(|i| matches!(i, ChangeItem::Upsert(_) | ChangeItem::Unsupported { .. }));
        Ok(page)
    }

    async fn fetch(
        &self,
        scope: &Scope,
        ids: &[String],
    ) -> Result<Vec<ChangeItem>, ConnectorError> {
        let folder = self.scope_folder(scope).await.map_err(ce)?;
        let mut paths = Vec::new();
        for id in ids {
            let p = self.item_path(scope, id).await.map_err(ce)?;
            paths.push(match scope.kind {
                Kind::Task => format!("{p}?$expand=linkedResources"),
                _ => format!("{p}?{}", expand_property()),
            });
        }
        let resps = self.get_many(paths).await.map_err(ce)?;
        let titles = self.series_titles(&resps).await.map_err(ce)?;
        let mut out = Vec::new();
        for (id, r) in ids.iter().zip(resps) {
            out.push(match r.status {
                200 if scope.kind == Kind::Event && is_exception(&r.body) => {
                    let series = r
                        .body
                        .get("seriesMasterId")
                        .and_then(Value::as_str)
                        .and_then(|m| titles.get(m));
                    unsupported_exception(&r.body, id, series.map(String::as_str))
                }
                200 if self.in_scope(scope, &r.body, folder.as_deref()) => {
                    match self.remote(scope.kind, &r.body) {
                        Some(rec) => ChangeItem::Upsert(rec),
                        None => ChangeItem::Vanished { id: id.clone() },
                    }
                }
                200 => ChangeItem::Vanished { id: id.clone() },
                // A To Do task gets a new id when moved: let classify_vanished decide.
                404 if scope.kind == Kind::Task => ChangeItem::Vanished { id: id.clone() },
                404 => ChangeItem::Deleted { id: id.clone() },
                s => return Err(ce(status_error(s, &r.error_code()))),
            });
        }
        Ok(out)
    }

    fn note_sync_ids(&self, kind: Kind, known: &[(String, SyncId)]) {
        // To Do tasks get a new id when moved between lists: the sync id from the engine's state
        // lets a new process tell a move (found in another list) from a delete.
        if kind == Kind::Task {
            if let Ok(mut m) = self.task_sync_ids.lock() {
                for (id, s) in known {
                    m.entry(id.clone()).or_insert_with(|| s.clone());
                }
            }
        }
    }

    async fn classify_vanished(
        &self,
        scope: &Scope,
        ids: &[String],
    ) -> Result<Vec<(String, Vanish)>, ConnectorError> {
        let mut paths = Vec::new();
        for id in ids {
            paths.push(self.item_path(scope, id).await.map_err(ce)?);
        }
        let resps = self.get_many(paths).await.map_err(ce)?;
        let list = if scope.kind == Kind::Task {
            Some(self.task_list(scope).await.map_err(ce)?)
        } else {
            None
        };
        let mut out = Vec::new();
        for (id, r) in ids.iter().zip(resps) {
            let v = match (r.status, scope.kind) {
                (200, _) => Vanish::OutOfScope,
                (404, Kind::Task) => {
                    let known = self
                        .task_sync_ids
                        .lock()
                        .ok()
                        .and_then(|m| m.get(id).cloned());
                    match known {
                        Some(s) => {
                            let moved = self
                                .find_task_link(&s, list.as_deref().unwrap_or_default())
                                .await
                                .map_err(ce)?;
                            if moved {
                                Vanish::OutOfScope
                            } else {
                                Vanish::Deleted
                            }
                        }
                        // Without the sync id we cannot tell a move from a delete: unlink.
                        None => Vanish::OutOfScope,
                    }
                }
                (404, _) => Vanish::Deleted,
                (s, _) => return Err(ce(status_error(s, &r.error_code()))),
            };
            out.push((id.clone(), v));
        }
        Ok(out)
    }

    async fn apply(
        &self,
        scope: &Scope,
        ops: Vec<Operation>,
    ) -> Result<Vec<OpResult>, ConnectorError> {
        let (create_base, item_base) = match scope.kind {
            Kind::Contact => (
                self.contacts_base(scope).await.map_err(ce)?,
                "/me/contacts".to_string(),
            ),
            Kind::Task => {
                let l = self.task_list(scope).await.map_err(ce)?;
                (
                    format!("/me/todo/lists/{l}/tasks"),
                    format!("/me/todo/lists/{l}/tasks"),
                )
            }
            Kind::Event => match self.other_calendar(scope).await.map_err(ce)? {
                None => ("/me/events".to_string(), "/me/events".to_string()),
                Some(c) => (
                    format!("/me/calendars/{c}/events"),
                    "/me/events".to_string(),
                ),
            },
        };
        if scope.kind == Kind::Event {
            self.ensure_categories_of(&ops).await?;
        }
        let mut reqs: Vec<BatchRequest> = ops
            .iter()
            .map(|op| self.op_request(scope, op, &create_base, &item_base))
            .collect();
        // Stamping a linked To Do task: a linkedResource of its own (To Do has no extended
        // properties, and a PATCH cannot add one inline).
        let mut extra = 0;
        if scope.kind == Kind::Task {
            for op in &ops {
                if let Operation::Update {
                    id, stamp: Some(s), ..
                } = op
                {
                    reqs.push(BatchRequest {
                        method: Method::POST,
                        url: format!("{item_base}/{id}/linkedResources"),
                        headers: vec![],
                        body: Some(mapping::sync_id_link(s)),
                    });
                    extra += 1;
                }
            }
        }
        let resps = self.graph.batch(reqs).await.map_err(ce)?;
        if scope.kind == Kind::Contact
            && scope.container.is_none()
            && self.cached_default(Kind::Contact).is_none()
        {
            // An empty mailbox did not tell us the default folder; a created contact does.
            if let Some(id) = resps
                .iter()
                .filter(|r| r.status == 201)
                .find_map(|r| r.body.get("parentFolderId").and_then(Value::as_str))
            {
                self.set_default(Kind::Contact, id);
            }
        }
        if extra > 0 {
            tracing::debug!(extra, "outlook: stamped linked tasks");
        }
        Ok(ops
            .iter()
            .zip(resps)
            .map(|(op, r)| self.written(scope.kind, op, &r))
            .collect())
    }

    async fn find_by_sync_id(
        &self,
        scope: &Scope,
        ids: &[SyncId],
    ) -> Result<Vec<(SyncId, RemoteRecord)>, ConnectorError> {
        let mut out = Vec::new();
        match scope.kind {
            Kind::Task => {
                let list = self.task_list(scope).await.map_err(ce)?;
                let tasks = self
                    .collect(&format!(
                        "/me/todo/lists/{list}/tasks?$expand=linkedResources"
                    ))
                    .await
                    .map_err(ce)?;
                for t in &tasks {
                    if let Some(s) = mapping::sync_id(t) {
                        if ids.contains(&s) {
                            if let Some(r) = self.remote(Kind::Task, t) {
                                out.push((s, r));
                            }
                        }
                    }
                }
            }
            Kind::Contact | Kind::Event => {
                let coll = if scope.kind == Kind::Contact {
                    "/me/contacts"
                } else {
                    "/me/events"
                };
                let paths = ids
                    .iter()
                    .map(|s| {
                        let filter = format!(
                            "singleValueExtendedProperties/Any(ep: ep/id eq '{}' and ep/value eq '{}')",
                            quote(SYNC_ID_PROPERTY),
                            quote(&s.0)
                        );
                        format!("{coll}?$filter={}&{}", enc(&filter), expand_property())
                    })
                    .collect();
                let resps = self.get_many(paths).await.map_err(ce)?;
                for (s, r) in ids.iter().zip(resps) {
                    let body = r.ok().map_err(ce)?;
                    if let Some(v) = body.get("value").and_then(Value::as_array) {
                        if let Some(rec) = v.first().and_then(|x| self.remote(scope.kind, x)) {
                            out.push((s.clone(), rec));
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}
