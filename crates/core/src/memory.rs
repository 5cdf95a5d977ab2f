//! An in-memory connector and an in-memory state store.
//!
//! They are the reference for connector and store authors and the ground for the property
//! tests: the connector keeps versions, a change feed with cursors that can be made to expire,
//! deletions, batch limits, and can inject per-record and whole-call failures and "crashes"
//! (after k operations it applies part of a batch and never answers, like a process killed
//! mid-write).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::connector::{
    Capabilities, ChangeItem, ChangePage, Connector, Container, CreateMode, Cursor, Next, OpResult,
    Operation, PageRequest, RecordError, RemoteRecord, Scope, SyncId, Vanish, Written,
};
use crate::error::{ConnectorError, ConnectorErrorKind, StoreError};
use crate::field::{copy_fields, FieldSchema};
use crate::model::{FastMap, IdMap, Kind, Record, Side};
use crate::report::SyncReport;
use crate::store::{Commit, Deferred, Intent, Mapping, QueuedConflict, StateStore};

/// A per-record failure rule: given an operation, maybe fail it.
pub type FailRule = Arc<dyn Fn(&Operation) -> Option<RecordError> + Send + Sync>;

/// Reads in flight across connectors that share it, and their peak
/// ([`MemoryConnector::with_read_gauge`]).
#[derive(Debug, Default)]
pub struct ReadGauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl ReadGauge {
    /// The most reads that were in flight at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

/// One stored record of the in-memory connector.
#[derive(Debug, Clone, PartialEq)]
pub struct MemRecord {
    /// Its id.
    pub id: String,
    /// Its version.
    pub version: String,
    /// Its container (`None` = the default one).
    pub container: Option<String>,
    /// The sync id stamped on it.
    pub sync_id: Option<SyncId>,
    /// Last modification.
    pub modified_at: DateTime<Utc>,
    /// The content (shared with the listings that returned it).
    pub record: Arc<Record>,
}

/// One stored record: lean, since the engine benchmark keeps 100,000 per service. Its id is
/// `"<name>-<key>"` (the key of `Inner::records`), its version `"v<version>"`.
#[derive(Clone)]
struct Slot {
    version: u64,
    /// Unix seconds.
    modified: i64,
    container: Option<Box<str>>,
    sync_id: Option<SyncId>,
    record: Arc<Record>,
}

/// The stored records by key, key `k` at position `k - 1` (keys are handed out in order, from
/// 1); a deleted record leaves `None` behind. A vector rather than a `BTreeMap`: the engine
/// benchmark keeps 100,000 records per service, and a map's nodes held a slot in ~115 bytes
/// (about 7 of their 11 entries used) where this holds it in its own 64.
#[derive(Default)]
struct Slots(Vec<Option<Slot>>);

impl Slots {
    /// Stores a new record; returns its key.
    fn push(&mut self, slot: Slot) -> u64 {
        self.0.push(Some(slot));
        self.0.len() as u64
    }

    fn position(key: u64) -> Option<usize> {
        usize::try_from(key.checked_sub(1)?).ok()
    }

    fn get(&self, key: u64) -> Option<&Slot> {
        self.0.get(Self::position(key)?)?.as_ref()
    }

    fn get_mut(&mut self, key: u64) -> Option<&mut Slot> {
        self.0.get_mut(Self::position(key)?)?.as_mut()
    }

    fn remove(&mut self, key: u64) -> Option<Slot> {
        self.0.get_mut(Self::position(key)?)?.take()
    }

    /// The records with a key above `after` (all with 0), by key.
    fn after(&self, after: u64) -> impl Iterator<Item = (u64, &Slot)> {
        let from = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        self.0[from..]
            .iter()
            .enumerate()
            .filter_map(move |(i, s)| Some((after + 1 + i as u64, s.as_ref()?)))
    }

    /// Every record, by key.
    fn iter(&self) -> impl Iterator<Item = (u64, &Slot)> {
        self.after(0)
    }
}

#[derive(Default)]
struct Inner {
    /// By the number in the id (records are listed in this order).
    records: Slots,
    /// The change feed: (sequence, key of the record).
    log: Vec<(u64, u64)>,
    seq: u64,
    next_version: u64,
    epoch: u64,
    clock: i64,
    fail_calls: u32,
    fail_rule: Option<FailRule>,
    /// Remaining operations before a simulated crash.
    crash_budget: Option<u64>,
    /// Records this service reports as not syncable, with the reason.
    unsupported: HashMap<String, String>,
}

impl Inner {
    /// The change item for a stored record in scope.
    fn item(&self, id: String, r: &Slot) -> ChangeItem {
        match self.unsupported.get(&id) {
            Some(reason) => ChangeItem::Unsupported {
                id,
                title: r.record.title(),
                reason: reason.clone(),
            },
            None => ChangeItem::Upsert(MemoryConnector::remote(id, r)),
        }
    }
}

/// `"v<n>"`. (With `itoa` rather than `format!`: a listing of 100,000 records writes 100,000
/// of these, and the formatting machinery showed in the engine benchmark's profile.)
fn version_of(n: u64) -> String {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(n);
    let mut s = String::with_capacity(1 + digits.len());
    s.push('v');
    s.push_str(digits);
    s
}

/// A time from Unix seconds.
fn at(unix: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(unix, 0).unwrap_or_default()
}

/// An in-memory service.
pub struct MemoryConnector {
    name: String,
    inner: Mutex<Inner>,
    caps: Mutex<Capabilities>,
    page_size: usize,
    containers: bool,
    crashed: Arc<AtomicBool>,
    gauge: Option<Arc<ReadGauge>>,
    writes: AtomicU64,
    calls: AtomicU64,
}

impl std::fmt::Debug for MemoryConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryConnector")
            .field("name", &self.name)
            .finish()
    }
}

impl MemoryConnector {
    /// A connector for all kinds with full schemas, batches of `max_batch`.
    pub fn new(name: &str, max_batch: usize) -> Self {
        MemoryConnector {
            name: name.to_string(),
            inner: Mutex::new(Inner {
                clock: 1_700_000_000,
                ..Default::default()
            }),
            caps: Mutex::new(Capabilities {
                kinds: Kind::ALL.to_vec(),
                max_batch,
                max_concurrency: 4,
                create_mode: CreateMode::Idempotent,
                change_feed: true,
                schemas: Kind::ALL
                    .iter()
                    .map(|k| (*k, FieldSchema::full(*k)))
                    .collect(),
            }),
            page_size: 500,
            containers: true,
            crashed: Arc::new(AtomicBool::new(false)),
            gauge: None,
            writes: AtomicU64::new(0),
            calls: AtomicU64::new(0),
        }
    }

    /// Sets the page size of listings and change pages.
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Ignores `Scope::container` (a Zoho-like service has no folders): every record is in scope.
    pub fn without_containers(mut self) -> Self {
        self.containers = false;
        self
    }

    /// Sets the service's clock (Unix seconds) that stamps `modified_at`.
    pub fn set_clock(&self, unix: i64) {
        self.inner().clock = unix;
    }

    /// Makes every read (a listing or change page) yield to the executor once while counted on
    /// `gauge`, which connectors may share: a test can then see whether reads overlapped.
    pub fn with_read_gauge(mut self, gauge: Arc<ReadGauge>) -> Self {
        self.gauge = Some(gauge);
        self
    }

    /// Counts a read on the gauge (if any) across one yield to the executor.
    async fn gauged_read(&self) {
        let Some(g) = &self.gauge else {
            return;
        };
        let now = g.now.fetch_add(1, Ordering::SeqCst) + 1;
        g.peak.fetch_max(now, Ordering::SeqCst);
        let mut yielded = false;
        futures::future::poll_fn(|cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await;
        g.now.fetch_sub(1, Ordering::SeqCst);
    }

    /// Shares a "process died" switch with other connectors: once any of them crashes, every
    /// call of every connector sharing it hangs, as in a killed process.
    pub fn with_kill_switch(mut self, switch: Arc<AtomicBool>) -> Self {
        self.crashed = switch;
        self
    }

    /// Replaces the capabilities (schemas, change feed, batch limits).
    pub fn set_capabilities(&self, caps: Capabilities) {
        *lock(&self.caps) = caps;
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Remote writes applied so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Calls made so far (reads and writes).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Resets the write and call counters.
    pub fn reset_counters(&self) {
        self.writes.store(0, Ordering::SeqCst);
        self.calls.store(0, Ordering::SeqCst);
    }

    fn touch(inner: &mut Inner, key: u64) {
        inner.seq += 1;
        let seq = inner.seq;
        inner.log.push((seq, key));
    }

    /// A new version number and modification time.
    fn bump(inner: &mut Inner) -> (u64, i64) {
        inner.clock += 1;
        inner.next_version += 1;
        (inner.next_version, inner.clock)
    }

    /// The key of an id this service handed out (`None` for any other string).
    fn key(&self, id: &str) -> Option<u64> {
        id.strip_prefix(self.name.as_str())?
            .strip_prefix('-')?
            .parse()
            .ok()
    }

    /// The id of a key.
    fn id_of(&self, key: u64) -> String {
        let mut buf = itoa::Buffer::new();
        let digits = buf.format(key);
        let mut s = String::with_capacity(self.name.len() + 1 + digits.len());
        s.push_str(&self.name);
        s.push('-');
        s.push_str(digits);
        s
    }

    /// The public view of a stored record.
    fn mem(&self, key: u64, r: &Slot) -> MemRecord {
        MemRecord {
            id: self.id_of(key),
            version: version_of(r.version),
            container: r.container.as_deref().map(str::to_string),
            sync_id: r.sync_id.clone(),
            modified_at: at(r.modified),
            record: r.record.clone(),
        }
    }

    /// Inserts a record as if a user created it; returns its id.
    pub fn insert(&self, record: Record, container: Option<&str>) -> String {
        let mut inner = self.inner();
        let (version, modified) = Self::bump(&mut inner);
        let key = inner.records.push(Slot {
            version,
            modified,
            container: container.map(Box::from),
            sync_id: None,
            record: Arc::new(record),
        });
        Self::touch(&mut inner, key);
        self.id_of(key)
    }

    /// Edits a record as a user would; returns false when it does not exist.
    pub fn update(&self, id: &str, edit: impl FnOnce(&mut Record)) -> bool {
        let Some(key) = self.key(id) else {
            return false;
        };
        let mut inner = self.inner();
        let (version, modified) = Self::bump(&mut inner);
        let Some(r) = inner.records.get_mut(key) else {
            return false;
        };
        edit(Arc::make_mut(&mut r.record));
        r.version = version;
        r.modified = modified;
        Self::touch(&mut inner, key);
        true
    }

    /// Moves a record to another container.
    pub fn move_to(&self, id: &str, container: Option<&str>) -> bool {
        let Some(key) = self.key(id) else {
            return false;
        };
        let mut inner = self.inner();
        let (version, modified) = Self::bump(&mut inner);
        let Some(r) = inner.records.get_mut(key) else {
            return false;
        };
        r.container = container.map(Box::from);
        r.version = version;
        r.modified = modified;
        Self::touch(&mut inner, key);
        true
    }

    /// Deletes a record as a user would.
    pub fn delete(&self, id: &str) -> bool {
        let Some(key) = self.key(id) else {
            return false;
        };
        let mut inner = self.inner();
        let found = inner.records.remove(key).is_some();
        if found {
            Self::touch(&mut inner, key);
        }
        found
    }

    /// All records of a kind, by id.
    pub fn records(&self, kind: Kind) -> Vec<MemRecord> {
        self.inner()
            .records
            .iter()
            .filter(|(_, r)| r.record.kind() == kind)
            .map(|(k, r)| self.mem(k, r))
            .collect()
    }

    /// One record.
    pub fn get(&self, id: &str) -> Option<MemRecord> {
        let key = self.key(id)?;
        self.inner().records.get(key).map(|r| self.mem(key, r))
    }

    /// Makes the service report a record as not syncable (`Some(reason)`), or syncable again
    /// (`None`), the way a real connector reports an edited occurrence of a recurring series.
    /// The record shows up in listings and change feeds as [`ChangeItem::Unsupported`].
    pub fn set_unsupported(&self, id: &str, reason: Option<&str>) {
        let mut inner = self.inner();
        match reason {
            Some(r) => inner.unsupported.insert(id.to_string(), r.to_string()),
            None => inner.unsupported.remove(id),
        };
        if let Some(key) = self.key(id) {
            Self::touch(&mut inner, key);
        }
    }

    /// Makes every cursor handed out so far invalid (the next `changes` fails with
    /// `CursorExpired`).
    pub fn expire_cursors(&self) {
        self.inner().epoch += 1;
    }

    /// The next `n` calls fail as a whole with a transient error.
    pub fn fail_next_calls(&self, n: u32) {
        self.inner().fail_calls = n;
    }

    /// Fails operations matching a rule.
    pub fn set_fail_rule(&self, rule: Option<FailRule>) {
        self.inner().fail_rule = rule;
    }

    /// After `k` more operations, apply part of the batch and never answer (a simulated crash).
    pub fn crash_after(&self, k: Option<u64>) {
        self.inner().crash_budget = k;
        self.crashed.store(false, Ordering::SeqCst);
    }

    /// Whether a simulated crash happened.
    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    fn in_scope(&self, r: &Slot, scope: &Scope) -> bool {
        if r.record.kind() != scope.kind {
            return false;
        }
        if self.containers && r.container.as_deref() != scope.container.as_deref() {
            return false;
        }
        if let (Some(w), Record::Event(e)) = (&scope.window, &*r.record) {
            if e.end < w.start || e.start >= w.end {
                return false;
            }
        }
        true
    }

    fn remote(id: String, r: &Slot) -> RemoteRecord {
        RemoteRecord {
            id,
            version: version_of(r.version),
            modified_at: Some(at(r.modified)),
            sync_id: r.sync_id.clone(),
            record: r.record.clone(),
        }
    }

    async fn check_call(&self) -> Result<(), ConnectorError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.crashed() {
            // The process is dead: nothing answers any more.
            futures::future::pending::<()>().await;
        }
        self.check_failures()
    }

    fn check_failures(&self) -> Result<(), ConnectorError> {
        let mut inner = self.inner();
        if inner.fail_calls > 0 {
            inner.fail_calls -= 1;
            return Err(ConnectorError::new(
                ConnectorErrorKind::Transient,
                "injected failure of the whole call",
            ));
        }
        Ok(())
    }

    /// Applies one operation; a create lands in `container`.
    fn apply_one(&self, inner: &mut Inner, op: Operation, container: Option<&str>) -> OpResult {
        if let Some(rule) = &inner.fail_rule {
            if let Some(e) = rule(&op) {
                return Err(e);
            }
        }
        match &op {
            Operation::Create { .. } => {
                let Operation::Create { sync_id, record } = op else {
                    unreachable!("matched above")
                };
                let (version, modified) = Self::bump(inner);
                let key = inner.records.push(Slot {
                    version,
                    modified,
                    container: container.map(Box::from),
                    sync_id: Some(sync_id),
                    record,
                });
                Self::touch(inner, key);
                Ok(Written {
                    id: self.id_of(key),
                    version: version_of(version),
                    modified_at: Some(at(modified)),
                    stored: None,
                })
            }
            Operation::Update {
                id,
                if_version,
                fields,
                record,
                stamp,
            } => {
                let (version, modified) = Self::bump(inner);
                let Some((key, r)) = self
                    .key(id)
                    .and_then(|k| Some((k, inner.records.get_mut(k)?)))
                else {
                    return Err(RecordError::new(
                        crate::connector::RecordErrorKind::NotFound,
                        "the record no longer exists",
                    ));
                };
                if let Some(v) = if_version {
                    if *v != version_of(r.version) {
                        return Err(RecordError::new(
                            crate::connector::RecordErrorKind::Changed,
                            "the record changed since it was read",
                        ));
                    }
                }
                copy_fields(Arc::make_mut(&mut r.record), record, *fields);
                if let Some(s) = stamp {
                    r.sync_id = Some(s.clone());
                }
                r.version = version;
                r.modified = modified;
                Self::touch(inner, key);
                Ok(Written {
                    id: id.clone(),
                    version: version_of(version),
                    modified_at: Some(at(modified)),
                    stored: None,
                })
            }
            Operation::Delete { id, if_version } => {
                let Some((key, r)) = self.key(id).and_then(|k| Some((k, inner.records.get(k)?)))
                else {
                    // Already gone: the goal is reached.
                    return Ok(Written {
                        id: id.clone(),
                        version: String::new(),
                        modified_at: None,
                        stored: None,
                    });
                };
                if let Some(v) = if_version {
                    if *v != version_of(r.version) {
                        return Err(RecordError::new(
                            crate::connector::RecordErrorKind::Changed,
                            "the record changed since it was read",
                        ));
                    }
                }
                inner.records.remove(key);
                Self::touch(inner, key);
                Ok(Written {
                    id: id.clone(),
                    version: String::new(),
                    modified_at: None,
                    stored: None,
                })
            }
        }
    }

    fn apply_sync(&self, scope: &Scope, ops: Vec<Operation>) -> (Vec<OpResult>, Option<usize>) {
        let mut inner = self.inner();
        let mut crash_at = None;
        if let Some(budget) = inner.crash_budget {
            if budget <= ops.len() as u64 {
                // `budget` operations are applied, then the process dies before answering.
                crash_at = Some(budget as usize);
                inner.crash_budget = None;
            } else {
                inner.crash_budget = Some(budget - ops.len() as u64);
            }
        }
        let mut out = Vec::with_capacity(ops.len());
        for (n, op) in ops.into_iter().enumerate() {
            if crash_at == Some(n) {
                break;
            }
            let container = scope.container.as_deref().filter(|_| self.containers);
            let r = self.apply_one(&mut inner, op, container);
            if r.is_ok() {
                self.writes.fetch_add(1, Ordering::SeqCst);
            }
            out.push(r);
        }
        (out, crash_at)
    }

    fn page_of(
        &self,
        mut items: Vec<ChangeItem>,
        page: Option<&str>,
        done: Cursor,
    ) -> Result<ChangePage, ConnectorError> {
        let start: usize = match page {
            Some(p) => p
                .parse()
                .map_err(|_| ConnectorError::new(ConnectorErrorKind::Protocol, "bad page token"))?,
            None => 0,
        };
        let end = (start + self.page_size).min(items.len());
        let rest = items.split_off(end.min(items.len()));
        let page_items: Vec<ChangeItem> = items.into_iter().skip(start).collect();
        Ok(ChangePage {
            items: page_items,
            next: if rest.is_empty() {
                Next::Done(done)
            } else {
                Next::Page(end.to_string())
            },
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock in a test must not hide behind a poison error.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl Connector for MemoryConnector {
    fn capabilities(&self) -> Capabilities {
        lock(&self.caps).clone()
    }

    async fn containers(&self, _kind: Kind) -> Result<Vec<Container>, ConnectorError> {
        Ok(vec![Container {
            id: "default".into(),
            name: "Default".into(),
            is_default: true,
            parent_id: None,
        }])
    }

    async fn categories(&self) -> Result<Vec<String>, ConnectorError> {
        Ok(vec!["Zoho".into()])
    }

    async fn ensure_category(&self, _name: &str) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn changes(
        &self,
        cursor: &Cursor,
        req: &PageRequest,
    ) -> Result<ChangePage, ConnectorError> {
        self.gauged_read().await;
        self.check_call().await?;
        let inner = self.inner();
        let (seq, epoch) = cursor
            .0
            .split_once('@')
            .and_then(|(s, e)| Some((s.parse::<u64>().ok()?, e.parse::<u64>().ok()?)))
            .ok_or_else(|| ConnectorError::new(ConnectorErrorKind::Protocol, "bad cursor"))?;
        if epoch != inner.epoch {
            return Err(ConnectorError::cursor_expired());
        }
        // The page token pins the end of the round so pages stay consistent.
        let (page, upto) = match &req.page {
            Some(p) => {
                let (a, b) = p.split_once('/').unwrap_or((p, "0"));
                (Some(a.to_string()), b.parse().unwrap_or(inner.seq))
            }
            None => (None, inner.seq),
        };
        let from = inner.log.partition_point(|(s, _)| *s <= seq);
        let mut keys: Vec<u64> = inner.log[from..]
            .iter()
            .filter(|(s, _)| *s <= upto)
            .map(|(_, k)| *k)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let items: Vec<ChangeItem> = keys
            .into_iter()
            .filter_map(|k| match inner.records.get(k) {
                Some(r) if self.in_scope(r, &req.scope) => Some(inner.item(self.id_of(k), r)),
                Some(r) if r.record.kind() == req.scope.kind => {
                    Some(ChangeItem::Vanished { id: self.id_of(k) })
                }
                Some(_) => None,
                None => Some(ChangeItem::Deleted { id: self.id_of(k) }),
            })
            .collect();
        let done = Cursor(format!("{upto}@{}", inner.epoch));
        drop(inner);
        let mut pg = self.page_of(items, page.as_deref(), done)?;
        if let Next::Page(p) = &mut pg.next {
            *p = format!("{p}/{upto}");
        }
        Ok(pg)
    }

    async fn list(&self, req: &PageRequest) -> Result<ChangePage, ConnectorError> {
        self.gauged_read().await;
        self.check_call().await?;
        let inner = self.inner();
        // Page token: "<key of the last record of the previous page>/<sequence at the start of
        // the listing>".
        // Resuming after the last id keeps paging linear in the number of records.
        let (after, upto) = match &req.page {
            Some(p) => {
                let (a, b) = p.rsplit_once('/').unwrap_or((p, "0"));
                (Some(a.to_string()), b.parse().unwrap_or(inner.seq))
            }
            None => (None, inner.seq),
        };
        let after = match after {
            Some(a) => Some(a.parse::<u64>().map_err(|_| {
                ConnectorError::new(ConnectorErrorKind::Protocol, "bad page token")
            })?),
            None => None,
        };
        let range = inner.records.after(after.unwrap_or(0));
        let mut items = Vec::with_capacity(self.page_size);
        let mut last = None;
        let mut more = false;
        for (k, r) in range.filter(|(_, r)| self.in_scope(r, &req.scope)) {
            if items.len() == self.page_size {
                more = true;
                break;
            }
            last = Some(k);
            items.push(inner.item(self.id_of(k), r));
        }
        let next = match (more, last) {
            (true, Some(last)) => Next::Page(format!("{last}/{upto}")),
            _ => Next::Done(Cursor(format!("{upto}@{}", inner.epoch))),
        };
        Ok(ChangePage { items, next })
    }

    async fn fetch(
        &self,
        scope: &Scope,
        ids: &[String],
    ) -> Result<Vec<ChangeItem>, ConnectorError> {
        self.check_call().await?;
        let inner = self.inner();
        Ok(ids
            .iter()
            .map(|id| match self.key(id).and_then(|k| inner.records.get(k)) {
                Some(r) if self.in_scope(r, scope) => inner.item(id.clone(), r),
                Some(_) => ChangeItem::Vanished { id: id.clone() },
                None => ChangeItem::Deleted { id: id.clone() },
            })
            .collect())
    }

    async fn classify_vanished(
        &self,
        scope: &Scope,
        ids: &[String],
    ) -> Result<Vec<(String, Vanish)>, ConnectorError> {
        self.check_call().await?;
        let inner = self.inner();
        Ok(ids
            .iter()
            .map(|id| match self.key(id).and_then(|k| inner.records.get(k)) {
                Some(r) if self.in_scope(r, scope) => (id.clone(), Vanish::OutOfScope),
                Some(_) => (id.clone(), Vanish::OutOfScope),
                None => (id.clone(), Vanish::Deleted),
            })
            .collect())
    }

    async fn apply(
        &self,
        scope: &Scope,
        ops: Vec<Operation>,
    ) -> Result<Vec<OpResult>, ConnectorError> {
        self.check_call().await?;
        let max = self.capabilities().max_batch;
        if ops.len() > max {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Invalid,
                format!("batch of {} exceeds the limit of {max}", ops.len()),
            ));
        }
        let (out, crash_at) = self.apply_sync(scope, ops);
        if crash_at.is_some() {
            self.crashed.store(true, Ordering::SeqCst);
            // The process "dies" here: the caller never hears back.
            futures::future::pending::<()>().await;
        }
        Ok(out)
    }

    async fn find_by_sync_id(
        &self,
        scope: &Scope,
        ids: &[SyncId],
    ) -> Result<Vec<(SyncId, RemoteRecord)>, ConnectorError> {
        self.check_call().await?;
        let inner = self.inner();
        Ok(inner
            .records
            .iter()
            .filter(|(_, r)| r.record.kind() == scope.kind)
            .filter_map(|(k, r)| {
                let s = r.sync_id.as_ref()?;
                ids.contains(s)
                    .then(|| (s.clone(), Self::remote(self.id_of(k), r)))
            })
            .collect())
    }
}

/// An in-memory [`StateStore`] obeying the same transaction rules as the SQLite one (each
/// `journal` / `commit` is applied whole under one lock).
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<StoreInner>,
}

#[derive(Default, Clone)]
struct StoreInner {
    /// Per kind: sync id → mapping.
    mappings: [FastMap<SyncId, Mapping>; 3],
    /// Per kind and side: the side's id → sync id (looked up by `&str`, no key built).
    by_id: [[IdMap<SyncId>; 2]; 3],
    cursors: HashMap<(Kind, Side), (String, Cursor)>,
    intents: BTreeMap<SyncId, Intent>,
    deferred: BTreeMap<(Kind, Side, String), Deferred>,
    conflicts: BTreeMap<i64, QueuedConflict>,
    next_conflict: i64,
    runs: Vec<SyncReport>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> MutexGuard<'_, StoreInner> {
        lock(&self.inner)
    }

    /// Forgets everything (a lost state database).
    pub fn wipe(&self) {
        *self.inner() = StoreInner::default();
    }
}

impl StoreInner {
    fn remove_mapping(&mut self, kind: Kind, sync_id: &SyncId) {
        let k = kind.index();
        if let Some(m) = self.mappings[k].remove(sync_id) {
            for side in Side::BOTH {
                let ids = &mut self.by_id[k][side.index()];
                let id = m.side(side).id.as_str();
                if ids.get(id) == Some(sync_id) {
                    ids.remove(id);
                }
            }
        }
    }
}

impl StateStore for MemoryStore {
    fn mappings(&self, kind: Kind) -> Result<Vec<Mapping>, StoreError> {
        let inner = self.inner();
        let mut v: Vec<Mapping> = inner.mappings[kind.index()].values().cloned().collect();
        v.sort_by(|a, b| a.sync_id.cmp(&b.sync_id));
        Ok(v)
    }

    fn side_index(&self, kind: Kind, side: Side) -> Result<crate::store::SideIndex, StoreError> {
        Ok(self.inner().mappings[kind.index()]
            .values()
            .map(|m| {
                let st = m.side(side);
                (
                    st.id.clone(),
                    crate::store::VersionTag::of(&st.version),
                    m.dormant.is_some(),
                )
            })
            .collect())
    }

    fn mappings_by_ids(
        &self,
        kind: Kind,
        side: Side,
        ids: &[String],
    ) -> Result<Vec<Mapping>, StoreError> {
        let inner = self.inner();
        let k = kind.index();
        Ok(ids
            .iter()
            .filter_map(|id| inner.by_id[k][side.index()].get(id.as_str()))
            .filter_map(|s| inner.mappings[k].get(s))
            .cloned()
            .collect())
    }

    fn mappings_by_sync_ids(&self, kind: Kind, ids: &[SyncId]) -> Result<Vec<Mapping>, StoreError> {
        let inner = self.inner();
        Ok(ids
            .iter()
            .filter_map(|s| inner.mappings[kind.index()].get(s))
            .cloned()
            .collect())
    }

    fn mapping_count(&self, kind: Kind) -> Result<usize, StoreError> {
        Ok(self.inner().mappings[kind.index()]
            .values()
            .filter(|m| m.dormant.is_none())
            .count())
    }

    fn cursor(
        &self,
        kind: Kind,
        side: Side,
        fingerprint: &str,
    ) -> Result<Option<Cursor>, StoreError> {
        Ok(self
            .inner()
            .cursors
            .get(&(kind, side))
            .filter(|(f, _)| f == fingerprint)
            .map(|(_, c)| c.clone()))
    }

    fn intents(&self, kind: Kind) -> Result<Vec<Intent>, StoreError> {
        Ok(self
            .inner()
            .intents
            .values()
            .filter(|i| i.kind == kind)
            .cloned()
            .collect())
    }

    fn journal(&self, intents: &[Intent]) -> Result<(), StoreError> {
        let mut inner = self.inner();
        for i in intents {
            inner.intents.insert(i.sync_id.clone(), i.clone());
        }
        Ok(())
    }

    fn commit(&self, c: &Commit) -> Result<(), StoreError> {
        let mut inner = self.inner();
        for (kind, s) in &c.remove {
            inner.remove_mapping(*kind, s);
        }
        for m in c.upsert.iter().chain(&c.insert) {
            let k = m.kind.index();
            inner.remove_mapping(m.kind, &m.sync_id);
            for side in Side::BOTH {
                let id = m.side(side).id.as_str();
                if let Some(old) = inner.by_id[k][side.index()].get(id).cloned() {
                    inner.remove_mapping(m.kind, &old);
                }
            }
            for side in Side::BOTH {
                inner.by_id[k][side.index()].insert(m.side(side).id.clone(), m.sync_id.clone());
            }
            inner.mappings[k].insert(m.sync_id.clone(), m.clone());
        }
        for s in &c.settle {
            inner.intents.remove(s);
        }
        for i in &c.journal {
            inner.intents.insert(i.sync_id.clone(), i.clone());
        }
        for (kind, side, fp, cur) in &c.cursors {
            inner
                .cursors
                .insert((*kind, *side), (fp.clone(), cur.clone()));
        }
        for k in &c.drop_cursors {
            inner.cursors.remove(k);
        }
        for d in &c.defer {
            inner
                .deferred
                .insert((d.kind, d.side, d.id.clone()), d.clone());
        }
        for k in &c.undefer {
            inner.deferred.remove(k);
        }
        for (kind, s) in &c.unqueue {
            inner
                .conflicts
                .retain(|_, q| !(q.kind == *kind && q.sync_id == *s));
        }
        for q in &c.queue {
            inner
                .conflicts
                .retain(|_, x| !(x.kind == q.kind && x.sync_id == q.sync_id));
            inner.next_conflict += 1;
            let id = inner.next_conflict;
            inner
                .conflicts
                .insert(id, QueuedConflict { id, ..q.clone() });
        }
        Ok(())
    }

    fn deferred(&self, kind: Kind) -> Result<Vec<Deferred>, StoreError> {
        Ok(self
            .inner()
            .deferred
            .values()
            .filter(|d| d.kind == kind)
            .cloned()
            .collect())
    }

    fn conflicts(&self, kind: Option<Kind>) -> Result<Vec<QueuedConflict>, StoreError> {
        Ok(self
            .inner()
            .conflicts
            .values()
            .filter(|q| kind.is_none_or(|k| q.kind == k))
            .cloned()
            .collect())
    }

    fn resolve_conflict(&self, id: i64, winner: Side) -> Result<(), StoreError> {
        let mut inner = self.inner();
        let q = inner
            .conflicts
            .get_mut(&id)
            .ok_or(StoreError::NoSuchConflict(id))?;
        q.resolution = Some(winner);
        Ok(())
    }

    fn record_run(&self, report: &SyncReport) -> Result<(), StoreError> {
        self.inner().runs.push(report.clone());
        Ok(())
    }

    fn history(&self, limit: usize) -> Result<Vec<SyncReport>, StoreError> {
        Ok(self
            .inner()
            .runs
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }
}

/// A fixed "now" for examples and tests (the core has no clock).
pub fn fixed_now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_764_000_000, 0).unwrap_or_default() + Duration::zero()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(version: u64) -> Slot {
        Slot {
            version,
            modified: 0,
            container: None,
            sync_id: None,
            record: Arc::new(Record::Contact(Default::default())),
        }
    }

    /// Keys start at 1 and follow each other; a removed key stays free and is skipped by the
    /// listings, which resume after any key (also one removed, or past the end).
    #[test]
    fn slots_answer_by_key_in_order() {
        let mut slots = Slots::default();
        let keys: Vec<u64> = (10..15).map(|v| slots.push(slot(v))).collect();
        assert_eq!(keys, [1, 2, 3, 4, 5]);
        assert_eq!(slots.get(0).map(|s| s.version), None);
        assert_eq!(slots.get(3).map(|s| s.version), Some(12));
        assert_eq!(slots.get(6).map(|s| s.version), None);
        assert_eq!(slots.remove(2).map(|s| s.version), Some(11));
        assert!(slots.remove(2).is_none());
        assert!(slots.get(2).is_none());
        if let Some(s) = slots.get_mut(4) {
            s.version = 99;
        }
        let listed = |after: u64| -> Vec<(u64, u64)> {
            slots.after(after).map(|(k, s)| (k, s.version)).collect()
        };
        assert_eq!(slots.iter().count(), 4);
        assert_eq!(listed(0), [(1, 10), (3, 12), (4, 99), (5, 14)]);
        assert_eq!(listed(2), [(3, 12), (4, 99), (5, 14)]);
        assert_eq!(listed(4), [(5, 14)]);
        assert_eq!(listed(5), []);
        assert_eq!(listed(u64::MAX), []);
        assert_eq!(slots.push(slot(20)), 6);
    }
}
