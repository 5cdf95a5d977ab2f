//! Model-based property tests of the engine's invariants (feature `testkit`), shared by the core
//! (over the in-memory store) and `crmsync-store` (over SQLite).
//!
//! A run is a sequence of rounds. Each round: random user operations on both sides (creates,
//! edits of the same and of different fields, deletes, moves out of the synced folder, category
//! changes of events), then a sync that may crash after k remote operations or suffer transient
//! failures and expired cursors, then a clean sync. After the clean sync the oracle's expected
//! state must hold exactly, and one more sync must perform zero writes:
//!
//! - both sides converge (every in-scope record has exactly one twin with equal content);
//! - no duplicates (each user-created record exists at most once per side);
//! - a field changed on one side only is never lost; a field changed on both follows the rule;
//! - nothing out of scope is created, changed or deleted;
//! - a delete propagates only for a record that was in sync and unchanged on the other side.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::task::{Context, Poll};

use chrono::Duration;
use proptest::prelude::*;

use crate::connector::{Operation, RecordError, RecordErrorKind};
use crate::engine::{Engine, SyncOptions};
use crate::memory::{fixed_now, MemoryConnector};
use crate::model::{Contact, Event, Kind, Record, Side};
use crate::report::SyncReport;
use crate::settings::{Settings, Winner};
use crate::store::StateStore;

/// What each side held of each logical record before a sync (record, container).
type Before = BTreeMap<u32, [Option<(Record, Option<String>)>; 2]>;

/// Records of one side by tag: (id, record, container).
type ByTag = BTreeMap<u32, Vec<(String, Record, Option<String>)>>;

/// A field the random edits touch, with a canonical reading and writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TField {
    /// Contact family name / event title.
    A,
    /// Contact job title / event location.
    B,
    /// Contact department / event notes.
    C,
}

const FIELDS: [TField; 3] = [TField::A, TField::B, TField::C];

fn get(r: &Record, f: TField) -> String {
    match (r, f) {
        (Record::Contact(c), TField::A) => c.family_name.clone(),
        (Record::Contact(c), TField::B) => c.job_title.clone(),
        (Record::Contact(c), TField::C) => c.department.clone(),
        (Record::Event(e), TField::A) => e.title.clone(),
        (Record::Event(e), TField::B) => e.location.clone(),
        (Record::Event(e), TField::C) => e.notes.clone(),
        _ => String::new(),
    }
}

fn set(r: &mut Record, f: TField, v: &str) {
    match (r, f) {
        (Record::Contact(c), TField::A) => c.family_name = v.into(),
        (Record::Contact(c), TField::B) => c.job_title = v.into(),
        (Record::Contact(c), TField::C) => c.department = v.into(),
        (Record::Event(e), TField::A) => e.title = v.into(),
        (Record::Event(e), TField::B) => e.location = v.into(),
        (Record::Event(e), TField::C) => e.notes = v.into(),
        _ => {}
    }
}

/// The tag that identifies a user-created record (its e-mail / its reminder).
fn tag(r: &Record) -> Option<u32> {
    match r {
        Record::Contact(c) => c
            .emails
            .first()?
            .strip_prefix("u")?
            .split('@')
            .next()?
            .parse()
            .ok(),
        Record::Event(e) => e.reminder_minutes,
        _ => None,
    }
}

fn new_record(kind: Kind, tag: u32, a: &str) -> Record {
    match kind {
        Kind::Contact => Record::Contact(Contact {
            family_name: a.into(),
            emails: vec![format!("u{tag}@example.org")],
            ..Default::default()
        }),
        _ => {
            let start = fixed_now() + Duration::days(1 + tag as i64);
            Record::Event(Event {
                title: a.into(),
                start,
                end: start + Duration::hours(1),
                time_zone: "Europe/Berlin".into(),
                reminder_minutes: Some(tag),
                categories: vec!["Zoho".into()],
                ..Default::default()
            })
        }
    }
}

/// A user operation.
#[derive(Debug, Clone)]
pub enum UserOp {
    /// Create a record on a side.
    Create(Side, String),
    /// Edit field `f` of the n-th live record on a side.
    Edit(Side, usize, TField, String),
    /// Delete the n-th live record on a side.
    Delete(Side, usize),
    /// The same record created on both sides before they ever synced (first-sync twins, found
    /// by identity): Zoho's and Outlook's value of field A, and Outlook's value of field B.
    CreateTwins(String, String, String),
    /// Take the n-th live Outlook record out of scope (contacts: move to another folder;
    /// events: remove the category).
    LeaveScope(usize),
}

/// How the round's first sync goes.
#[derive(Debug, Clone)]
pub enum SyncMode {
    /// Normally.
    Clean,
    /// The process dies after k remote operations.
    Crash(u64),
    /// Some writes fail transiently, some whole calls fail.
    Faulty(u8),
    /// Both sides' cursors expire first.
    ExpireCursors,
}

/// One round.
#[derive(Debug, Clone)]
pub struct Round {
    /// User operations before the sync.
    pub ops: Vec<UserOp>,
    /// The first sync's mode.
    pub mode: SyncMode,
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Zhang".to_string()),
        Just("Smith".to_string()),
        Just("王小明".to_string()),
        Just("Ærø 😀".to_string()),
        Just(String::new()),
    ]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Zoho), Just(Side::Outlook)]
}

fn field() -> impl Strategy<Value = TField> {
    prop_oneof![Just(TField::A), Just(TField::B), Just(TField::C)]
}

fn user_op() -> impl Strategy<Value = UserOp> {
    prop_oneof![
        3 => (side(), value()).prop_map(|(s, v)| UserOp::Create(s, v)),
        1 => (value(), value(), value()).prop_map(|(a, b, c)| UserOp::CreateTwins(a, b, c)),
        5 => (side(), 0..8usize, field(), value()).prop_map(|(s, i, f, v)| UserOp::Edit(s, i, f, v)),
        1 => (side(), 0..8usize).prop_map(|(s, i)| UserOp::Delete(s, i)),
        1 => (0..8usize).prop_map(UserOp::LeaveScope),
    ]
}

fn mode() -> impl Strategy<Value = SyncMode> {
    prop_oneof![
        3 => Just(SyncMode::Clean),
        3 => (0..24u64).prop_map(SyncMode::Crash),
        1 => (1..4u8).prop_map(SyncMode::Faulty),
        1 => Just(SyncMode::ExpireCursors),
    ]
}

/// Random rounds.
pub fn rounds() -> impl Strategy<Value = Vec<Round>> {
    prop::collection::vec(
        (prop::collection::vec(user_op(), 0..7), mode())
            .prop_map(|(ops, mode)| Round { ops, mode }),
        1..7,
    )
}

/// The oracle's view of one logical record.
#[derive(Debug, Clone)]
struct Logical {
    /// Ids per side (`None` = absent on that side).
    ids: [Option<String>; 2],
    /// The agreed content after the last clean sync (`None` before its first sync).
    base: Option<Record>,
    /// Detached: one side left the scope; the records are no longer linked.
    detached: bool,
    /// Created on both sides before any sync: linked without a common base.
    twins: bool,
}

/// The world of one property run.
pub struct Harness {
    kind: Kind,
    zoho: Arc<MemoryConnector>,
    outlook: Arc<MemoryConnector>,
    open_store: Box<dyn Fn() -> Arc<dyn StateStore>>,
    store: Arc<dyn StateStore>,
    settings: Settings,
    logical: BTreeMap<u32, Logical>,
    next_tag: u32,
    t: i64,
    winner: Winner,
}

fn conn_of(h: &Harness, side: Side) -> &Arc<MemoryConnector> {
    match side {
        Side::Zoho => &h.zoho,
        Side::Outlook => &h.outlook,
    }
}

/// Wakes a parked thread.
struct Unpark(std::thread::Thread);

impl std::task::Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion unless a simulated crash made it hang forever: `None` = the
/// process "died" (`crashed()` holds while the future is pending; the future is dropped, as a
/// killed process would be). The only other thing it may wait for is a store's background
/// commit, which wakes it; a future pending for a minute without a crash is a hang (`None`).
fn run_or_crash<F: Future>(fut: F, crashed: impl Fn() -> bool) -> Option<F::Output> {
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    // About a minute of 50 ms waits (counted: the core reads no clock).
    for _ in 0..1200 {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return Some(v),
            Poll::Pending if crashed() => return None,
            // Woken by the store's writer; the timeout only bounds a lost wake-up.
            Poll::Pending => std::thread::park_timeout(std::time::Duration::from_millis(50)),
        }
    }
    None
}

impl Harness {
    /// A harness for `kind` (contacts or events) over stores made by `open_store`, which is called
    /// again after each simulated crash (reopening the same database).
    pub fn new(
        kind: Kind,
        winner: Winner,
        open_store: Box<dyn Fn() -> Arc<dyn StateStore>>,
    ) -> Self {
        let switch = Arc::new(AtomicBool::new(false));
        let mut settings = Settings::default();
        settings.contacts.outlook_container = Some("synced".into());
        settings.kind_mut(kind).conflict.winner = winner;
        let store = open_store();
        Harness {
            kind,
            zoho: Arc::new(
                MemoryConnector::new("z", 3)
                    .with_page_size(2)
                    .without_containers()
                    .with_kill_switch(switch.clone()),
            ),
            outlook: Arc::new(
                MemoryConnector::new("o", 2)
                    .with_page_size(3)
                    .with_kill_switch(switch),
            ),
            open_store,
            store,
            settings,
            logical: BTreeMap::new(),
            next_tag: 0,
            t: 0,
            winner,
        }
    }

    fn container(&self, side: Side) -> Option<&'static str> {
        (side == Side::Outlook && self.kind == Kind::Contact).then_some("synced")
    }

    fn live(&self, side: Side) -> Vec<u32> {
        self.logical
            .iter()
            .filter(|(_, l)| !l.detached && l.ids[side.index()].is_some())
            .map(|(t, _)| *t)
            .collect()
    }

    fn apply_user(&mut self, op: &UserOp) {
        match op {
            UserOp::Create(side, v) => {
                self.next_tag += 1;
                let t = self.next_tag;
                let id =
                    conn_of(self, *side).insert(new_record(self.kind, t, v), self.container(*side));
                let mut ids = [None, None];
                ids[side.index()] = Some(id);
                self.logical.insert(
                    t,
                    Logical {
                        ids,
                        base: None,
                        detached: false,
                        twins: false,
                    },
                );
            }
            UserOp::CreateTwins(za, oa, ob) => {
                self.next_tag += 1;
                let t = self.next_tag;
                // Events are twins by title and start, so their titles must match (and exist:
                // an untitled event has no identity and is never linked by content).
                let za = if self.kind == Kind::Event && za.is_empty() {
                    "Meeting"
                } else {
                    za.as_str()
                };
                let oa = if self.kind == Kind::Event {
                    za
                } else {
                    oa.as_str()
                };
                let z = new_record(self.kind, t, za);
                let mut o = new_record(self.kind, t, oa);
                set(&mut o, TField::B, ob);
                let zid = self.zoho.insert(z, self.container(Side::Zoho));
                let oid = self.outlook.insert(o, self.container(Side::Outlook));
                self.logical.insert(
                    t,
                    Logical {
                        ids: [Some(zid), Some(oid)],
                        base: None,
                        detached: false,
                        twins: true,
                    },
                );
            }
            UserOp::Edit(side, n, f, v) => {
                let live = self.live(*side);
                if live.is_empty() {
                    return;
                }
                let t = live[n % live.len()];
                let l = &self.logical[&t];
                if self.kind == Kind::Event && *f == TField::A && l.twins && l.base.is_none() {
                    // Retitling an unsynced twin event changes its identity: they are no longer
                    // twins, and two records are right. The oracle does not model that.
                    return;
                }
                let id = l.ids[side.index()].clone().unwrap_or_default();
                conn_of(self, *side).update(&id, |r| set(r, *f, v));
            }
            UserOp::Delete(side, n) => {
                let live = self.live(*side);
                if live.is_empty() {
                    return;
                }
                let t = live[n % live.len()];
                let id = self.logical[&t].ids[side.index()]
                    .clone()
                    .unwrap_or_default();
                conn_of(self, *side).delete(&id);
            }
            UserOp::LeaveScope(n) => {
                // Only records that synced before: a never-synced Outlook twin leaving the scope
                // would make its Zoho twin a new record (rightly created in the synced folder).
                let live: Vec<u32> = self
                    .live(Side::Outlook)
                    .into_iter()
                    .filter(|t| self.logical[t].base.is_some())
                    .collect();
                if live.is_empty() {
                    return;
                }
                let t = live[n % live.len()];
                let id = self.logical[&t].ids[1].clone().unwrap_or_default();
                match self.kind {
                    Kind::Contact => {
                        self.outlook.move_to(&id, Some("elsewhere"));
                    }
                    _ => {
                        self.outlook.update(&id, |r| {
                            if let Record::Event(e) = r {
                                e.categories.clear();
                            }
                        });
                    }
                }
            }
        }
    }

    fn sync(&mut self) -> Option<SyncReport> {
        self.t += 1;
        let now = fixed_now() + Duration::minutes(self.t);
        let engine = Engine::new(self.zoho.clone(), self.outlook.clone(), self.store.clone());
        let opts = SyncOptions {
            kinds: Some(vec![self.kind]),
            ..Default::default()
        };
        let zoho = self.zoho.clone();
        let out = run_or_crash(engine.sync(&self.settings, &opts, now), || zoho.crashed());
        out.map(|r| {
            r.expect("a sync over in-memory services does not fail")
                .report
        })
    }

    fn record(&self, side: Side, id: &Option<String>) -> Option<(Record, Option<String>)> {
        let r = conn_of(self, side).get(id.as_deref()?)?;
        Some(((*r.record).clone(), r.container))
    }

    fn in_scope(&self, side: Side, r: &Record, container: &Option<String>) -> bool {
        match (side, r) {
            (Side::Outlook, Record::Event(e)) => e.categories.iter().any(|c| c == "Zoho"),
            (Side::Outlook, _) => container.as_deref() == Some("synced"),
            _ => true,
        }
    }

    /// Runs one round and checks the oracle. Returns an error message on a violation.
    pub fn round(&mut self, round: &Round) -> Result<(), String> {
        // What each side holds before the sync (the user's edits of this round).
        for op in &round.ops {
            self.apply_user(op);
        }
        let before: Before = self
            .logical
            .iter()
            .map(|(t, l)| {
                (
                    *t,
                    [
                        self.record(Side::Zoho, &l.ids[0]),
                        self.record(Side::Outlook, &l.ids[1]),
                    ],
                )
            })
            .collect();

        match &round.mode {
            SyncMode::Clean => {}
            SyncMode::Crash(k) => {
                // Even k: the process dies during a Zoho write, odd k: during an Outlook write.
                let victim = if k % 2 == 0 {
                    &self.zoho
                } else {
                    &self.outlook
                };
                victim.crash_after(Some(k / 2));
                let r = self.sync();
                self.zoho.crash_after(None);
                self.outlook.crash_after(None);
                if r.is_none() {
                    // The process died: reopen the state as a restarted process would.
                    self.store = (self.open_store)();
                }
            }
            SyncMode::Faulty(n) => {
                let n = *n;
                let rule: crate::memory::FailRule = Arc::new(move |op: &Operation| {
                    let key = match op {
                        Operation::Create { sync_id, .. } => sync_id.0.clone(),
                        Operation::Update { id, .. } | Operation::Delete { id, .. } => id.clone(),
                    };
                    (key.bytes().map(|b| b as u32).sum::<u32>() % (n as u32 + 1) == 0)
                        .then(|| RecordError::new(RecordErrorKind::Transient, "injected"))
                });
                self.zoho.set_fail_rule(Some(rule.clone()));
                self.outlook.set_fail_rule(Some(rule));
                self.outlook.fail_next_calls(n as u32 % 2);
                self.sync();
                self.zoho.set_fail_rule(None);
                self.outlook.set_fail_rule(None);
                self.outlook.fail_next_calls(0);
            }
            SyncMode::ExpireCursors => {
                self.zoho.expire_cursors();
                self.outlook.expire_cursors();
            }
        }
        let report = self.sync().ok_or("a clean sync hung")?;
        if !report.completed() || report.errors() > 0 {
            return Err(format!("the clean sync did not complete: {report:#?}"));
        }
        self.check(&before)?;
        let again = self.sync().ok_or("a clean sync hung")?;
        if again.writes() != 0 {
            return Err(format!(
                "a second sync wrote {} times: {again:#?}",
                again.writes()
            ));
        }
        Ok(())
    }

    /// Checks the state after a clean sync against what the user did since the last one.
    fn check(&mut self, before: &Before) -> Result<(), String> {
        let kind = self.kind;
        // Find each logical record's twin through the tag.
        let mut by_tag: [ByTag; 2] = [BTreeMap::new(), BTreeMap::new()];
        for side in Side::BOTH {
            for r in conn_of(self, side).records(kind) {
                if let Some(t) = tag(&r.record) {
                    by_tag[side.index()].entry(t).or_default().push((
                        r.id,
                        (*r.record).clone(),
                        r.container,
                    ));
                }
            }
        }
        // No duplicates.
        for side in Side::BOTH {
            for (t, v) in &by_tag[side.index()] {
                if v.len() > 1 {
                    return Err(format!("record u{t} exists {} times in {side}", v.len()));
                }
            }
        }
        let tags: Vec<u32> = self.logical.keys().copied().collect();
        for t in tags {
            let l = self.logical[&t].clone();
            let [zb, ob] = before[&t].clone();
            let now_z = by_tag[0].get(&t).and_then(|v| v.first()).cloned();
            let now_o = by_tag[1].get(&t).and_then(|v| v.first()).cloned();
            if l.detached {
                // Out of scope: the engine must leave both records exactly as the user left them.
                let z_same = zb.as_ref().map(|x| &x.0) == now_z.as_ref().map(|x| &x.1);
                let o_same = ob.as_ref().map(|x| &x.0) == now_o.as_ref().map(|x| &x.1);
                if !z_same || !o_same {
                    return Err(format!("detached record u{t} was touched"));
                }
                continue;
            }
            let o_in = ob.as_ref().map(|(r, c)| self.in_scope(Side::Outlook, r, c));
            #[allow(clippy::needless_late_init)] // Assigned in every arm of a long match.
            let expected: Option<Record>;
            match (&zb, &ob, &l.base) {
                // Left the scope on Outlook: unlinked; nothing is propagated or deleted.
                (_, Some(_), _) if o_in == Some(false) => {
                    let z_same = zb.as_ref().map(|x| &x.0) == now_z.as_ref().map(|x| &x.1);
                    let o_same = ob.as_ref().map(|x| &x.0) == now_o.as_ref().map(|x| &x.1);
                    if !z_same || !o_same {
                        return Err(format!("record u{t} that left the scope was touched"));
                    }
                    let lg = self.logical.get_mut(&t).ok_or("lost")?;
                    lg.detached = true;
                    lg.ids = [now_z.map(|x| x.0), now_o.map(|x| x.0)];
                    continue;
                }
                (None, None, _) => expected = None,
                // New this round on one side.
                (Some((r, _)), None, None) | (None, Some((r, _)), None) => {
                    expected = Some(r.clone())
                }
                // Deleted on one side: gone unless edited on the other (the edit wins).
                (None, Some((r, _)), Some(base)) | (Some((r, _)), None, Some(base)) => {
                    let edited = FIELDS.iter().any(|f| get(r, *f) != get(base, *f));
                    expected = edited.then(|| r.clone());
                }
                // First-sync twins: empty fields filled from the other side, others by the rule.
                (Some((zr, _)), Some((or, _)), None) if l.twins => {
                    let mut e = zr.clone();
                    for f in FIELDS {
                        let (zv, ov) = (get(zr, f), get(or, f));
                        let v = if zv.is_empty() {
                            ov
                        } else if ov.is_empty() || self.winner != Winner::Outlook {
                            zv
                        } else {
                            ov
                        };
                        set(&mut e, f, &v);
                    }
                    expected = Some(e);
                }
                (Some((zr, _)), Some((or, _)), base) => {
                    let base = base.clone().unwrap_or_else(|| zr.clone());
                    let mut e = base.clone();
                    for f in FIELDS {
                        let (zv, ov, bv) = (get(zr, f), get(or, f), get(&base, f));
                        let v = match (zv != bv, ov != bv) {
                            (true, true) => match self.winner {
                                Winner::Outlook => ov,
                                _ => zv,
                            },
                            (true, false) => zv,
                            (false, true) => ov,
                            (false, false) => bv,
                        };
                        set(&mut e, f, &v);
                    }
                    expected = Some(e);
                }
            }
            match expected {
                None => {
                    if now_z.is_some() || now_o.is_some() {
                        return Err(format!(
                            "record u{t} should be gone: zoho {:?}, outlook {:?}",
                            now_z.map(|x| x.1),
                            now_o.map(|x| x.1)
                        ));
                    }
                    self.logical.remove(&t);
                }
                Some(e) => {
                    let (Some(z), Some(o)) = (now_z, now_o) else {
                        return Err(format!("record u{t} should exist on both sides"));
                    };
                    for f in FIELDS {
                        if get(&z.1, f) != get(&e, f) || get(&o.1, f) != get(&e, f) {
                            return Err(format!(
                                "record u{t} field {f:?}: expected {:?}, zoho {:?}, outlook {:?}",
                                get(&e, f),
                                get(&z.1, f),
                                get(&o.1, f)
                            ));
                        }
                    }
                    if !self.in_scope(Side::Outlook, &o.1, &o.2) {
                        return Err(format!("record u{t} was created out of scope in Outlook"));
                    }
                    let lg = self.logical.get_mut(&t).ok_or("lost")?;
                    lg.ids = [Some(z.0), Some(o.0)];
                    lg.base = Some(z.1);
                }
            }
        }
        // Nothing outside the model appeared (a record created out of nowhere is a duplicate).
        let known: HashSet<u32> = self.logical.keys().copied().collect();
        for side in Side::BOTH {
            for t in by_tag[side.index()].keys() {
                if !known.contains(t) && !before.contains_key(t) {
                    return Err(format!("unexpected record u{t} in {side}"));
                }
            }
        }
        Ok(())
    }
}

/// Runs the property for a kind and a rule, over stores made by `open_store`.
pub fn check_rounds(
    kind: Kind,
    winner: Winner,
    rounds: &[Round],
    open_store: Box<dyn Fn() -> Arc<dyn StateStore>>,
) -> Result<(), String> {
    let mut h = Harness::new(kind, winner, open_store);
    for (i, r) in rounds.iter().enumerate() {
        h.round(r).map_err(|e| format!("round {i}: {e}"))?;
    }
    Ok(())
}

/// The proptest configuration: `PROPTEST_CASES` (default 48) cases.
pub fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
