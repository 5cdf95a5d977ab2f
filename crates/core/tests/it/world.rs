//! A small world of two in-memory services, a store and the engine, for scenario tests.

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use crmsync_core::memory::{fixed_now, MemoryConnector, MemoryStore};
use crmsync_core::*;

pub struct World {
    pub zoho: Arc<MemoryConnector>,
    pub outlook: Arc<MemoryConnector>,
    pub store: Arc<dyn StateStore>,
    pub settings: Settings,
    pub t: i64,
}

pub fn contact(email: &str, family: &str) -> Record {
    Record::Contact(Contact {
        given_name: "Test".into(),
        family_name: family.into(),
        emails: vec![email.into()],
        ..Default::default()
    })
}

pub fn task(title: &str) -> Record {
    Record::Task(Task {
        title: title.into(),
        due: NaiveDate::from_ymd_opt(2025, 12, 1),
        ..Default::default()
    })
}

pub fn event(title: &str, categories: &[&str]) -> Record {
    let start = fixed_now() + Duration::days(2);
    Record::Event(Event {
        title: title.into(),
        start,
        end: start + Duration::hours(1),
        time_zone: "Asia/Shanghai".into(),
        categories: categories.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
}

pub fn family(r: &Record) -> String {
    match r {
        Record::Contact(c) => c.family_name.clone(),
        _ => panic!("not a contact"),
    }
}

pub fn set_family(name: &str) -> impl FnOnce(&mut Record) + '_ {
    move |r| {
        if let Record::Contact(c) = r {
            c.family_name = name.into();
        }
    }
}

pub fn set_job(name: &str) -> impl FnOnce(&mut Record) + '_ {
    move |r| {
        if let Record::Contact(c) = r {
            c.job_title = name.into();
        }
    }
}

impl World {
    pub fn new() -> Self {
        Self::with_store(Arc::new(MemoryStore::new()))
    }

    pub fn with_store(store: Arc<dyn StateStore>) -> Self {
        World {
            zoho: Arc::new(
                MemoryConnector::new("z", 100)
                    .with_page_size(7)
                    .without_containers(),
            ),
            outlook: Arc::new(MemoryConnector::new("o", 20).with_page_size(5)),
            store,
            settings: Settings::default(),
            t: 0,
        }
    }

    pub fn engine(&self) -> Engine {
        Engine::new(self.zoho.clone(), self.outlook.clone(), self.store.clone())
    }

    pub fn run(&mut self, opts: SyncOptions) -> SyncOutcome {
        self.t += 1;
        let now = fixed_now() + Duration::minutes(self.t);
        futures::executor::block_on(self.engine().sync(&self.settings, &opts, now)).expect("sync")
    }

    pub fn sync(&mut self) -> SyncReport {
        self.run(SyncOptions::default()).report
    }

    pub fn sync_kind(&mut self, kind: Kind) -> KindReport {
        let mut r = self.run(SyncOptions {
            kinds: Some(vec![kind]),
            ..Default::default()
        });
        r.report.kinds.remove(0)
    }

    pub fn only(&self, side: Side, kind: Kind) -> Record {
        let c = match side {
            Side::Zoho => &self.zoho,
            Side::Outlook => &self.outlook,
        };
        let v = c.records(kind);
        assert_eq!(v.len(), 1, "expected exactly one {kind} in {side}");
        (*v[0].record).clone()
    }

    pub fn twin_of(&self, side: Side, id: &str) -> Option<String> {
        let kind = [Kind::Contact, Kind::Task, Kind::Event]
            .into_iter()
            .find(|k| {
                !self
                    .store
                    .mappings_by_ids(*k, side, &[id.to_string()])
                    .unwrap()
                    .is_empty()
            })?;
        let m = self
            .store
            .mappings_by_ids(kind, side, &[id.to_string()])
            .unwrap()
            .remove(0);
        Some(m.side(side.other()).id.clone())
    }
}
