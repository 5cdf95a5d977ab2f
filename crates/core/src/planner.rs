//! The planner: a pure function from (mappings, both sides' changes, settings, now) to a [`Plan`].
//!
//! Nothing here performs IO. Every decision is a [`Step`] carrying its reason ([`Action`]), the
//! remote writes it needs, and the mapping to store once those writes succeed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::connector::{Operation, RemoteRecord, SyncId};
use crate::field::{
    equal_fields, field_hash, field_is_empty, norm_email, norm_text, FieldHashes, FieldSchema,
    FieldSet,
};
use crate::model::{IdPositions, Kind, Record, Sensitivity, Side};
use crate::settings::{CategoryFilter, DeletePolicy, KindSettings, Winner};
use crate::store::{Intent, Mapping, QueuedConflict, SideState};

/// What the engine learnt about one record of one side in this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Seen {
    /// Present in scope with this content.
    Present(RemoteRecord),
    /// Confirmed deleted.
    Deleted,
    /// Exists but left the scope.
    OutOfScope,
}

/// What was seen of one side in a run, by id: [`Seen`] values kept in a list and found through a
/// table of their positions (`hashbrown::HashTable`, 4 bytes an entry). A present record is kept
/// under the id it carries, so a listing of 100,000 records costs no second copy of each id, and
/// the list's slots are a record's size where a map's slots held a key and a value and a quarter
/// of them stayed empty (a first sync of 100,000 records holds one side's listing whole).
#[derive(Debug, Clone, Default)]
pub struct SeenMap {
    slots: Vec<SeenSlot>,
    by_id: IdPositions,
    live: usize,
}

/// One slot of a [`SeenMap`].
#[derive(Debug, Clone)]
enum SeenSlot {
    /// Present (always `Seen::Present`), under the record's own id.
    Present(Seen),
    /// Deleted (`true`) or out of scope (`false`).
    Gone(String, bool),
    /// Removed.
    Empty,
}

impl SeenSlot {
    fn id(&self) -> Option<&str> {
        match self {
            SeenSlot::Present(Seen::Present(r)) => Some(&r.id),
            SeenSlot::Gone(id, _) => Some(id),
            _ => None,
        }
    }

    fn seen(&self) -> Option<&Seen> {
        // The unit variants are shared constants: a slot of a gone record holds only its id.
        static DELETED: Seen = Seen::Deleted;
        static OUT_OF_SCOPE: Seen = Seen::OutOfScope;
        match self {
            SeenSlot::Present(seen) => Some(seen),
            SeenSlot::Gone(_, true) => Some(&DELETED),
            SeenSlot::Gone(_, false) => Some(&OUT_OF_SCOPE),
            SeenSlot::Empty => None,
        }
    }
}

impl SeenMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    fn position(&self, id: &str) -> Option<usize> {
        let slots = &self.slots;
        self.by_id.find(id, |n| slots[n].id())
    }

    /// Records what was seen of `id`, replacing anything recorded before.
    pub fn insert(&mut self, id: String, seen: Seen) {
        let slot = match seen {
            Seen::Present(mut r) => {
                if r.id != id {
                    r.id = id;
                }
                SeenSlot::Present(Seen::Present(r))
            }
            Seen::Deleted => SeenSlot::Gone(id, true),
            Seen::OutOfScope => SeenSlot::Gone(id, false),
        };
        self.put(slot);
    }

    /// Records a present record under its own id, replacing anything recorded before.
    pub fn insert_record(&mut self, record: RemoteRecord) {
        self.put(SeenSlot::Present(Seen::Present(record)));
    }

    fn put(&mut self, slot: SeenSlot) {
        let Some(id) = slot.id() else { return };
        let (slots, n) = (&self.slots, self.slots.len());
        match self.by_id.find_or_insert(id, n, |k| slots[k].id()) {
            Some(at) => self.slots[at] = slot,
            None => {
                self.slots.push(slot);
                self.live += 1;
            }
        }
    }

    /// What was seen of `id`.
    pub fn get(&self, id: &str) -> Option<&Seen> {
        self.slots[self.position(id)?].seen()
    }

    /// Whether anything was seen of `id`.
    pub fn contains_key(&self, id: &str) -> bool {
        self.position(id).is_some()
    }

    /// Forgets `id`, returning what was seen of it.
    pub fn remove(&mut self, id: &str) -> Option<Seen> {
        let slots = &self.slots;
        let n = self.by_id.remove(id, |n| slots[n].id())?;
        self.live -= 1;
        match std::mem::replace(&mut self.slots[n], SeenSlot::Empty) {
            SeenSlot::Present(seen) => Some(seen),
            SeenSlot::Gone(_, true) => Some(Seen::Deleted),
            SeenSlot::Gone(_, false) => Some(Seen::OutOfScope),
            SeenSlot::Empty => None,
        }
    }

    /// Gives back the room the list grew into but does not use.
    pub fn shrink_to_fit(&mut self) {
        self.slots.shrink_to_fit();
    }

    /// How many ids were seen.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether nothing was seen.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Every id seen, in the order each was first recorded (a replacement keeps its place).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().filter_map(SeenSlot::id)
    }

    /// Every id with what was seen of it, in the order each id was first recorded.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Seen)> {
        self.slots.iter().filter_map(|s| Some((s.id()?, s.seen()?)))
    }
}

/// How a conflict was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Fields changed on both sides with different values.
    pub fields: FieldSet,
    /// The rule.
    pub rule: Winner,
    /// The side whose values were kept; `None` = queued.
    pub winner: Option<Side>,
}

/// Why a step exists: one entry of the plan as a person reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// A record new on one side is created on the other.
    Create {
        /// Where the record is created.
        to: Side,
    },
    /// Fields changed on one side only are copied to the other.
    Update {
        /// Where the fields are written.
        to: Side,
        /// Which fields.
        fields: FieldSet,
    },
    /// Both sides changed: one-side fields merged, both-side fields decided.
    Merge {
        /// Fields written to Zoho.
        to_zoho: FieldSet,
        /// Fields written to Outlook.
        to_outlook: FieldSet,
        /// The decision on fields changed on both sides, if any differ.
        conflict: Option<Decision>,
    },
    /// A record deleted on one side is deleted on the other.
    Delete {
        /// Where it is deleted.
        on: Side,
        /// The record as last seen there (when this run read it).
        before: Option<Arc<Record>>,
    },
    /// Deleted on one side, edited on the other: the edit wins and the record is created again.
    Restore {
        /// Where it is created again.
        to: Side,
    },
    /// A record found on both sides by identity is linked, not duplicated.
    Link {
        /// Fields written to Zoho.
        to_zoho: FieldSet,
        /// Fields written to Outlook.
        to_outlook: FieldSet,
        /// The decision on fields that differ.
        conflict: Option<Decision>,
    },
    /// A record left the scope on one side: the pair is unlinked, nothing is deleted.
    Unlink {
        /// The side whose record left.
        left: Side,
    },
    /// A record came back into scope: the pair is linked again.
    Relink,
    /// The version moved but nothing we sync changed (or our own write came back): store only.
    Rebaseline,
    /// Both records are gone, or the change is not carried in this direction: forget the pair.
    Forget {
        /// Why.
        reason: String,
    },
    /// Nothing is done for this record.
    Skip {
        /// The side holding it.
        side: Side,
        /// Why.
        reason: String,
    },
}

/// One decision with its writes and the state to store after them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The pair's sync id (new ones for creates).
    pub sync_id: SyncId,
    /// The Zoho id, when known.
    pub zoho_id: Option<String>,
    /// The Outlook id, when known.
    pub outlook_id: Option<String>,
    /// A title for the report (never logged).
    pub title: String,
    /// Why.
    pub action: Action,
    /// Remote writes, at most one per side.
    pub writes: Vec<(Side, Operation)>,
    /// The mapping to store once every write succeeded (a created record's id and version are
    /// filled in from the write result).
    pub store: Option<Mapping>,
    /// Forget the mapping once every write succeeded.
    pub remove: bool,
    /// Queue a conflict for the user.
    pub queue: Option<Box<QueuedConflict>>,
    /// Settle a queued conflict of this pair.
    pub unqueue: bool,
    /// Values cut or dropped to fit the target (reported as warnings).
    pub notes: Vec<String>,
}

/// The plan for one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The kind.
    pub kind: Kind,
    /// The steps.
    pub steps: Vec<Step>,
    /// Records new on one side, to be created on the other. A real run expands each into its
    /// [`Step`] (with [`expand_create`]) only when its batch is sent, so a first sync of
    /// 100,000 records never holds 100,000 steps at once; a dry run expands them all into
    /// `steps` ([`Plan::expand_creates`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub creates: Vec<PlannedCreate>,
}

/// A record new on `source` (never a conflict), to be created on the other side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedCreate {
    /// The side that has it.
    pub source: Side,
    /// Its id there.
    pub id: String,
}

/// The step of a planned create, from the planner's input (`None` if the record is not in it).
pub fn expand_create(input: &PlanInput<'_>, create: &PlannedCreate) -> Option<Step> {
    let p = Planner {
        input,
        kind: input.kind,
        steps: vec![],
        creates: vec![],
    };
    match p.seen(create.source).get(&create.id)? {
        Seen::Present(r) => Some(p.create_step(create.source, r, None)),
        _ => None,
    }
}

/// A planned create made ready to journal: its record (taken out of the planner's input), the
/// sync id it will carry and the field hashes of its source, which is all its [`Intent`] needs.
/// Its [`Step`] is built only when its batch is sent ([`prepared_step`]): the engine journals
/// creates well ahead of sending them, and a prepared create holds a fraction of a step's memory
/// (a step also holds the projected record, the target's state, the write and a title).
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedCreate {
    /// The side that has the record.
    pub source: Side,
    /// The record as read there.
    pub record: RemoteRecord,
    /// The sync id the created record will carry.
    pub sync_id: SyncId,
    /// The source's field hashes.
    pub hashes: FieldHashes,
}

impl PreparedCreate {
    /// The intent to journal, durably, before the create is sent.
    pub fn intent(&self, kind: Kind) -> Intent {
        Intent {
            kind,
            sync_id: self.sync_id.clone(),
            target: self.source.other(),
            source: SideState {
                id: self.record.id.clone(),
                version: self.record.version.clone(),
                hashes: self.hashes.clone(),
            },
        }
    }
}

/// Prepares a planned create for a run that sends each create once: the record leaves the
/// input, so its memory is given back while the sync runs rather than at its end (`None` if the
/// record is not in the input).
pub fn prepare_create(input: &mut PlanInput<'_>, create: &PlannedCreate) -> Option<PreparedCreate> {
    let seen = match create.source {
        Side::Zoho => &mut input.zoho,
        Side::Outlook => &mut input.outlook,
    };
    let Seen::Present(record) = seen.remove(&create.id)? else {
        return None;
    };
    Some(PreparedCreate {
        source: create.source,
        sync_id: SyncId::derive(input.kind, create.source, &record.id),
        hashes: FieldHashes::of(&record.record),
        record,
    })
}

/// The step of a prepared create: what [`expand_create`] gives for the same record.
pub fn prepared_step(input: &PlanInput<'_>, create: PreparedCreate) -> Step {
    let p = Planner {
        input,
        kind: input.kind,
        steps: vec![],
        creates: vec![],
    };
    p.create_step_from(create.source, &create.record, create.sync_id, create.hashes)
}

impl Plan {
    /// Expands every planned create into `steps` (a dry run, or a caller that wants every
    /// step as a value).
    pub fn expand_creates(&mut self, input: &PlanInput<'_>) {
        let creates = std::mem::take(&mut self.creates);
        self.steps.reserve(creates.len());
        self.steps
            .extend(creates.iter().filter_map(|c| expand_create(input, c)));
    }

    /// Number of remote deletes the plan would make.
    pub fn deletions(&self) -> usize {
        self.steps
            .iter()
            .flat_map(|s| &s.writes)
            .filter(|(_, op)| matches!(op, Operation::Delete { .. }))
            .count()
    }

    /// Number of remote writes.
    pub fn writes(&self) -> usize {
        self.steps.iter().map(|s| s.writes.len()).sum::<usize>() + self.creates.len()
    }
}

/// Everything the planner looks at.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    /// The kind.
    pub kind: Kind,
    /// Its settings.
    pub settings: &'a KindSettings,
    /// What each side can hold: `[zoho, outlook]`.
    pub schemas: [&'a FieldSchema; 2],
    /// The time of the sync.
    pub now: DateTime<Utc>,
    /// The mappings of the records involved (all of them after a full listing).
    pub mappings: Vec<Mapping>,
    /// What was seen on Zoho, by id.
    pub zoho: SeenMap,
    /// What was seen on Outlook, by id.
    pub outlook: SeenMap,
    /// Conflicts the user resolved, to apply now (both records are in `zoho` / `outlook`).
    pub resolutions: Vec<QueuedConflict>,
    /// Sync ids of pairs with a conflict still waiting for the user.
    pub queued: HashSet<SyncId>,
}

/// The state of one side of a mapped pair in this run.
enum SideView<'a> {
    /// Not seen, or seen with the stored version: nothing changed.
    Unchanged(Option<&'a RemoteRecord>),
    /// Seen with a new version but no change to any field we sync.
    Rebase(&'a RemoteRecord, FieldHashes),
    /// Changed fields.
    Changed(&'a RemoteRecord, FieldHashes, FieldSet),
    Deleted,
    OutOfScope,
}

impl SideView<'_> {
    fn record(&self) -> Option<&RemoteRecord> {
        match self {
            SideView::Unchanged(r) => *r,
            SideView::Rebase(r, _) | SideView::Changed(r, _, _) => Some(r),
            _ => None,
        }
    }
    fn changed(&self) -> FieldSet {
        match self {
            SideView::Changed(_, _, c) => *c,
            _ => FieldSet::EMPTY,
        }
    }
    fn hashes<'b>(&'b self, stored: &'b FieldHashes) -> &'b FieldHashes {
        match self {
            SideView::Rebase(_, h) | SideView::Changed(_, h, _) => h,
            _ => stored,
        }
    }
}

/// Whether a record passes the core's own filters for the side it was read from (the event
/// category filter, private events, which the connectors may not all apply).
pub fn in_scope(settings: &KindSettings, side: Side, record: &Record) -> bool {
    match record {
        Record::Event(e) if side == Side::Outlook => {
            let cat_ok = settings
                .category_filter
                .admits(&e.categories, &settings.zoho_category);
            let private = matches!(
                e.sensitivity,
                Sensitivity::Private | Sensitivity::Confidential
            );
            cat_ok && (settings.sync_private_events || !private)
        }
        _ => true,
    }
}

/// Adjusts a record created from the other side so it passes the target's filter (events sent
/// to Outlook carry the Zoho category, or the first chosen one).
fn fit_target_filter(settings: &KindSettings, target: Side, record: &mut Arc<Record>) {
    if let (Side::Outlook, Record::Event(e)) = (target, &**record) {
        if in_scope(
            &KindSettings {
                sync_private_events: true,
                ..settings.clone()
            },
            Side::Outlook,
            &Record::Event(e.clone()),
        ) {
            return;
        }
        let Record::Event(e) = Arc::make_mut(record) else {
            return;
        };
        let name = match &settings.category_filter {
            CategoryFilter::Chosen(names) => names
                .iter()
                .find(|n| !n.trim().is_empty())
                .cloned()
                .unwrap_or_else(|| settings.zoho_category.clone()),
            _ => settings.zoho_category.clone(),
        };
        e.categories.push(name);
    }
}

/// The identity of a record for first-sync twin linking: e-mail for contacts, title + due
/// date for tasks, title + start for events. `None` = no identity (never linked by content).
pub fn identity(record: &Record) -> Vec<String> {
    match record {
        Record::Contact(c) => c
            .emails
            .iter()
            .map(|e| norm_email(e))
            .filter(|e| !e.is_empty())
            .collect(),
        Record::Task(t) => {
            let title = norm_text(&t.title).to_lowercase();
            if title.is_empty() {
                return vec![];
            }
            vec![format!(
                "{title}\u{1f}{}",
                t.due.map(|d| d.to_string()).unwrap_or_default()
            )]
        }
        Record::Event(e) => {
            let title = norm_text(&e.title).to_lowercase();
            if title.is_empty() {
                return vec![];
            }
            vec![format!("{title}\u{1f}{}", e.start.timestamp())]
        }
    }
}

struct Planner<'a> {
    input: &'a PlanInput<'a>,
    kind: Kind,
    steps: Vec<Step>,
    creates: Vec<PlannedCreate>,
}

/// Plans one kind. Pure: the same input always gives the same plan (steps are ordered by
/// the ids involved).
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let mut p = Planner {
        input,
        kind: input.kind,
        steps: vec![],
        creates: vec![],
    };
    p.run();
    Plan {
        kind: input.kind,
        steps: p.steps,
        creates: p.creates,
    }
}

impl<'a> Planner<'a> {
    fn schema(&self, side: Side) -> &'a FieldSchema {
        self.input.schemas[side.index()]
    }

    fn seen(&self, side: Side) -> &'a SeenMap {
        match side {
            Side::Zoho => &self.input.zoho,
            Side::Outlook => &self.input.outlook,
        }
    }

    fn carries(&self, from: Side) -> bool {
        self.input.settings.direction.carries_from(from)
    }

    fn view(&self, side: Side, st: &SideState) -> SideView<'a> {
        match self.seen(side).get(&st.id) {
            None => SideView::Unchanged(None),
            Some(Seen::Deleted) => SideView::Deleted,
            Some(Seen::OutOfScope) => SideView::OutOfScope,
            Some(Seen::Present(r)) => {
                if !in_scope(self.input.settings, side, &r.record) {
                    return SideView::OutOfScope;
                }
                if r.version == st.version && !st.version.is_empty() {
                    return SideView::Unchanged(Some(r));
                }
                let h = FieldHashes::of(&r.record);
                let changed = h
                    .diff(self.kind, &st.hashes)
                    .intersect(self.schema(side).fields);
                if changed.is_empty() {
                    SideView::Rebase(r, h)
                } else {
                    SideView::Changed(r, h, changed)
                }
            }
        }
    }

    fn run(&mut self) {
        let input = self.input;
        let mut mapped: [HashSet<&str>; 2] = [HashSet::new(), HashSet::new()];
        let mut by_sync: HashMap<&SyncId, usize> = HashMap::new();
        let mut mappings: Vec<&Mapping> = input.mappings.iter().collect();
        mappings.sort_by(|a, b| a.sync_id.cmp(&b.sync_id));
        for (i, m) in mappings.iter().enumerate() {
            mapped[0].insert(m.zoho.id.as_str());
            mapped[1].insert(m.outlook.id.as_str());
            by_sync.insert(&m.sync_id, i);
        }
        let resolutions: HashMap<&SyncId, &QueuedConflict> = input
            .resolutions
            .iter()
            .filter(|q| q.resolution.is_some())
            .map(|q| (&q.sync_id, q))
            .collect();

        for m in &mappings {
            self.plan_mapped(m, resolutions.get(&m.sync_id).copied());
        }

        // Records no mapping holds: new on their side (or re-stamped by us before a lost DB).
        let mut fresh: [Vec<&RemoteRecord>; 2] = [Vec::new(), Vec::new()];
        for side in Side::BOTH {
            // In the order the side listed them (a seen map keeps it): the same input gives
            // the same plan, and creates go out in the source's order. (Sorting the ids first
            // cost a twentieth of a first sync of 100,000 records, bench_engine.)
            for (id, seen) in self.seen(side).iter() {
                if mapped[side.index()].contains(id) {
                    continue;
                }
                if let Seen::Present(r) = seen {
                    if in_scope(input.settings, side, &r.record) {
                        fresh[side.index()].push(r);
                    }
                }
            }
        }
        self.plan_fresh(fresh);
    }

    fn plan_mapped(&mut self, m: &Mapping, resolution: Option<&QueuedConflict>) {
        let z = self.view(Side::Zoho, &m.zoho);
        let o = self.view(Side::Outlook, &m.outlook);
        let title = z
            .record()
            .or(o.record())
            .map(|r| r.record.title())
            .unwrap_or_default();
        let base_step = |action: Action| Step {
            sync_id: m.sync_id.clone(),
            zoho_id: Some(m.zoho.id.clone()),
            outlook_id: Some(m.outlook.id.clone()),
            title: title.clone(),
            action,
            writes: vec![],
            store: None,
            remove: false,
            queue: None,
            unqueue: false,
            notes: vec![],
        };

        if let Some(left) = m.dormant {
            // The pair is unlinked; only the return of the record that left relinks it.
            let back = match left {
                Side::Zoho => &z,
                Side::Outlook => &o,
            };
            let other = match left {
                Side::Zoho => &o,
                Side::Outlook => &z,
            };
            if matches!(back, SideView::Deleted) || matches!(other, SideView::Deleted) {
                let mut s = base_step(Action::Forget {
                    reason: "an unlinked record was deleted".into(),
                });
                s.remove = true;
                self.steps.push(s);
                return;
            }
            if back.record().is_none() {
                return;
            }
            // Came back: relink, then plan as an active pair in the same pass.
            let mut active = m.clone();
            active.dormant = None;
            let before = self.steps.len();
            self.plan_active(&active, z, o, resolution, &base_step);
            if self.steps.len() == before {
                let mut s = base_step(Action::Relink);
                s.store = Some(active);
                self.steps.push(s);
            } else if let Some(s) = self.steps.last_mut() {
                if s.store.is_none() && !s.remove {
                    s.store = Some(active);
                }
            }
            return;
        }
        self.plan_active(m, z, o, resolution, &base_step);
    }

    fn plan_active(
        &mut self,
        m: &Mapping,
        z: SideView<'_>,
        o: SideView<'_>,
        resolution: Option<&QueuedConflict>,
        base_step: &dyn Fn(Action) -> Step,
    ) {
        use SideView::*;
        let settings = self.input.settings;
        match (&z, &o) {
            (Deleted, Deleted) | (Deleted, OutOfScope) | (OutOfScope, Deleted) => {
                let mut s = base_step(Action::Forget {
                    reason: "deleted on both sides".into(),
                });
                s.remove = true;
                s.unqueue = true;
                self.steps.push(s);
            }
            (OutOfScope, _) | (_, OutOfScope) => {
                let left = if matches!(z, OutOfScope) {
                    Side::Zoho
                } else {
                    Side::Outlook
                };
                let mut s = base_step(Action::Unlink { left });
                let mut d = m.clone();
                d.dormant = Some(left);
                s.store = Some(d);
                s.unqueue = true;
                self.steps.push(s);
            }
            (Deleted, other) | (other, Deleted) => {
                let deleted = if matches!(z, Deleted) {
                    Side::Zoho
                } else {
                    Side::Outlook
                };
                let survivor = deleted.other();
                let edited = matches!(other, Changed(..));
                let restore = edited && settings.delete_policy == DeletePolicy::EditWins;
                if restore {
                    if !self.carries(survivor) {
                        let mut s = base_step(Action::Forget {
                            reason: format!("deleted in {deleted}; not carried back one-way"),
                        });
                        s.remove = true;
                        self.steps.push(s);
                        return;
                    }
                    let Some(r) = other.record() else { return };
                    let mut step = self.create_step(survivor, r, Some(m.sync_id.clone()));
                    step.action = Action::Restore { to: deleted };
                    // If the create fails, the deleted side is re-read next run too.
                    match deleted {
                        Side::Zoho => step.zoho_id = Some(m.zoho.id.clone()),
                        Side::Outlook => step.outlook_id = Some(m.outlook.id.clone()),
                    }
                    step.unqueue = true;
                    self.steps.push(step);
                    return;
                }
                if !self.carries(deleted) {
                    let mut s = base_step(Action::Forget {
                        reason: format!("deleted in {deleted}; not carried one-way"),
                    });
                    s.remove = true;
                    self.steps.push(s);
                    return;
                }
                if settings.never_delete_on.contains(&survivor) {
                    let mut s = base_step(Action::Forget {
                        reason: format!(
                            "deleted in {deleted}; deletes are never sent to {survivor}"
                        ),
                    });
                    s.remove = true;
                    self.steps.push(s);
                    return;
                }
                let st = m.side(survivor);
                let mut s = base_step(Action::Delete {
                    on: survivor,
                    before: other.record().map(|r| r.record.clone()),
                });
                s.writes.push((
                    survivor,
                    Operation::Delete {
                        id: st.id.clone(),
                        if_version: Some(
                            other
                                .record()
                                .map(|r| r.version.clone())
                                .unwrap_or_else(|| st.version.clone()),
                        ),
                    },
                ));
                s.remove = true;
                s.unqueue = true;
                self.steps.push(s);
            }
            _ => self.plan_both_present(m, &z, &o, resolution, base_step),
        }
    }

    fn plan_both_present(
        &mut self,
        m: &Mapping,
        z: &SideView<'_>,
        o: &SideView<'_>,
        resolution: Option<&QueuedConflict>,
        base_step: &dyn Fn(Action) -> Step,
    ) {
        let settings = self.input.settings;
        let kind = self.kind;
        let rebase = matches!(z, SideView::Rebase(..)) || matches!(o, SideView::Rebase(..));
        // Changes not carried in this direction are accepted as that side's state.
        let zc = if self.carries(Side::Zoho) {
            z.changed()
        } else {
            FieldSet::EMPTY
        };
        let oc = if self.carries(Side::Outlook) {
            o.changed()
        } else {
            FieldSet::EMPTY
        };
        let zr = z.record();
        let or = o.record();
        let queued = self.input.queued.contains(&m.sync_id);

        let mut to_zoho = FieldSet::EMPTY;
        let mut to_outlook = FieldSet::EMPTY;
        let mut decision = None;
        let mut held = FieldSet::EMPTY; // conflicting fields waiting for the user
        if let (Some(res), Some(zr), Some(or)) = (resolution, zr, or) {
            // The user decided: the chosen side's values of the conflicting fields win.
            let differ = res.fields.minus(equal_fields(
                &zr.record,
                &or.record,
                res.fields,
                self.input.schemas,
            ));
            match res.resolution {
                Some(Side::Zoho) => to_outlook = differ,
                _ => to_zoho = differ,
            }
            decision = Some(Decision {
                fields: differ,
                rule: Winner::Manual,
                winner: res.resolution,
            });
            // Other changes since: merged as usual below (minus the resolved fields).
        }
        let resolved = decision.as_ref().map(|d| d.fields).unwrap_or_default();
        let zc = zc.minus(resolved);
        let oc = oc.minus(resolved);

        let both = zc.intersect(oc);
        let conflict = match (zr, or) {
            (Some(zr), Some(or)) if !both.is_empty() => {
                let eq = equal_fields(&zr.record, &or.record, both, self.input.schemas);
                both.minus(eq)
            }
            _ => FieldSet::EMPTY,
        };
        to_outlook = to_outlook.union(zc.minus(both));
        to_zoho = to_zoho.union(oc.minus(both));
        if !conflict.is_empty()
            || (!settings.conflict.field_merge && !zc.is_empty() && !oc.is_empty())
        {
            let (Some(zr), Some(or)) = (zr, or) else {
                return;
            };
            let fields = if settings.conflict.field_merge {
                conflict
            } else {
                // Whole-record rule: every field that differs is decided by the winner.
                let all = FieldSet::all(kind)
                    .intersect(self.schema(Side::Zoho).fields)
                    .intersect(self.schema(Side::Outlook).fields);
                all.minus(equal_fields(
                    &zr.record,
                    &or.record,
                    all,
                    self.input.schemas,
                ))
            };
            let winner = match settings.conflict.winner {
                Winner::Zoho => Some(Side::Zoho),
                Winner::Outlook => Some(Side::Outlook),
                Winner::Newest => Some(match (zr.modified_at, or.modified_at) {
                    (Some(a), Some(b)) if b > a => Side::Outlook,
                    (None, Some(_)) => Side::Outlook,
                    _ => Side::Zoho,
                }),
                Winner::Manual => None,
            };
            if !settings.conflict.field_merge {
                // The loser's own one-side changes are overwritten too.
                match winner {
                    Some(Side::Zoho) => {
                        to_zoho = FieldSet::EMPTY;
                        to_outlook = fields;
                    }
                    Some(Side::Outlook) => {
                        to_outlook = FieldSet::EMPTY;
                        to_zoho = fields;
                    }
                    None => {
                        to_zoho = FieldSet::EMPTY;
                        to_outlook = FieldSet::EMPTY;
                        held = fields;
                    }
                }
            } else {
                match winner {
                    Some(Side::Zoho) => to_outlook = to_outlook.union(fields),
                    Some(Side::Outlook) => to_zoho = to_zoho.union(fields),
                    None => held = fields,
                }
            }
            decision = Some(Decision {
                fields,
                rule: settings.conflict.winner,
                winner,
            });
        }
        to_zoho = to_zoho.intersect(self.schema(Side::Zoho).fields);
        to_outlook = to_outlook.intersect(self.schema(Side::Outlook).fields);
        // Events the mailbox owner does not organise are not written to Outlook.
        if let Some(Record::Event(e)) = or.map(|r| &*r.record) {
            if !e.is_organizer {
                to_outlook = FieldSet::EMPTY;
            }
        }

        if to_zoho.is_empty() && to_outlook.is_empty() && held.is_empty() && decision.is_none() {
            if rebase
                || (!zc.is_empty() || !oc.is_empty())
                || !z.changed().is_empty()
                || !o.changed().is_empty()
            {
                // Only re-baseline: the new versions/hashes are stored, nothing is written.
                let mut s = base_step(Action::Rebaseline);
                s.store = Some(self.next_mapping(m, z, o, FieldSet::EMPTY, FieldSet::EMPTY, held));
                if queued && (zc.union(oc)).is_empty() {
                    s.unqueue = false;
                }
                self.steps.push(s);
            }
            return;
        }

        let action = if decision.is_some() || (!zc.is_empty() && !oc.is_empty()) {
            Action::Merge {
                to_zoho,
                to_outlook,
                conflict: decision.clone(),
            }
        } else if !to_outlook.is_empty() {
            Action::Update {
                to: Side::Outlook,
                fields: to_outlook,
            }
        } else {
            Action::Update {
                to: Side::Zoho,
                fields: to_zoho,
            }
        };
        let mut s = base_step(action);
        // Each target gets the fields decided for it, with the values of the other side's record,
        // guarded by the target's version as read (or as stored when this run did not read it).
        for (target, fields, src, cur) in [
            (Side::Outlook, to_outlook, zr, or),
            (Side::Zoho, to_zoho, or, zr),
        ] {
            let Some(src) = src.filter(|_| !fields.is_empty()) else {
                continue;
            };
            let (rec, notes) = self.project_shared(target, &src.record);
            s.notes.extend(notes);
            let st = m.side(target);
            s.writes.push((
                target,
                Operation::Update {
                    id: st.id.clone(),
                    if_version: Some(
                        cur.map(|r| r.version.clone())
                            .unwrap_or_else(|| st.version.clone()),
                    ),
                    fields,
                    record: rec,
                    stamp: None,
                },
            ));
        }
        s.store = Some(self.next_mapping(m, z, o, to_zoho, to_outlook, held));
        if !held.is_empty() {
            if let (Some(zr), Some(or)) = (zr, or) {
                s.queue = Some(Box::new(QueuedConflict {
                    id: 0,
                    kind,
                    sync_id: m.sync_id.clone(),
                    fields: held,
                    zoho: (*zr.record).clone(),
                    outlook: (*or.record).clone(),
                    queued_at: self.input.now,
                    resolution: None,
                }));
            }
        } else if resolution.is_some() || queued {
            s.unqueue = resolution.is_some();
        }
        self.steps.push(s);
    }

    /// The mapping after the writes: each side's baseline is its current hashes, with written
    /// fields replaced by the hash of the value written, and held (queued) fields kept at the
    /// old baseline so the conflict stays visible.
    fn next_mapping(
        &self,
        m: &Mapping,
        z: &SideView<'_>,
        o: &SideView<'_>,
        to_zoho: FieldSet,
        to_outlook: FieldSet,
        held: FieldSet,
    ) -> Mapping {
        let kind = self.kind;
        let mut next = m.clone();
        for (side, view, to, src) in [
            (Side::Zoho, z, to_zoho, o.record()),
            (Side::Outlook, o, to_outlook, z.record()),
        ] {
            let st = next.side_mut(side);
            let mut h = view.hashes(&m.side(side).hashes).clone();
            if let Some(r) = view.record() {
                st.version = r.version.clone();
            }
            if let Some(src) = src {
                let (proj, _) = self.schema(side).project(&src.record);
                for f in to.iter() {
                    h.set(kind, f, field_hash(&proj, f));
                }
            }
            for f in held.iter() {
                h.set(kind, f, m.side(side).hashes.get(kind, f));
            }
            st.hashes = h;
        }
        next
    }

    /// A record as `side` will hold it, sharing the value when it fits as it is.
    fn project_shared(&self, side: Side, record: &Arc<Record>) -> (Arc<Record>, Vec<String>) {
        let schema = self.schema(side);
        if schema.is_unlimited(record.kind()) {
            return (Arc::clone(record), Vec::new());
        }
        let (r, notes) = schema.project(record);
        (Arc::new(r), notes)
    }

    /// A create on the side opposite `source`'s.
    fn create_step(&self, source: Side, r: &RemoteRecord, sync_id: Option<SyncId>) -> Step {
        let sync_id = sync_id.unwrap_or_else(|| SyncId::derive(self.kind, source, &r.id));
        self.create_step_from(source, r, sync_id, FieldHashes::of(&r.record))
    }

    /// [`Planner::create_step`] with the sync id and the source's hashes already made.
    fn create_step_from(
        &self,
        source: Side,
        r: &RemoteRecord,
        sync_id: SyncId,
        src_hashes: FieldHashes,
    ) -> Step {
        let target = source.other();
        let (mut rec, notes) = self.project_shared(target, &r.record);
        fit_target_filter(self.input.settings, target, &mut rec);
        // Most records fit the target as they are: share the value and hash once.
        let tgt_hashes = if Arc::ptr_eq(&rec, &r.record) {
            src_hashes.clone()
        } else {
            FieldHashes::of(&rec)
        };
        let src_state = SideState {
            id: r.id.clone(),
            version: r.version.clone(),
            hashes: src_hashes,
        };
        let tgt_state = SideState {
            id: String::new(),
            version: String::new(),
            hashes: tgt_hashes,
        };
        let (zoho, outlook) = match source {
            Side::Zoho => (src_state, tgt_state),
            Side::Outlook => (tgt_state, src_state),
        };
        Step {
            sync_id: sync_id.clone(),
            zoho_id: (source == Side::Zoho).then(|| r.id.clone()),
            outlook_id: (source == Side::Outlook).then(|| r.id.clone()),
            title: r.record.title(),
            action: Action::Create { to: target },
            writes: vec![(
                target,
                Operation::Create {
                    sync_id: sync_id.clone(),
                    record: rec,
                },
            )],
            store: Some(Mapping {
                kind: self.kind,
                sync_id,
                zoho,
                outlook,
                dormant: None,
            }),
            remove: false,
            queue: None,
            unqueue: false,
            notes,
        }
    }

    fn skip(&mut self, side: Side, r: &RemoteRecord, reason: String) {
        self.steps.push(Step {
            sync_id: r
                .sync_id
                .clone()
                .unwrap_or_else(|| SyncId::derive(self.kind, side, &r.id)),
            zoho_id: (side == Side::Zoho).then(|| r.id.clone()),
            outlook_id: (side == Side::Outlook).then(|| r.id.clone()),
            title: r.record.title(),
            action: Action::Skip { side, reason },
            writes: vec![],
            store: None,
            remove: false,
            queue: None,
            unqueue: false,
            notes: vec![],
        });
    }

    fn plan_fresh(&mut self, fresh: [Vec<&'a RemoteRecord>; 2]) {
        let [zs, os] = fresh;
        let mut zoho_done: HashSet<&str> = HashSet::new();
        let mut outlook_done: HashSet<&str> = HashSet::new();

        // 1. Twins carrying the same sync id (our own stamps, e.g. after a lost state database).
        let o_by_sync: HashMap<&SyncId, &RemoteRecord> = os
            .iter()
            .filter_map(|r| r.sync_id.as_ref().map(|s| (s, *r)))
            .collect();
        for z in &zs {
            if let Some(o) = z.sync_id.as_ref().and_then(|s| o_by_sync.get(s)) {
                if outlook_done.insert(o.id.as_str()) {
                    zoho_done.insert(z.id.as_str());
                    self.link(z, o);
                }
            }
        }

        // 2. Twins by identity, one to one; prefer a content-equal candidate; never guess.
        // (Only when both sides have unmatched records: a first sync into an empty side skips it.)
        let unmatched = |list: &[&RemoteRecord], done: &HashSet<&str>| {
            list.iter().any(|r| !done.contains(r.id.as_str()))
        };
        if unmatched(&zs, &zoho_done) && unmatched(&os, &outlook_done) {
            self.link_by_identity(&zs, &os, &mut zoho_done, &mut outlook_done);
        }

        // 3. The rest are new: create them on the other side.
        for (side, list, done) in [
            (Side::Zoho, &zs, &zoho_done),
            (Side::Outlook, &os, &outlook_done),
        ] {
            for r in list.iter().filter(|r| !done.contains(r.id.as_str())) {
                if !self.carries(side) {
                    continue;
                }
                self.creates.push(PlannedCreate {
                    source: side,
                    id: r.id.clone(),
                });
            }
        }
    }

    /// Step 2 of [`Planner::plan_fresh`]: twins by identity.
    fn link_by_identity(
        &mut self,
        zs: &[&'a RemoteRecord],
        os: &[&'a RemoteRecord],
        zoho_done: &mut HashSet<&'a str>,
        outlook_done: &mut HashSet<&'a str>,
    ) {
        let mut o_by_key: HashMap<String, Vec<&RemoteRecord>> = HashMap::new();
        for o in os.iter().filter(|o| !outlook_done.contains(o.id.as_str())) {
            for k in identity(&o.record) {
                o_by_key.entry(k).or_default().push(o);
            }
        }
        let mut z_by_key: HashMap<String, usize> = HashMap::new();
        for z in zs.iter().filter(|z| !zoho_done.contains(z.id.as_str())) {
            for k in identity(&z.record) {
                *z_by_key.entry(k).or_default() += 1;
            }
        }
        let all = FieldSet::all(self.kind)
            .intersect(self.schema(Side::Zoho).fields)
            .intersect(self.schema(Side::Outlook).fields);
        for z in zs {
            if zoho_done.contains(z.id.as_str()) {
                continue;
            }
            let keys = identity(&z.record);
            let mut cands: Vec<&RemoteRecord> = keys
                .iter()
                .filter_map(|k| o_by_key.get(k))
                .flatten()
                .copied()
                .filter(|o| !outlook_done.contains(o.id.as_str()))
                .collect();
            cands.sort_by(|a, b| a.id.cmp(&b.id));
            cands.dedup_by(|a, b| a.id == b.id);
            if cands.is_empty() {
                continue;
            }
            let zoho_rivals = keys
                .iter()
                .filter_map(|k| z_by_key.get(k))
                .max()
                .copied()
                .unwrap_or(1);
            let equal: Vec<&RemoteRecord> = cands
                .iter()
                .copied()
                .filter(|o| equal_fields(&z.record, &o.record, all, self.input.schemas) == all)
                .collect();
            let pick = if cands.len() == 1 && zoho_rivals == 1 {
                Some(cands[0])
            } else if equal.len() == 1 {
                Some(equal[0])
            } else {
                None
            };
            match pick {
                Some(o) => {
                    zoho_done.insert(z.id.as_str());
                    outlook_done.insert(o.id.as_str());
                    self.link(z, o);
                }
                None => {
                    zoho_done.insert(z.id.as_str());
                    self.skip(
                        Side::Zoho,
                        z,
                        format!(
                            "{} possible Outlook twins and none is an exact match: link or merge them by hand",
                            cands.len()
                        ),
                    );
                    for o in cands {
                        if outlook_done.insert(o.id.as_str()) {
                            self.skip(
                                Side::Outlook,
                                o,
                                "several possible Zoho twins: link or merge them by hand".into(),
                            );
                        }
                    }
                }
            }
        }
    }

    /// Links two records found on both sides. They have no common base: a field empty on one
    /// side is filled from the other; fields that differ follow the conflict rule.
    fn link(&mut self, z: &RemoteRecord, o: &RemoteRecord) {
        let kind = self.kind;
        let settings = self.input.settings;
        let both_fields = FieldSet::all(kind)
            .intersect(self.schema(Side::Zoho).fields)
            .intersect(self.schema(Side::Outlook).fields);
        let differ = both_fields.minus(equal_fields(
            &z.record,
            &o.record,
            both_fields,
            self.input.schemas,
        ));
        let mut to_zoho = FieldSet::EMPTY;
        let mut to_outlook = FieldSet::EMPTY;
        let mut conflict = FieldSet::EMPTY;
        for f in differ.iter() {
            match (field_is_empty(&z.record, f), field_is_empty(&o.record, f)) {
                (true, false) => to_zoho.insert(f),
                (false, true) => to_outlook.insert(f),
                _ => conflict.insert(f),
            }
        }
        let winner = match settings.conflict.winner {
            Winner::Zoho => Some(Side::Zoho),
            Winner::Outlook => Some(Side::Outlook),
            Winner::Newest => Some(match (z.modified_at, o.modified_at) {
                (Some(a), Some(b)) if b > a => Side::Outlook,
                (None, Some(_)) => Side::Outlook,
                _ => Side::Zoho,
            }),
            Winner::Manual => None,
        };
        let mut held = FieldSet::EMPTY;
        match winner {
            Some(Side::Zoho) => to_outlook = to_outlook.union(conflict),
            Some(Side::Outlook) => to_zoho = to_zoho.union(conflict),
            None => held = conflict,
        }
        // One-way: only the source's values are pushed; the target's are left as they are.
        if !self.carries(Side::Outlook) {
            to_zoho = FieldSet::EMPTY;
        }
        if !self.carries(Side::Zoho) {
            to_outlook = FieldSet::EMPTY;
        }
        let decision = (!conflict.is_empty()).then_some(Decision {
            fields: conflict,
            rule: settings.conflict.winner,
            winner,
        });
        let sync_id = z
            .sync_id
            .clone()
            .or_else(|| o.sync_id.clone())
            .unwrap_or_else(|| SyncId::derive(kind, Side::Zoho, &z.id));
        let zh = FieldHashes::of(&z.record);
        let oh = FieldHashes::of(&o.record);
        let mut zst = SideState {
            id: z.id.clone(),
            version: z.version.clone(),
            hashes: zh,
        };
        let mut ost = SideState {
            id: o.id.clone(),
            version: o.version.clone(),
            hashes: oh,
        };
        let mut s = Step {
            sync_id: sync_id.clone(),
            zoho_id: Some(z.id.clone()),
            outlook_id: Some(o.id.clone()),
            title: z.record.title(),
            action: Action::Link {
                to_zoho,
                to_outlook,
                conflict: decision,
            },
            writes: vec![],
            store: None,
            remove: false,
            queue: None,
            unqueue: false,
            notes: vec![],
        };
        // Stamp the sync id on both twins (so a lost state DB relinks without guessing), together
        // with any fields to write.
        for (side, st, to, src, cur) in [
            (Side::Zoho, &mut zst, to_zoho, o, z),
            (Side::Outlook, &mut ost, to_outlook, z, o),
        ] {
            let stamped = cur.sync_id.as_ref() == Some(&sync_id);
            if to.is_empty() && stamped {
                continue;
            }
            let (rec, notes) = self.project_shared(side, &src.record);
            s.notes.extend(notes);
            for f in to.iter() {
                st.hashes.set(kind, f, field_hash(&rec, f));
            }
            s.writes.push((
                side,
                Operation::Update {
                    id: cur.id.clone(),
                    if_version: Some(cur.version.clone()),
                    fields: to,
                    record: rec,
                    stamp: (!stamped).then(|| sync_id.clone()),
                },
            ));
        }
        if !held.is_empty() {
            s.queue = Some(Box::new(QueuedConflict {
                id: 0,
                kind,
                sync_id: sync_id.clone(),
                fields: held,
                zoho: (*z.record).clone(),
                outlook: (*o.record).clone(),
                queued_at: self.input.now,
                resolution: None,
            }));
            // No common base: make the held fields look changed on both sides until resolved.
            for f in held.iter() {
                zst.hashes.set(kind, f, 0);
                ost.hashes.set(kind, f, 0);
            }
        }
        s.store = Some(Mapping {
            kind,
            sync_id,
            zoho: zst,
            outlook: ost,
            dormant: None,
        });
        self.steps.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn present(id: &str, version: u8) -> Seen {
        Seen::Present(RemoteRecord {
            id: id.to_string(),
            version: format!("v{version}"),
            modified_at: None,
            sync_id: None,
            record: Arc::new(Record::empty(Kind::Contact)),
        })
    }

    /// A prepared create becomes the step `expand_create` gives, and its intent holds the
    /// source's state as that step's mapping does; the record leaves the input.
    #[test]
    fn a_prepared_create_is_the_expanded_one() {
        let settings = crate::settings::Settings::default();
        let schema = crate::field::FieldSchema::full(Kind::Contact);
        let contact = Record::Contact(crate::model::Contact {
            given_name: "Ada".into(),
            family_name: "Lovelace".into(),
            emails: vec!["ada@example.com".into()],
            ..Default::default()
        });
        let Seen::Present(mut r) = present("z-7", 3) else {
            unreachable!()
        };
        r.record = Arc::new(contact);
        let mut zoho = SeenMap::new();
        zoho.insert_record(r);
        let mut input = PlanInput {
            kind: Kind::Contact,
            settings: settings.kind(Kind::Contact),
            schemas: [&schema, &schema],
            now: chrono::DateTime::<Utc>::UNIX_EPOCH,
            mappings: vec![],
            zoho,
            outlook: SeenMap::new(),
            resolutions: vec![],
            queued: HashSet::new(),
        };
        let plan = plan(&input);
        assert_eq!(plan.creates.len(), 1);
        let expanded = expand_create(&input, &plan.creates[0]).unwrap();
        let prepared = prepare_create(&mut input, &plan.creates[0]).unwrap();
        assert!(input.zoho.is_empty(), "the record left the input");
        let intent = prepared.intent(Kind::Contact);
        let step = prepared_step(&input, prepared);
        assert_eq!(step, expanded);
        let m = step.store.as_ref().unwrap();
        assert_eq!(
            (intent.sync_id, intent.target, intent.source),
            (m.sync_id.clone(), Side::Outlook, m.zoho.clone())
        );
        assert_eq!(prepare_create(&mut input, &plan.creates[0]), None);
    }

    proptest! {
        /// A `SeenMap` answers as a map keyed by id does, whatever inserts, replacements and
        /// removals came before, and lists ids in the order they were first recorded (since
        /// their last removal).
        #[test]
        fn seen_map_behaves_as_a_map(ops in proptest::collection::vec((0u8..4, 0u8..6, 0u8..3), 0..60)) {
            let mut map = SeenMap::new();
            let mut model: std::collections::HashMap<String, Seen> = Default::default();
            let mut order: Vec<String> = vec![];
            for (op, id, v) in ops {
                let id = format!("id-{id}");
                if op < 3 && !model.contains_key(&id) {
                    order.push(id.clone());
                } else if op == 3 {
                    order.retain(|k| *k != id);
                }
                match op {
                    0 => {
                        map.insert(id.clone(), present(&id, v));
                        model.insert(id.clone(), present(&id, v));
                    }
                    1 => {
                        let s = if v == 0 { Seen::Deleted } else { Seen::OutOfScope };
                        map.insert(id.clone(), s.clone());
                        model.insert(id.clone(), s);
                    }
                    2 => {
                        let Seen::Present(r) = present(&id, v) else { unreachable!() };
                        map.insert_record(r.clone());
                        model.insert(id.clone(), Seen::Present(r));
                    }
                    _ => {
                        prop_assert_eq!(map.remove(&id), model.remove(&id));
                    }
                }
                prop_assert_eq!(map.len(), model.len());
                prop_assert_eq!(map.is_empty(), model.is_empty());
                for k in 0..6 {
                    let k = format!("id-{k}");
                    prop_assert_eq!(map.get(&k), model.get(&k));
                    prop_assert_eq!(map.contains_key(&k), model.contains_key(&k));
                }
                let keys: Vec<&str> = map.keys().collect();
                prop_assert_eq!(&keys, &order);
                let listed: Vec<(&str, &Seen)> = map.iter().collect();
                let want: Vec<(&str, &Seen)> =
                    order.iter().map(|k| (k.as_str(), &model[k])).collect();
                prop_assert_eq!(listed, want);
            }
        }
    }
}
