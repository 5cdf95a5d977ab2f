//! The engine: drives one sync through the `Connector` and `StateStore` traits.
//!
//! Runtime-agnostic (only `futures`): the caller's executor polls it. Time comes in as a value.
//! The order of a run per kind: recover journalled creates, read both sides (change feed or full
//! listing), classify records that left a view, plan, guard, execute in batches (journalling
//! creates first, committing each batch in one transaction), and advance cursors last.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt};

use crate::connector::{
    ChangeItem, Connector, Cursor, Next, OpResult, Operation, PageRequest, RecordError,
    RecordErrorKind, RemoteRecord, Scope, SyncId, Vanish, Window, Written,
};
use crate::error::{ConnectorError, ConnectorErrorKind, Result, StoreError, SyncError};
use crate::field::{FieldHashes, FieldSchema};
use crate::model::{IdMap, IdPositions, Kind, Side};
use crate::planner::{
    self, Action, Plan, PlanInput, PlannedCreate, PreparedCreate, Seen, SeenMap, Step,
};
use crate::report::{
    ConflictReport, DeleteReport, ErrorReport, GuardStop, KindReport, SkipReport, SyncReport,
};
use crate::settings::{KindSettings, Settings};
use crate::store::{
    Commit, CommitTicket, Deferred, Intent, Mapping, SideIndex, SideState, StateStore, VersionTag,
};

/// After this many failed runs a retryable record is parked until it changes.
pub const MAX_ATTEMPTS: u32 = 5;

/// Progress of a sync, for a UI.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    /// A kind starts.
    KindStarted {
        /// The kind.
        kind: Kind,
    },
    /// Items read so far from one side.
    Reading {
        /// The kind.
        kind: Kind,
        /// The side.
        side: Side,
        /// Items so far.
        items: u64,
        /// Whether this is a full listing.
        full: bool,
    },
    /// The plan is ready.
    Planned {
        /// The kind.
        kind: Kind,
        /// Steps.
        steps: u64,
        /// Remote writes to make.
        writes: u64,
    },
    /// Writes done so far.
    Writing {
        /// The kind.
        kind: Kind,
        /// Done.
        done: u64,
        /// Total.
        total: u64,
    },
    /// A kind is finished.
    KindFinished {
        /// The kind.
        kind: Kind,
    },
}

/// Receives progress (synchronously: keep it quick).
pub trait SyncObserver: Send + Sync {
    /// Called for each progress event, in order.
    fn on_progress(&self, progress: &Progress);
}

/// Results are committed together once they cover this many batches or operations, whichever
/// comes first (see `Engine::execute`): a bound on what a crash leaves to recovery (8 batches
/// of Graph's 20 creates are 160 lookups by sync id), on the results and journalled creates
/// held in memory, and on write amplification (every group rewrites the index pages it
/// touches). Halved from 16 batches / 8,192 operations: bench_engine at 100k (12 interleaved
/// runs) kept its first-sync time (median 0.345 -> 0.343 s) with a peak RSS 137 -> 127 MiB.
const GROUP_COMMIT_BATCHES: usize = 8;
const GROUP_COMMIT_OPS: usize = 4_096;

/// Creates are expanded and their intents journalled ahead of sending, topped up (in a commit
/// that also takes the results gathered so far) once half of them are sent. The horizon starts
/// at as many batches as the connector takes at once and doubles, up to these bounds, whenever
/// a batch had to wait for its journal commit: with a service slower than the disk it stays
/// small; with a fast one (the in-memory benchmark) it grows until the store's writer commits
/// one group while the engine sends the next. The bounds cap the steps held in memory ahead of
/// sending and what a crash leaves to recovery (creates journalled but maybe never sent are
/// looked up by sync id).
const JOURNAL_AHEAD_BATCHES: usize = GROUP_COMMIT_BATCHES;
const JOURNAL_AHEAD_OPS: usize = 2 * GROUP_COMMIT_OPS;

/// Commits started in the background ([`StateStore::commit_in_background`]), oldest first,
/// and the size of the group of results gathered since the last one.
#[derive(Default)]
struct Background {
    tickets: VecDeque<CommitTicket>,
    /// How many were started.
    started: u64,
    /// How many are known durable (the first `durable` started).
    durable: u64,
    /// Operations and batches whose results were gathered since the last commit started.
    group_ops: usize,
    group_batches: usize,
}

impl Background {
    /// Starts committing `pending` (left empty); it is number `self.started` once this returns.
    fn start(&mut self, store: &dyn StateStore, pending: &mut Commit) {
        self.tickets
            .push_back(store.commit_in_background(std::mem::take(pending)));
        self.started += 1;
        self.group_ops = 0;
        self.group_batches = 0;
    }

    /// Counts a batch whose results were gathered.
    fn gathered(&mut self, ops: usize) {
        self.group_ops += ops;
        self.group_batches += 1;
    }

    /// Whether the gathered results make a group (see GROUP_COMMIT_BATCHES).
    fn group_due(&self) -> bool {
        self.group_ops >= GROUP_COMMIT_OPS || self.group_batches >= GROUP_COMMIT_BATCHES
    }

    /// Whether the first `n` commits are durable, by what is known without waiting.
    fn durable_now(&mut self, n: u64) -> std::result::Result<bool, StoreError> {
        while self.durable < n {
            let Some(t) = self.tickets.front_mut() else {
                break;
            };
            match futures::FutureExt::now_or_never(t) {
                Some(r) => {
                    r?;
                    self.tickets.pop_front();
                    self.durable += 1;
                }
                None => return Ok(false),
            }
        }
        Ok(self.durable >= n)
    }

    /// Waits until the first `n` commits are durable; the first that failed is the error.
    async fn wait_for(&mut self, n: u64) -> std::result::Result<(), StoreError> {
        while self.durable < n {
            let Some(t) = self.tickets.pop_front() else {
                break;
            };
            t.await?;
            self.durable += 1;
        }
        Ok(())
    }
}

/// Reports a record the connector cannot sync ([`ChangeItem::Unsupported`]).
fn not_synced(kr: &mut KindReport, side: Side, id: String, title: String, reason: &str) {
    kr.counts.skipped += 1;
    kr.skipped.push(SkipReport {
        side,
        id,
        title,
        reason: format!("not synced: {reason}"),
    });
}

/// One batch of writes to one side.
enum Batch<'p> {
    /// Operations of planned steps: (step index, operation).
    Planned(Vec<(usize, &'p Operation)>),
    /// Creates expanded when the batch was sent; each step has exactly one write.
    Created(Vec<Step>),
}

impl<'p> Batch<'p> {
    fn len(&self) -> usize {
        match self {
            Batch::Planned(v) => v.len(),
            Batch::Created(v) => v.len(),
        }
    }

    /// Each operation with the step it belongs to.
    fn ops<'b>(&'b self, plan: &'p Plan) -> Box<dyn Iterator<Item = (&'b Operation, &'b Step)> + 'b>
    where
        'p: 'b,
    {
        match self {
            Batch::Planned(v) => Box::new(v.iter().map(move |(i, op)| (*op, &plan.steps[*i]))),
            Batch::Created(v) => Box::new(
                v.iter()
                    .flat_map(|s| s.writes.iter().map(move |(_, op)| (op, s))),
            ),
        }
    }
}

/// Cancels a running sync: batches already sent finish and are committed, no new batch starts,
/// and no cursor advances.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A fresh token.
    pub fn new() -> Self {
        Self::default()
    }
    /// Requests cancellation.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    /// Clears the request (before the next run).
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Kinds to sync (`None` = every enabled kind).
    pub kinds: Option<Vec<Kind>>,
    /// Plan only; write nothing.
    pub dry_run: bool,
    /// Proceed even when the mass-delete guard would stop.
    pub force: bool,
}

/// The outcome of a run: the report and, for a dry run, the plans.
#[derive(Debug, Clone)]
pub struct SyncOutcome {
    /// The report.
    pub report: SyncReport,
    /// The plans (every run keeps them; a dry run returns them without executing).
    pub plans: Vec<Plan>,
}

enum PullError {
    Connector(ConnectorError),
    Store(crate::error::StoreError),
}

/// The sync engine.
#[derive(Clone)]
pub struct Engine {
    zoho: Arc<dyn Connector>,
    outlook: Arc<dyn Connector>,
    store: Arc<dyn StateStore>,
    observer: Option<Arc<dyn SyncObserver>>,
    cancel: CancelToken,
}

/// The scope of a kind at time `now`.
pub fn scope_of(kind: Kind, settings: &KindSettings, now: DateTime<Utc>) -> Scope {
    Scope {
        kind,
        container: settings.outlook_container.clone(),
        zoho: settings.zoho_scope.clone(),
        window: (kind == Kind::Event).then(|| Window {
            start: now - Duration::days(settings.window.days_back as i64),
            end: now + Duration::days(settings.window.days_ahead as i64),
        }),
        categories: settings.category_filter.clone(),
        zoho_category: settings.zoho_category.clone(),
    }
}

struct Pulled {
    full: bool,
    /// What was read, by id, folded so that the last word on an id wins: present and deleted
    /// records here, records that left the view and records the connector cannot sync in the
    /// two maps below (an id is in at most one of the three). Built as the planner takes it, so
    /// a listing of 100,000 records is not copied from one map into another.
    seen: SeenMap,
    vanished: IdMap<()>,
    unsupported: IdMap<(String, String)>,
    /// After a full listing: every mapped id of this side with its stored version, whether its
    /// mapping is dormant, and whether the listing returned it.
    index: ListingIndex,
    cursor: Option<Cursor>,
}

impl Pulled {
    fn new(full: bool, index: ListingIndex) -> Self {
        Pulled {
            full,
            seen: SeenMap::new(),
            vanished: IdMap::default(),
            unsupported: IdMap::default(),
            index,
            cursor: None,
        }
    }

    /// Records one item; it replaces anything read earlier about the same id.
    fn put(&mut self, item: ChangeItem) {
        match &item {
            // What was seen of the id is replaced by the insert below: only the other lists
            // are cleared first (one lookup less per record of a listing).
            ChangeItem::Upsert(_) | ChangeItem::Deleted { .. } => self.forget_unseen(item.id()),
            _ => self.forget(item.id()),
        }
        match item {
            ChangeItem::Upsert(r) => {
                self.seen.insert_record(r);
            }
            ChangeItem::Deleted { id } => {
                self.seen.insert(id, Seen::Deleted);
            }
            ChangeItem::Vanished { id } => {
                self.vanished.insert(id, ());
            }
            ChangeItem::Unsupported { id, title, reason } => {
                self.unsupported.insert(id, (title, reason));
            }
        }
    }

    /// Forgets what was read about an id.
    fn forget(&mut self, id: &str) {
        if !self.seen.is_empty() {
            self.seen.remove(id);
        }
        self.forget_unseen(id);
    }

    /// Forgets what was read about an id, but for what was seen of it.
    fn forget_unseen(&mut self, id: &str) {
        if !self.vanished.is_empty() {
            self.vanished.remove(id);
        }
        if !self.unsupported.is_empty() {
            self.unsupported.remove(id);
        }
    }

    /// How many ids were read.
    fn len(&self) -> usize {
        self.seen.len() + self.vanished.len() + self.unsupported.len()
    }
}

struct IndexEntry {
    id: String,
    version: Option<VersionTag>,
    dormant: bool,
    listed: bool,
}

/// The [`SideIndex`] a full listing is diffed against, found by id through a table of entry
/// positions: 4 bytes an entry where a map keyed by the id took a ~50-byte slot, and the
/// store's list is kept as it came rather than moved into a map (a no-op sync of 100,000
/// records holds one per side).
#[derive(Default)]
struct ListingIndex {
    entries: Vec<IndexEntry>,
    by_id: IdPositions,
}

impl ListingIndex {
    fn new(index: SideIndex) -> Self {
        let entries: Vec<IndexEntry> = index
            .into_iter()
            .map(|(id, version, dormant)| IndexEntry {
                id,
                version,
                dormant,
                listed: false,
            })
            .collect();
        let mut by_id = IdPositions::with_capacity(entries.len());
        let id_at = |n: usize| entries.get(n).map(|e| e.id.as_str());
        // The store holds one mapping per id and side: no id is inserted twice.
        for (n, e) in entries.iter().enumerate() {
            by_id.insert(&e.id, n, id_at);
        }
        ListingIndex { entries, by_id }
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.by_id
            .find(id, |n| self.entries.get(n).map(|e| e.id.as_str()))
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut IndexEntry> {
        let n = self.position(id)?;
        self.entries.get_mut(n)
    }

    fn contains_key(&self, id: &str) -> bool {
        self.position(id).is_some()
    }
}

impl Engine {
    /// An engine over two connectors and a store.
    pub fn new(
        zoho: Arc<dyn Connector>,
        outlook: Arc<dyn Connector>,
        store: Arc<dyn StateStore>,
    ) -> Self {
        Engine {
            zoho,
            outlook,
            store,
            observer: None,
            cancel: CancelToken::new(),
        }
    }

    /// Adds a progress observer.
    pub fn with_observer(mut self, observer: Arc<dyn SyncObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Uses this cancellation token.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// The token that cancels this engine's runs.
    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    fn conn(&self, side: Side) -> &Arc<dyn Connector> {
        match side {
            Side::Zoho => &self.zoho,
            Side::Outlook => &self.outlook,
        }
    }

    fn emit(&self, p: Progress) {
        if let Some(o) = &self.observer {
            o.on_progress(&p);
        }
    }

    /// Runs a sync at time `now`.
    pub async fn sync(
        &self,
        settings: &Settings,
        opts: &SyncOptions,
        now: DateTime<Utc>,
    ) -> Result<SyncOutcome> {
        settings.validate()?;
        let mut report = SyncReport {
            started_at: now,
            dry_run: opts.dry_run,
            cancelled: false,
            kinds: vec![],
        };
        let mut plans = vec![];
        let kinds: Vec<Kind> = opts
            .kinds
            .clone()
            .unwrap_or_else(|| Kind::ALL.to_vec())
            .into_iter()
            .filter(|k| settings.kind(*k).enabled)
            .filter(|k| {
                self.zoho.capabilities().kinds.contains(k)
                    && self.outlook.capabilities().kinds.contains(k)
            })
            .collect();
        for kind in kinds {
            if self.cancel.is_cancelled() {
                report.cancelled = true;
                break;
            }
            self.emit(Progress::KindStarted { kind });
            let (kr, plan) = self.sync_kind(kind, settings.kind(kind), opts, now).await?;
            if let Some(p) = plan {
                plans.push(p);
            }
            report.kinds.push(kr);
            self.emit(Progress::KindFinished { kind });
        }
        if self.cancel.is_cancelled() {
            report.cancelled = true;
        }
        if !opts.dry_run {
            self.store.record_run(&report)?;
        }
        Ok(SyncOutcome { report, plans })
    }

    async fn sync_kind(
        &self,
        kind: Kind,
        settings: &KindSettings,
        opts: &SyncOptions,
        now: DateTime<Utc>,
    ) -> Result<(KindReport, Option<Plan>)> {
        let mut kr = KindReport::new(kind);
        let scope = scope_of(kind, settings, now);
        let caps = [self.zoho.capabilities(), self.outlook.capabilities()];
        let schemas: [FieldSchema; 2] = [caps[0].schema(kind), caps[1].schema(kind)];
        for (side, c) in Side::BOTH.iter().zip(&caps) {
            if c.create_mode == crate::connector::CreateMode::AtLeastOnce {
                kr.warnings.push(format!(
                    "{side} cannot find records by sync id: a crash during a create may leave a duplicate there"
                ));
            }
        }

        // 1. Journal recovery: creates whose outcome a crash left unknown.
        if !opts.dry_run {
            if let Err(e) = self.recover(kind, &scope, &mut kr).await {
                return self.kind_failed(kr, e);
            }
        }

        // 2. Read both sides.
        let fingerprints = [
            settings.scope_fingerprint(kind, Side::Zoho),
            settings.scope_fingerprint(kind, Side::Outlook),
        ];
        let mut cursors = [None, None];
        for (i, side) in Side::BOTH.into_iter().enumerate() {
            if caps[i].change_feed {
                cursors[i] = self.store.cursor(kind, side, &fingerprints[i])?;
            }
        }
        // Both sides are read at once: with real services the read takes the longer of the
        // two round-trip chains, not their sum.
        let [zoho_cursor, outlook_cursor] = cursors;
        // Both sides listed in full: what their listings are diffed against is read in one
        // pass over the mappings (a side listed alone, or after an expired cursor, reads its own).
        let [zoho_index, outlook_index] = if zoho_cursor.is_none() && outlook_cursor.is_none() {
            let [z, o] = self.store.side_indexes(kind)?;
            [Some(z), Some(o)]
        } else {
            [None, None]
        };
        let (zoho_read, outlook_read) = futures::join!(
            self.pull(kind, Side::Zoho, &scope, zoho_cursor, zoho_index),
            self.pull(kind, Side::Outlook, &scope, outlook_cursor, outlook_index)
        );
        let mut pulled = Vec::with_capacity(2);
        for (side, read) in [(Side::Zoho, zoho_read), (Side::Outlook, outlook_read)] {
            match read {
                Ok(p) => pulled.push(p),
                Err(PullError::Connector(e)) => {
                    return self.kind_failed(kr, SyncError::Connector { side, error: e })
                }
                Err(PullError::Store(e)) => return Err(e.into()),
            }
        }
        for (i, side) in Side::BOTH.into_iter().enumerate() {
            if pulled[i].full {
                kr.full_listing.push(side);
            }
        }

        // 3. What was seen, as read; classify records that left a view.
        let mut seen: [SeenMap; 2] = [SeenMap::new(), SeenMap::new()];
        for (i, side) in Side::BOTH.into_iter().enumerate() {
            let p = &mut pulled[i];
            seen[i] = std::mem::take(&mut p.seen);
            let mut vanished: Vec<String> = std::mem::take(&mut p.vanished).into_keys().collect();
            for (id, (title, reason)) in std::mem::take(&mut p.unsupported) {
                not_synced(&mut kr, side, id, title, &reason);
            }
            if p.full {
                for e in &p.index.entries {
                    if !e.listed && !e.dormant && !seen[i].contains_key(&e.id) {
                        vanished.push(e.id.clone());
                    }
                }
            }
            if !vanished.is_empty() {
                vanished.sort();
                let known: Vec<(String, SyncId)> = self
                    .store
                    .mappings_by_ids(kind, side, &vanished)?
                    .into_iter()
                    .map(|m| (m.side(side).id.clone(), m.sync_id))
                    .collect();
                self.conn(side).note_sync_ids(kind, &known);
                match self.conn(side).classify_vanished(&scope, &vanished).await {
                    Ok(v) => {
                        let mut answered: HashSet<String> = HashSet::new();
                        for (id, how) in v {
                            answered.insert(id.clone());
                            seen[i].insert(
                                id,
                                match how {
                                    Vanish::Deleted => Seen::Deleted,
                                    Vanish::OutOfScope => Seen::OutOfScope,
                                },
                            );
                        }
                        // No answer: unsure, so unlink (never delete on a guess).
                        for id in vanished.into_iter().filter(|id| !answered.contains(id)) {
                            seen[i].insert(id, Seen::OutOfScope);
                        }
                    }
                    Err(e) => return self.kind_failed(kr, SyncError::Connector { side, error: e }),
                }
            }
        }

        // 4. Deferred records, resolved conflicts: re-read what this run has not seen.
        let deferred = self.store.deferred(kind)?;
        let conflicts = self.store.conflicts(Some(kind))?;
        let resolutions: Vec<_> = conflicts
            .iter()
            .filter(|q| q.resolution.is_some())
            .cloned()
            .collect();
        let queued: HashSet<SyncId> = conflicts
            .iter()
            .filter(|q| q.resolution.is_none())
            .map(|q| q.sync_id.clone())
            .collect();
        let resolution_maps = self.store.mappings_by_sync_ids(
            kind,
            &resolutions
                .iter()
                .map(|q| q.sync_id.clone())
                .collect::<Vec<_>>(),
        )?;
        for (i, side) in Side::BOTH.into_iter().enumerate() {
            let mut want: Vec<String> = deferred
                .iter()
                .filter(|d| d.side == side && !d.parked)
                .map(|d| d.id.clone())
                .chain(resolution_maps.iter().map(|m| m.side(side).id.clone()))
                .filter(|id| !seen[i].contains_key(id) && !id.is_empty())
                .collect();
            want.sort();
            want.dedup();
            if want.is_empty() {
                continue;
            }
            match self.conn(side).fetch(&scope, &want).await {
                Ok(items) => {
                    for item in items {
                        let id = item.id().to_string();
                        let s = match item {
                            ChangeItem::Upsert(r) => Seen::Present(r),
                            ChangeItem::Deleted { .. } => Seen::Deleted,
                            ChangeItem::Vanished { .. } => Seen::OutOfScope,
                            ChangeItem::Unsupported { id, title, reason } => {
                                not_synced(&mut kr, side, id, title, &reason);
                                continue;
                            }
                        };
                        seen[i].insert(id, s);
                    }
                }
                Err(e) => return self.kind_failed(kr, SyncError::Connector { side, error: e }),
            }
        }
        // Parked records are left alone until they change.
        for d in deferred.iter().filter(|d| d.parked) {
            let i = d.side.index();
            if let Some(Seen::Present(r)) = seen[i].get(&d.id) {
                if r.version == d.version {
                    kr.skipped.push(SkipReport {
                        side: d.side,
                        id: d.id.clone(),
                        title: r.record.title(),
                        reason: format!("waiting for a change after: {}", d.reason),
                    });
                    kr.counts.skipped += 1;
                    seen[i].remove(&d.id);
                }
            }
        }

        // 5. The mappings involved.
        let mut mappings: Vec<Mapping> = {
            let mut by_sync: HashMap<SyncId, Mapping> = HashMap::new();
            for (i, side) in Side::BOTH.into_iter().enumerate() {
                // After a full listing only ids the index knows can have a mapping.
                let ids: Vec<String> = seen[i]
                    .keys()
                    .filter(|id| !pulled[i].full || pulled[i].index.contains_key(id))
                    .map(str::to_string)
                    .collect();
                if ids.is_empty() {
                    continue;
                }
                for m in self.store.mappings_by_ids(kind, side, &ids)? {
                    by_sync.insert(m.sync_id.clone(), m);
                }
            }
            for m in resolution_maps {
                by_sync.insert(m.sync_id.clone(), m);
            }
            let mut v: Vec<Mapping> = by_sync.into_values().collect();
            v.sort_by(|a, b| a.sync_id.cmp(&b.sync_id));
            v
        };
        self.relink_by_sync_id(kind, &mut mappings, &seen)?;

        // 6. Plan.
        let [zoho_seen, outlook_seen] = seen;
        let mut input = PlanInput {
            kind,
            settings,
            schemas: [&schemas[0], &schemas[1]],
            now,
            mappings,
            zoho: zoho_seen,
            outlook: outlook_seen,
            resolutions,
            queued,
        };
        let mut plan = planner::plan(&input);
        if opts.dry_run {
            plan.expand_creates(&input);
        }
        // Every delete carries the record's before-image: read the ones this run did not see
        // (after a full listing unchanged records are not kept; a feed does not send them).
        if let Err(e) = self.fill_before_images(&scope, &mut plan).await {
            return self.kind_failed(kr, e);
        }
        self.emit(Progress::Planned {
            kind,
            steps: (plan.steps.len() + plan.creates.len()) as u64,
            writes: plan.writes() as u64,
        });

        // 7. Guard.
        let deletions = plan.deletions() as u64;
        let g = settings.guard;
        let mapped = if g.enabled && !opts.force && deletions > g.min_count as u64 {
            self.store.mapping_count(kind)? as u64
        } else {
            0
        };
        if g.enabled
            && !opts.force
            && deletions > g.min_count as u64
            && deletions as f64 > g.max_share * mapped as f64
        {
            kr.guard = Some(GuardStop {
                deletions,
                mapped,
                message: format!(
                    "this sync would delete {deletions} of {mapped} synced {kind}s ({:.0}%), more than the guard allows ({:.0}% and {}). Nothing was written. If a folder, list or category filter was changed by mistake, change it back; if the deletions are intended, sync again with --yes (force).",
                    100.0 * deletions as f64 / mapped.max(1) as f64,
                    100.0 * g.max_share,
                    g.min_count
                ),
            });
            return Ok((kr, Some(plan)));
        }

        if opts.dry_run {
            for step in &plan.steps {
                account(&mut kr, step, None);
            }
            return Ok((kr, Some(plan)));
        }

        // 8. Execute.
        let cursors_done = self
            .execute(kind, &scope, &plan, &mut input, &deferred, &mut kr)
            .await?;

        // 9. Advance cursors only when the whole round was applied (failures are deferred).
        if cursors_done && !self.cancel.is_cancelled() {
            let mut c = Commit::default();
            for (i, side) in Side::BOTH.into_iter().enumerate() {
                if let Some(cur) = pulled[i].cursor.take() {
                    c.cursors.push((kind, side, fingerprints[i].clone(), cur));
                }
            }
            if !c.is_empty() {
                self.store.commit(&c)?;
            }
        }
        Ok((kr, Some(plan)))
    }

    async fn fill_before_images(&self, scope: &Scope, plan: &mut Plan) -> Result<()> {
        for side in Side::BOTH {
            let ids: Vec<String> = plan
                .steps
                .iter()
                .filter_map(|s| match &s.action {
                    Action::Delete { on, before: None } if *on == side => {
                        s.writes.iter().find_map(|(w, op)| match op {
                            Operation::Delete { id, .. } if *w == side => Some(id.clone()),
                            _ => None,
                        })
                    }
                    _ => None,
                })
                .collect();
            if ids.is_empty() {
                continue;
            }
            let mut found: HashMap<String, Arc<crate::model::Record>> = HashMap::new();
            for chunk in ids.chunks(self.conn(side).capabilities().max_batch.max(1)) {
                let items = self
                    .conn(side)
                    .fetch(scope, chunk)
                    .await
                    .map_err(|error| SyncError::Connector { side, error })?;
                for item in items {
                    if let ChangeItem::Upsert(r) = item {
                        found.insert(r.id.clone(), r.record.clone());
                    }
                }
            }
            for step in &mut plan.steps {
                let id = step.writes.iter().find_map(|(w, op)| match op {
                    Operation::Delete { id, .. } if *w == side => Some(id.clone()),
                    _ => None,
                });
                if let (Action::Delete { on, before }, Some(id)) = (&mut step.action, id) {
                    if *on == side && before.is_none() {
                        *before = found.get(&id).cloned();
                    }
                }
            }
        }
        Ok(())
    }

    fn kind_failed(&self, mut kr: KindReport, e: SyncError) -> Result<(KindReport, Option<Plan>)> {
        match e {
            SyncError::Connector { side, error } => {
                kr.failure = Some(format!("{side}: {error}"));
                Ok((kr, None))
            }
            other => Err(other),
        }
    }

    /// A record with our sync id whose id changed (a To Do task moved between lists, an item
    /// re-created by the host): point its mapping at the new id.
    fn relink_by_sync_id(
        &self,
        kind: Kind,
        mappings: &mut Vec<Mapping>,
        seen: &[SeenMap; 2],
    ) -> Result<()> {
        let mut want: Vec<(usize, SyncId, String)> = vec![];
        {
            let held: [HashSet<&str>; 2] = [
                mappings.iter().map(|m| m.zoho.id.as_str()).collect(),
                mappings.iter().map(|m| m.outlook.id.as_str()).collect(),
            ];
            for i in 0..2 {
                for (id, s) in seen[i].iter() {
                    if let Seen::Present(r) = s {
                        if let Some(sid) = &r.sync_id {
                            if !held[i].contains(id) {
                                want.push((i, sid.clone(), id.to_string()));
                            }
                        }
                    }
                }
            }
        }
        if want.is_empty() {
            return Ok(());
        }
        let ids: Vec<SyncId> = want.iter().map(|(_, s, _)| s.clone()).collect();
        let wanted: HashSet<&SyncId> = ids.iter().collect();
        let mut found: HashMap<SyncId, Mapping> = mappings
            .iter()
            .filter(|m| wanted.contains(&m.sync_id))
            .map(|m| (m.sync_id.clone(), m.clone()))
            .collect();
        for m in self.store.mappings_by_sync_ids(kind, &ids)? {
            found.entry(m.sync_id.clone()).or_insert(m);
        }
        for (i, sid, id) in want {
            if let Some(m) = found.get_mut(&sid) {
                let side = if i == 0 { Side::Zoho } else { Side::Outlook };
                let old = m.side(side).id.clone();
                // Only when the old id is not itself present (then the stamp was copied).
                if seen[i]
                    .get(&old)
                    .is_some_and(|s| matches!(s, Seen::Present(_)))
                {
                    continue;
                }
                let st = m.side_mut(side);
                st.id = id;
                st.version = String::new();
                let m = m.clone();
                mappings.retain(|x| x.sync_id != m.sync_id);
                mappings.push(m);
            }
        }
        Ok(())
    }

    async fn pull(
        &self,
        kind: Kind,
        side: Side,
        scope: &Scope,
        cursor: Option<Cursor>,
        index: Option<SideIndex>,
    ) -> std::result::Result<Pulled, PullError> {
        let conn = self.conn(side);
        if let Some(cur) = cursor {
            let mut p = Pulled::new(false, ListingIndex::default());
            let mut page = None;
            loop {
                let req = PageRequest {
                    scope: scope.clone(),
                    page: page.take(),
                };
                match conn.changes(&cur, &req).await {
                    Ok(pg) => {
                        // Fold by id: a round may repeat an item; the last word wins.
                        for item in pg.items {
                            p.put(item);
                        }
                        self.emit(Progress::Reading {
                            kind,
                            side,
                            items: p.len() as u64,
                            full: false,
                        });
                        match pg.next {
                            Next::Page(t) => page = Some(t),
                            Next::Done(c) => {
                                p.cursor = Some(c);
                                return Ok(p);
                            }
                        }
                    }
                    Err(e) if e.kind == ConnectorErrorKind::CursorExpired => break,
                    Err(e) => return Err(PullError::Connector(e)),
                }
            }
        }
        // Full listing. An interrupted listing is never diffed: any error fails the kind.
        // Only ids and versions of the mappings are loaded; whole mappings are loaded later for
        // the few records that changed.
        let index = match index {
            Some(index) => index,
            None => self
                .store
                .side_index(kind, side)
                .map_err(PullError::Store)?,
        };
        let mut p = Pulled::new(true, ListingIndex::new(index));
        let mut page = None;
        let mut count = 0u64;
        loop {
            let req = PageRequest {
                scope: scope.clone(),
                page: page.take(),
            };
            let pg = conn.list(&req).await.map_err(PullError::Connector)?;
            for item in pg.items {
                count += 1;
                if let ChangeItem::Unsupported { id, .. } = &item {
                    // Present: not a vanished record.
                    if let Some(e) = p.index.get_mut(id) {
                        e.listed = true;
                    }
                }
                if let ChangeItem::Upsert(r) = &item {
                    if let Some(e) = p.index.get_mut(&r.id) {
                        e.listed = true;
                        // Unchanged since the last sync: nothing to plan.
                        if !e.dormant
                            && e.version.is_some()
                            && e.version == VersionTag::of(&r.version)
                        {
                            // (An earlier page may have listed it with another version.)
                            p.forget(&r.id);
                            continue;
                        }
                    }
                }
                p.put(item);
            }
            self.emit(Progress::Reading {
                kind,
                side,
                items: count,
                full: true,
            });
            match pg.next {
                Next::Page(t) => page = Some(t),
                Next::Done(c) => {
                    p.cursor = Some(c);
                    // A first sync holds what it listed until the last create is sent.
                    p.seen.shrink_to_fit();
                    return Ok(p);
                }
            }
        }
    }

    async fn recover(
        &self,
        kind: Kind,
        scope: &Scope,
        kr: &mut KindReport,
    ) -> std::result::Result<(), SyncError> {
        let intents = self.store.intents(kind)?;
        if intents.is_empty() {
            return Ok(());
        }
        let mut commit = Commit::default();
        for side in Side::BOTH {
            let mine: Vec<&Intent> = intents.iter().filter(|i| i.target == side).collect();
            if mine.is_empty() {
                continue;
            }
            let ids: Vec<SyncId> = mine.iter().map(|i| i.sync_id.clone()).collect();
            let mut found: HashMap<SyncId, RemoteRecord> = HashMap::new();
            // One batch at a time: lookups by sync id are searches, which services throttle
            // sooner than writes.
            for chunk in ids.chunks(self.conn(side).capabilities().max_batch.max(1)) {
                let got = self
                    .conn(side)
                    .find_by_sync_id(scope, chunk)
                    .await
                    .map_err(|error| SyncError::Connector { side, error })?;
                found.extend(got);
            }
            for intent in mine {
                if let Some(r) = found.remove(&intent.sync_id) {
                    let target = SideState {
                        id: r.id.clone(),
                        version: r.version.clone(),
                        hashes: FieldHashes::of(&r.record),
                    };
                    let (zoho, outlook) = match side {
                        Side::Zoho => (target, intent.source.clone()),
                        Side::Outlook => (intent.source.clone(), target),
                    };
                    commit.upsert.push(Mapping {
                        kind,
                        sync_id: intent.sync_id.clone(),
                        zoho,
                        outlook,
                        dormant: None,
                    });
                    kr.counts.recovered += 1;
                }
                // Not found: the create never happened; the source is re-read (cursor not
                // advanced, or deferred) and planned again with the same sync id.
                commit.settle.push(intent.sync_id.clone());
            }
        }
        self.store.commit(&commit)?;
        Ok(())
    }

    /// Executes a plan. Returns whether every batch ran (no fatal error, not cancelled).
    ///
    /// Planned creates are expanded into steps (from `input`) batch by batch, when sent.
    async fn execute(
        &self,
        kind: Kind,
        scope: &Scope,
        plan: &Plan,
        input: &mut PlanInput<'_>,
        deferred: &[Deferred],
        kr: &mut KindReport,
    ) -> Result<bool> {
        let deferred_ids: HashSet<(Side, &str)> =
            deferred.iter().map(|d| (d.side, d.id.as_str())).collect();
        let prior_attempts: HashMap<(Side, &str), u32> = deferred
            .iter()
            .map(|d| ((d.side, d.id.as_str()), d.attempts))
            .collect();

        // Steps without writes are committed at once, in one transaction.
        let mut first = Commit::default();
        for step in plan.steps.iter().filter(|s| s.writes.is_empty()) {
            finish_step(&mut first, step, step.store.clone(), &[], kind);
            account(kr, step, Some(&[]));
            undefer(&mut first, step, kind, &deferred_ids);
        }
        if !first.is_empty() {
            self.store.commit(&first)?;
        }

        // Writes, grouped per side and cut into batches: the planned steps' operations
        // (borrowed from the plan and cloned once, when their batch is sent), then the creates.
        let mut per_side: [Vec<(usize, &Operation)>; 2] = [vec![], vec![]];
        let mut remaining: Vec<usize> = vec![0; plan.steps.len()];
        for (i, step) in plan.steps.iter().enumerate() {
            for (side, op) in &step.writes {
                per_side[side.index()].push((i, op));
                remaining[i] += 1;
            }
        }
        let mut creates: [Vec<&PlannedCreate>; 2] = [vec![], vec![]];
        for c in &plan.creates {
            creates[c.source.other().index()].push(c);
        }
        let total = (per_side[0].len() + per_side[1].len() + plan.creates.len()) as u64;
        if total == 0 {
            return Ok(true);
        }
        let mut results: Vec<Vec<(Side, OpResult, bool)>> = vec![vec![]; plan.steps.len()];
        let mut stopped = false;
        let mut queues: [VecDeque<Vec<(usize, &Operation)>>; 2] = Default::default();
        let mut limit = [1usize; 2];
        let mut max_batch = [1usize; 2];
        let mut next_create = [0usize; 2];
        // Creates prepared and journalled ahead of sending: (the background commit that
        // journals them, the batch's creates, expanded into steps when it is sent), and how many
        // operations that is per side.
        let mut ready: [VecDeque<(u64, Vec<PreparedCreate>)>; 2] = Default::default();
        let mut ahead_ops = [0usize; 2];
        // The journal horizon per side, in batches (see JOURNAL_AHEAD_BATCHES).
        let mut horizon = [1usize; 2];
        for (si, side) in Side::BOTH.into_iter().enumerate() {
            let caps = self.conn(side).capabilities();
            limit[si] = caps.max_concurrency.max(1);
            max_batch[si] = caps.max_batch.max(1);
            horizon[si] = limit[si].clamp(2, JOURNAL_AHEAD_BATCHES);
            let ops = std::mem::take(&mut per_side[si]);
            queues[si] = ops.chunks(max_batch[si]).map(|c| c.to_vec()).collect();
        }
        let mut in_flight = [0usize; 2];
        let mut running = stream::FuturesUnordered::new();
        // Results of finished batches not yet committed (group commit): they go to the store
        // once they cover GROUP_COMMIT_BATCHES or _OPS, when nothing is left to launch, and at the
        // end. Each index page is then written once per group rather than once per batch.
        // Commits run in the background (see `Background`): the store writes one group while
        // the next is sent. Intents are journalled, durably, before their batch is sent, so a
        // crash before a group's commit loses nothing: recovery finds the creates by sync id,
        // and an update or delete whose result was not stored is seen as an echo next run.
        let mut pending = Commit::default();
        let mut bg = Background::default();
        let mut done = 0u64;
        let mut complete = true;
        let left = |queues: &[VecDeque<_>; 2], ready: &[VecDeque<_>; 2], next: &[usize; 2]| {
            (0..2).any(|i| {
                !queues[i].is_empty() || !ready[i].is_empty() || next[i] < creates[i].len()
            })
        };
        let intent = |side: Side, sync_id: &SyncId, step: &Step| {
            let m = step.store.as_ref()?;
            Some(Intent {
                kind,
                sync_id: sync_id.clone(),
                target: side,
                source: m.side(side.other()).clone(),
            })
        };
        loop {
            let go = !stopped && !self.cancel.is_cancelled();
            // Journal ahead: once no more than half the horizon is journalled and not yet sent,
            // expand and journal creates up to the horizon (see JOURNAL_AHEAD_BATCHES), in a
            // commit that also takes the results gathered so far.
            let mut topped_up = false;
            for (si, side) in Side::BOTH.into_iter().enumerate() {
                let low =
                    ready[si].len() <= horizon[si] / 2 && ahead_ops[si] <= JOURNAL_AHEAD_OPS / 2;
                if !go || !low {
                    continue;
                }
                while next_create[si] < creates[si].len()
                    && ready[si].len() < horizon[si]
                    && ahead_ops[si] < JOURNAL_AHEAD_OPS
                {
                    let end = (next_create[si] + max_batch[si]).min(creates[si].len());
                    // Prepared, not yet expanded into steps (see `PreparedCreate`); sized up
                    // front: a collected `filter_map` grows (and copies) by doubling.
                    let mut steps: Vec<PreparedCreate> = Vec::with_capacity(end - next_create[si]);
                    steps.extend(
                        creates[si][next_create[si]..end]
                            .iter()
                            .filter_map(|c| planner::prepare_create(input, c)),
                    );
                    next_create[si] = end;
                    if end == creates[si].len() {
                        // Every create from the other side is prepared: nothing reads what
                        // was seen there any more (a first sync of 100,000 records gives back
                        // the list here, before the last batches are sent).
                        match side.other() {
                            Side::Zoho => input.zoho = SeenMap::new(),
                            Side::Outlook => input.outlook = SeenMap::new(),
                        }
                    }
                    if steps.is_empty() {
                        // Every create of the chunk vanished from the input (cannot happen).
                        continue;
                    }
                    pending.journal.extend(steps.iter().map(|c| c.intent(kind)));
                    ahead_ops[si] += steps.len();
                    ready[si].push_back((bg.started + 1, steps));
                    topped_up = true;
                }
            }
            if topped_up {
                bg.start(&*self.store, &mut pending);
            }

            // Launch what the limits allow.
            let mut launch: Vec<(Side, Batch<'_>)> = vec![];
            if go {
                for (si, side) in Side::BOTH.into_iter().enumerate() {
                    while in_flight[si] < limit[si] {
                        let batch = if let Some(b) = queues[si].pop_front() {
                            Batch::Planned(b)
                        } else if let Some((seq, _)) = ready[si].front() {
                            // Its intents must be durable first. Had they to be waited for,
                            // the horizon was too short for this service and store.
                            let seq = *seq;
                            if !bg.durable_now(seq)? {
                                horizon[si] = (horizon[si] * 2).min(JOURNAL_AHEAD_BATCHES);
                                bg.wait_for(seq).await?;
                            }
                            let Some((_, prepared)) = ready[si].pop_front() else {
                                break;
                            };
                            ahead_ops[si] -= prepared.len();
                            let mut steps = Vec::with_capacity(prepared.len());
                            steps.extend(
                                prepared
                                    .into_iter()
                                    .map(|c| planner::prepared_step(input, c)),
                            );
                            Batch::Created(steps)
                        } else {
                            break;
                        };
                        in_flight[si] += 1;
                        launch.push((side, batch));
                    }
                }
            }
            // Planned steps may create too (a record restored after a delete): their intents
            // are journalled now, and durable before the batch goes.
            for (side, batch) in &launch {
                if let Batch::Planned(_) = batch {
                    for (op, step) in batch.ops(plan) {
                        if let Operation::Create { sync_id, .. } = op {
                            pending.journal.extend(intent(*side, sync_id, step));
                        }
                    }
                }
            }
            if !pending.journal.is_empty() {
                bg.start(&*self.store, &mut pending);
                bg.wait_for(bg.started).await?;
            }
            for (side, batch) in launch {
                let conn = self.conn(side).clone();
                let ops: Vec<Operation> = batch.ops(plan).map(|(o, _)| o.clone()).collect();
                running.push(async move {
                    let res = conn.apply(scope, ops).await;
                    (side, batch, res)
                });
            }
            let Some((side, batch, res)) = running.next().await else {
                break;
            };
            in_flight[side.index()] -= 1;
            let n = batch.len();
            let res = match res {
                Err(call_err) => {
                    if call_err.is_fatal() {
                        stopped = true;
                        kr.failure = Some(format!("{side}: {call_err}"));
                        complete = false;
                    }
                    // Unknown outcome: creates stay journalled for recovery; all are deferred.
                    (0..n)
                        .map(|_| {
                            Err(RecordError::new(
                                RecordErrorKind::Transient,
                                format!("the whole batch failed: {call_err}"),
                            ))
                        })
                        .map(|r| (r, false))
                        .collect::<Vec<_>>()
                }
                Ok(results) => {
                    let mut v: Vec<(OpResult, bool)> =
                        results.into_iter().map(|r| (r, true)).collect();
                    while v.len() < n {
                        v.push((
                            Err(RecordError::new(
                                RecordErrorKind::Transient,
                                "the service returned no result for this record",
                            )),
                            false,
                        ));
                    }
                    v.truncate(n);
                    v
                }
            };
            done += n as u64;
            bg.gathered(n);
            kr.counts.writes += n as u64;
            match batch {
                Batch::Planned(items) => {
                    for ((i, _op), (r, known)) in items.iter().zip(res) {
                        results[*i].push((side, r, known));
                        remaining[*i] -= 1;
                        if remaining[*i] == 0 {
                            let step = &plan.steps[*i];
                            let rs = std::mem::take(&mut results[*i]);
                            self.settle_step(
                                &mut pending,
                                kr,
                                step,
                                step.store.clone(),
                                rs,
                                kind,
                                &deferred_ids,
                                &prior_attempts,
                            );
                        }
                    }
                }
                Batch::Created(steps) => {
                    // A group's results are committed together: its lists are sized once for
                    // a group of creates rather than doubling (and copying) up to it.
                    if pending.insert.capacity() == 0 {
                        let group = (GROUP_COMMIT_BATCHES * max_batch[side.index()])
                            .min(GROUP_COMMIT_OPS)
                            .min(plan.creates.len());
                        pending.insert.reserve(group);
                        pending.settle.reserve(group);
                    }
                    // The batch's steps are owned here: their mappings move to the commit.
                    for (mut step, (r, known)) in steps.into_iter().zip(res) {
                        let store = step.store.take();
                        self.settle_step(
                            &mut pending,
                            kr,
                            &step,
                            store,
                            vec![(side, r, known)],
                            kind,
                            &deferred_ids,
                            &prior_attempts,
                        );
                    }
                }
            }
            // Once nothing is left to send, the results wait for the batches still in flight
            // and go to the store together: batches that finish close together (the last of a
            // run) then make one commit, one log write of the pages they share and one sync,
            // rather than one each. A stopped or cancelled run commits what it has at once.
            let stopping = stopped || self.cancel.is_cancelled();
            let idle = !left(&queues, &ready, &next_create) && running.is_empty();
            if (stopping || idle || bg.group_due()) && !pending.is_empty() {
                bg.start(&*self.store, &mut pending);
            }
            self.emit(Progress::Writing { kind, done, total });
        }
        // Creates journalled but never sent (stopped or cancelled): they did not happen.
        for (_, prepared) in ready.iter_mut().flat_map(std::mem::take) {
            pending
                .settle
                .extend(prepared.into_iter().map(|c| c.sync_id));
        }
        if !pending.is_empty() {
            bg.start(&*self.store, &mut pending);
        }
        bg.wait_for(bg.started).await?;
        // Every write of the kind is durable: the store may finish what it put off meanwhile.
        self.store.finish_writes()?;
        if left(&queues, &ready, &next_create) {
            complete = false;
        }
        Ok(complete && !self.cancel.is_cancelled())
    }

    /// Records a step whose every write has a result: success stores it, a failure defers or
    /// parks it.
    #[allow(clippy::too_many_arguments)]
    fn settle_step(
        &self,
        commit: &mut Commit,
        kr: &mut KindReport,
        step: &Step,
        store: Option<Mapping>,
        rs: Vec<(Side, OpResult, bool)>,
        kind: Kind,
        deferred_ids: &HashSet<(Side, &str)>,
        prior_attempts: &HashMap<(Side, &str), u32>,
    ) {
        if rs.iter().all(|(_, r, _)| r.is_ok()) {
            let written: Vec<(Side, Written)> = rs
                .into_iter()
                .filter_map(|(s, r, _)| r.ok().map(|w| (s, w)))
                .collect();
            finish_step(commit, step, store, &written, kind);
            account(kr, step, Some(&written));
            undefer(commit, step, kind, deferred_ids);
        } else {
            self.fail_step(commit, kr, step, store.as_ref(), rs, kind, prior_attempts);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn fail_step(
        &self,
        commit: &mut Commit,
        kr: &mut KindReport,
        step: &Step,
        store: Option<&Mapping>,
        rs: Vec<(Side, OpResult, bool)>,
        kind: Kind,
        prior: &HashMap<(Side, &str), u32>,
    ) {
        for (side, r, known) in &rs {
            if let Err(e) = r {
                let source = side.other();
                let id = match side {
                    Side::Zoho => step.zoho_id.clone(),
                    Side::Outlook => step.outlook_id.clone(),
                }
                .unwrap_or_default();
                let source_id = match source {
                    Side::Zoho => step.zoho_id.clone(),
                    Side::Outlook => step.outlook_id.clone(),
                }
                .unwrap_or_default();
                kr.errors.push(ErrorReport {
                    side: *side,
                    id,
                    source_id,
                    title: step.title.clone(),
                    field: e.field.clone(),
                    reason: e.reason.clone(),
                    will_retry: e.is_retryable(),
                });
                kr.counts.errors += 1;
                // A create refused with a definite answer did not happen: settle its intent.
                if *known {
                    if let Some((_, Operation::Create { sync_id, .. })) =
                        step.writes.iter().find(|(s, _)| s == side)
                    {
                        commit.settle.push(sync_id.clone());
                    }
                }
            }
        }
        // Re-read both records next run (a 412 means the target changed; other failures need the
        // source again since the cursor moves on).
        let reason = rs
            .iter()
            .find_map(|(_, r, _)| r.as_ref().err().map(|e| e.reason.clone()))
            .unwrap_or_default();
        let retryable = rs
            .iter()
            .all(|(_, r, _)| r.as_ref().err().is_none_or(|e| e.is_retryable()));
        let version_of = |side: Side| -> String {
            store
                .map(|m| m.side(side).version.clone())
                .unwrap_or_default()
        };
        for (side, id) in [
            (Side::Zoho, &step.zoho_id),
            (Side::Outlook, &step.outlook_id),
        ] {
            if let Some(id) = id {
                let attempts = prior.get(&(side, id.as_str())).copied().unwrap_or(0) + 1;
                commit.defer.push(Deferred {
                    kind,
                    side,
                    id: id.clone(),
                    attempts,
                    parked: !retryable || attempts >= MAX_ATTEMPTS,
                    reason: reason.clone(),
                    version: version_of(side),
                });
            }
        }
    }
}

/// The sync id of the record a step creates, if it creates one.
fn created(step: &Step) -> Option<&SyncId> {
    step.writes.iter().find_map(|(_, op)| match op {
        Operation::Create { sync_id, .. } => Some(sync_id),
        _ => None,
    })
}

fn undefer(commit: &mut Commit, step: &Step, kind: Kind, deferred: &HashSet<(Side, &str)>) {
    for (side, id) in [
        (Side::Zoho, &step.zoho_id),
        (Side::Outlook, &step.outlook_id),
    ] {
        if let Some(id) = id {
            if deferred.contains(&(side, id.as_str())) {
                commit.undefer.push((kind, side, id.clone()));
            }
        }
    }
}

/// Adds a step's outcome (after all its writes succeeded) to a commit; `store` is the step's
/// mapping (`step.store`, moved out of a step the caller owns).
fn finish_step(
    commit: &mut Commit,
    step: &Step,
    store: Option<Mapping>,
    written: &[(Side, Written)],
    kind: Kind,
) {
    if let Some(mut m) = store {
        for (side, w) in written {
            let create = step
                .writes
                .iter()
                .any(|(s, op)| s == side && matches!(op, Operation::Create { .. }));
            let st = m.side_mut(*side);
            if create || !w.id.is_empty() {
                st.id = w.id.clone();
            }
            st.version = w.version.clone();
            if let Some(stored) = &w.stored {
                // The service's own rendering becomes the baseline (server rewrites are not
                // edits); fields we did not write keep their hashes.
                let fresh = FieldHashes::of(stored);
                let fields = match step.writes.iter().find(|(s, _)| s == side) {
                    Some((_, Operation::Update { fields, .. })) => *fields,
                    _ => crate::field::FieldSet::all(kind),
                };
                for f in fields.iter() {
                    st.hashes.set(kind, f, fresh.get(kind, f));
                }
            }
        }
        if let Some(sync_id) = created(step) {
            commit.settle.push(sync_id.clone());
            commit.insert.push(m);
        } else {
            commit.upsert.push(m);
        }
    }
    if step.remove {
        commit.remove.push((kind, step.sync_id.clone()));
    }
    if let Some(q) = &step.queue {
        commit.queue.push((**q).clone());
    } else if step.unqueue {
        commit.unqueue.push((kind, step.sync_id.clone()));
    }
}

/// Counts a step in the report (`written = None`: a dry run, counted as if it succeeded).
fn account(kr: &mut KindReport, step: &Step, written: Option<&[(Side, Written)]>) {
    let c = &mut kr.counts;
    for (side, op) in &step.writes {
        match (op, side) {
            (Operation::Create { .. }, Side::Zoho) => c.created_in_zoho += 1,
            (Operation::Create { .. }, Side::Outlook) => c.created_in_outlook += 1,
            (Operation::Update { fields, .. }, Side::Zoho) if !fields.is_empty() => {
                c.updated_in_zoho += 1
            }
            (Operation::Update { fields, .. }, Side::Outlook) if !fields.is_empty() => {
                c.updated_in_outlook += 1
            }
            (Operation::Delete { id, .. }, side) => {
                if *side == Side::Zoho {
                    c.deleted_in_zoho += 1
                } else {
                    c.deleted_in_outlook += 1
                }
                let before = match &step.action {
                    Action::Delete { before, .. } => before.as_deref().cloned(),
                    _ => None,
                };
                kr.deletes.push(DeleteReport {
                    side: *side,
                    id: id.clone(),
                    before,
                });
            }
            _ => {}
        }
    }
    let _ = written;
    let decision = match &step.action {
        Action::Merge { conflict, .. } => {
            c.merged += 1;
            conflict.clone()
        }
        Action::Link { conflict, .. } => {
            c.linked += 1;
            conflict.clone()
        }
        Action::Unlink { .. } => {
            c.unlinked += 1;
            None
        }
        Action::Relink => {
            c.relinked += 1;
            None
        }
        Action::Restore { .. } => {
            c.restored += 1;
            None
        }
        Action::Skip { side, reason } => {
            c.skipped += 1;
            kr.skipped.push(SkipReport {
                side: *side,
                id: match side {
                    Side::Zoho => step.zoho_id.clone(),
                    Side::Outlook => step.outlook_id.clone(),
                }
                .unwrap_or_default(),
                title: step.title.clone(),
                reason: reason.clone(),
            });
            None
        }
        _ => None,
    };
    if let Some(d) = decision {
        if d.winner.is_some() {
            kr.counts.conflicts_resolved += 1;
        } else {
            kr.counts.conflicts_queued += 1;
        }
        kr.conflicts.push(ConflictReport {
            zoho_id: step.zoho_id.clone().unwrap_or_default(),
            outlook_id: step.outlook_id.clone().unwrap_or_default(),
            title: step.title.clone(),
            fields: d.fields,
            rule: d.rule,
            winner: d.winner,
        });
    }
    for n in &step.notes {
        let w = format!("{}: {n}", step.title);
        if !kr.warnings.contains(&w) && kr.warnings.len() < 100 {
            kr.warnings.push(w);
        }
    }
}
