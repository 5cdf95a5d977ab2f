//! Creates are journalled durably before they are sent, also when the store commits in the
//! background and takes its time.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crmsync_core::memory::{fixed_now, MemoryConnector, MemoryStore};
use crmsync_core::report::SyncReport;
use crmsync_core::*;
use futures::channel::oneshot;

type Job = (Commit, oneshot::Sender<Result<(), StoreError>>);

/// Background commits wait in a queue that a thread of its own applies slowly, one by one.
struct Slow {
    store: MemoryStore,
    queue: Mutex<VecDeque<Job>>,
    changed: Condvar,
    /// Sync ids whose intent is durable (its commit was applied).
    journalled: Mutex<HashSet<SyncId>>,
    /// Background commits started / applied.
    started: AtomicUsize,
    applied: AtomicUsize,
    stop: AtomicBool,
}

impl Slow {
    fn apply(&self, c: &Commit) -> Result<(), StoreError> {
        self.store.commit(c)?;
        let mut j = self.journalled.lock().unwrap();
        j.extend(c.journal.iter().map(|i| i.sync_id.clone()));
        Ok(())
    }

    fn pump(&self) {
        loop {
            let job = {
                let mut q = self.queue.lock().unwrap();
                loop {
                    if self.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Some(job) = q.front() {
                        break job.0.clone();
                    }
                    q = self.changed.wait(q).unwrap();
                }
            };
            // The disk is slow: the engine must not run ahead of it.
            std::thread::sleep(std::time::Duration::from_millis(10));
            let r = self.apply(&job);
            let (_, done) = self.queue.lock().unwrap().pop_front().unwrap();
            self.applied.fetch_add(1, Ordering::SeqCst);
            self.changed.notify_all();
            let _ = done.send(r);
        }
    }

    /// Waits until every background commit started so far is applied (what every call but
    /// `commit_in_background` does first, as the trait requires).
    fn drain(&self) {
        let mut q = self.queue.lock().unwrap();
        while !q.is_empty() {
            q = self.changed.wait(q).unwrap();
        }
    }
}

struct SlowStore(Arc<Slow>);

impl SlowStore {
    fn new() -> Self {
        let slow = Arc::new(Slow {
            store: MemoryStore::new(),
            queue: Mutex::new(VecDeque::new()),
            changed: Condvar::new(),
            journalled: Mutex::new(HashSet::new()),
            started: AtomicUsize::new(0),
            applied: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let pump = slow.clone();
        std::thread::spawn(move || pump.pump());
        SlowStore(slow)
    }
}

impl Drop for SlowStore {
    fn drop(&mut self) {
        self.0.drain();
        self.0.stop.store(true, Ordering::SeqCst);
        self.0.changed.notify_all();
    }
}

impl StateStore for SlowStore {
    fn mappings(&self, kind: Kind) -> Result<Vec<Mapping>, StoreError> {
        self.0.drain();
        self.0.store.mappings(kind)
    }
    fn mappings_by_ids(
        &self,
        kind: Kind,
        side: Side,
        ids: &[String],
    ) -> Result<Vec<Mapping>, StoreError> {
        self.0.drain();
        self.0.store.mappings_by_ids(kind, side, ids)
    }
    fn mappings_by_sync_ids(&self, kind: Kind, ids: &[SyncId]) -> Result<Vec<Mapping>, StoreError> {
        self.0.drain();
        self.0.store.mappings_by_sync_ids(kind, ids)
    }
    fn mapping_count(&self, kind: Kind) -> Result<usize, StoreError> {
        self.0.drain();
        self.0.store.mapping_count(kind)
    }
    fn cursor(
        &self,
        kind: Kind,
        side: Side,
        fingerprint: &str,
    ) -> Result<Option<Cursor>, StoreError> {
        self.0.drain();
        self.0.store.cursor(kind, side, fingerprint)
    }
    fn intents(&self, kind: Kind) -> Result<Vec<Intent>, StoreError> {
        self.0.drain();
        self.0.store.intents(kind)
    }
    fn journal(&self, intents: &[Intent]) -> Result<(), StoreError> {
        self.commit(&Commit {
            journal: intents.to_vec(),
            ..Default::default()
        })
    }
    fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.0.drain();
        self.0.apply(commit)
    }
    fn commit_in_background(&self, commit: Commit) -> CommitTicket {
        let (done, ticket) = oneshot::channel();
        self.0.started.fetch_add(1, Ordering::SeqCst);
        self.0.queue.lock().unwrap().push_back((commit, done));
        self.0.changed.notify_all();
        Box::pin(async move { ticket.await.unwrap() })
    }
    fn deferred(&self, kind: Kind) -> Result<Vec<Deferred>, StoreError> {
        self.0.drain();
        self.0.store.deferred(kind)
    }
    fn conflicts(&self, kind: Option<Kind>) -> Result<Vec<QueuedConflict>, StoreError> {
        self.0.drain();
        self.0.store.conflicts(kind)
    }
    fn resolve_conflict(&self, id: i64, winner: Side) -> Result<(), StoreError> {
        self.0.drain();
        self.0.store.resolve_conflict(id, winner)
    }
    fn record_run(&self, report: &SyncReport) -> Result<(), StoreError> {
        self.0.drain();
        self.0.store.record_run(report)
    }
    fn history(&self, limit: usize) -> Result<Vec<SyncReport>, StoreError> {
        self.0.drain();
        self.0.store.history(limit)
    }
}

#[test]
fn no_create_is_sent_before_its_intent_is_durable_with_a_slow_background_store() {
    let n = 1_000;
    let zoho = Arc::new(MemoryConnector::new("z", 10).without_containers());
    for i in 0..n {
        zoho.insert(
            Record::Contact(Contact {
                given_name: "Person".into(),
                family_name: format!("Number {i}"),
                emails: vec![format!("p{i}@example.com")],
                ..Default::default()
            }),
            None,
        );
    }
    let outlook = Arc::new(MemoryConnector::new("o", 10));
    let store = Arc::new(SlowStore::new());
    let slow = store.0.clone();
    // Checked by the service at every write: is this create's intent durable yet? And did the
    // engine go on sending while commits were still queued (the overlap the design is for)?
    let early = Arc::new(AtomicUsize::new(0));
    let overlapped = Arc::new(AtomicUsize::new(0));
    {
        let (slow, early, overlapped) = (slow.clone(), early.clone(), overlapped.clone());
        outlook.set_fail_rule(Some(Arc::new(move |op: &Operation| {
            if let Operation::Create { sync_id, .. } = op {
                if !slow.journalled.lock().unwrap().contains(sync_id) {
                    early.fetch_add(1, Ordering::SeqCst);
                }
                if !slow.queue.lock().unwrap().is_empty() {
                    overlapped.fetch_add(1, Ordering::SeqCst);
                }
            }
            None
        })));
    }
    let mut settings = Settings::default();
    settings.tasks.enabled = false;
    settings.events.enabled = false;
    let engine = Engine::new(zoho.clone(), outlook.clone(), store.clone());
    let out =
        futures::executor::block_on(engine.sync(&settings, &SyncOptions::default(), fixed_now()))
            .unwrap();
    assert!(out.report.completed(), "{:?}", out.report);
    assert_eq!(out.report.errors(), 0);
    assert_eq!(outlook.records(Kind::Contact).len(), n);
    assert_eq!(
        early.load(Ordering::SeqCst),
        0,
        "creates were sent before their intent was durable"
    );
    assert!(
        overlapped.load(Ordering::SeqCst) > 0,
        "no batch was sent while a commit was still being written"
    );
    // Every commit the engine started in the background was applied before it returned, and
    // every intent is settled.
    assert_eq!(
        slow.started.load(Ordering::SeqCst),
        slow.applied.load(Ordering::SeqCst)
    );
    assert!(slow.started.load(Ordering::SeqCst) > 2);
    assert!(store.intents(Kind::Contact).unwrap().is_empty());
    assert_eq!(store.mapping_count(Kind::Contact).unwrap(), n);
    // The next sync writes nothing.
    let again = futures::executor::block_on(engine.sync(
        &settings,
        &SyncOptions::default(),
        fixed_now() + chrono::Duration::minutes(1),
    ))
    .unwrap();
    assert_eq!(again.report.writes(), 0);
}

/// Batches that are in flight together when nothing is left to send commit their results
/// together: one background commit for the last batches of a run, not one per batch.
#[test]
fn the_last_batches_of_a_run_commit_their_results_together() {
    let zoho = Arc::new(MemoryConnector::new("z", 10).without_containers());
    let ids: Vec<String> = (0..20)
        .map(|i| {
            zoho.insert(
                Record::Contact(Contact {
                    given_name: "Person".into(),
                    family_name: format!("Number {i}"),
                    ..Default::default()
                }),
                None,
            )
        })
        .collect();
    let outlook = Arc::new(MemoryConnector::new("o", 10));
    let store = Arc::new(SlowStore::new());
    let slow = store.0.clone();
    let mut settings = Settings::default();
    settings.tasks.enabled = false;
    settings.events.enabled = false;
    let engine = Engine::new(zoho.clone(), outlook.clone(), store.clone());
    let sync = |minutes: i64| {
        futures::executor::block_on(engine.sync(
            &settings,
            &SyncOptions::default(),
            fixed_now() + chrono::Duration::minutes(minutes),
        ))
        .unwrap()
    };
    assert!(sync(0).report.completed());
    // One batch of updates for each side (5 edits each, batches of 10), sent together.
    for id in &ids[..5] {
        zoho.update(id, |r| {
            if let Record::Contact(c) = r {
                c.job_title = "Edited in Zoho".into();
            }
        });
    }
    for m in outlook.records(Kind::Contact).iter().skip(10).take(5) {
        outlook.update(&m.id, |r| {
            if let Record::Contact(c) = r {
                c.job_title = "Edited in Outlook".into();
            }
        });
    }
    let before = slow.started.load(Ordering::SeqCst);
    let out = sync(1);
    assert!(out.report.completed(), "{:?}", out.report);
    assert_eq!(out.report.writes(), 10);
    assert_eq!(
        slow.started.load(Ordering::SeqCst) - before,
        1,
        "the two batches' results were committed apart"
    );
    // They were committed: the next sync writes nothing.
    assert_eq!(sync(2).report.writes(), 0);
}
