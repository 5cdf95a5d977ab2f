//! A full two-way sync through the core's engine: Graph emulator ↔ memory connector.

use std::sync::Arc;

use crmsync_core::memory::{fixed_now, MemoryConnector, MemoryStore};
use crmsync_core::{Connector, Contact, Engine, Kind, Record, Settings, SyncOptions};
use serde_json::json;

use crate::support::start;

#[tokio::test]
async fn contacts_converge_and_a_second_sync_writes_nothing() {
    let t = start().await;
    let folder = t.emu.default_contact_folder();
    for i in 0..3 {
        t.emu
            .insert_contact(
                &folder,
                json!({"givenName": format!("Out{i}"), "surname": "Look",
                "emailAddresses": [{"address": format!("out{i}@example.com")}]}),
            )
            .unwrap();
    }
    let zoho = Arc::new(MemoryConnector::new("zoho", 100).without_containers());
    for i in 0..4 {
        zoho.insert(
            Record::Contact(Contact {
                given_name: format!("Zo{i}"),
                family_name: "Ho".into(),
                emails: vec![format!("zo{i}@example.com")],
                ..Default::default()
            }),
            None,
        );
    }
    let engine = Engine::new(zoho.clone(), t.conn.clone(), Arc::new(MemoryStore::new()));
    let mut settings = Settings::default();
    settings.tasks.enabled = false;
    settings.events.enabled = false;
    let opts = SyncOptions::default();
    let first = engine.sync(&settings, &opts, fixed_now()).await.unwrap();
    assert_eq!(t.emu.contacts(&folder).len(), 7, "{:?}", first.report);
    assert_eq!(zoho.records(Kind::Contact).len(), 7);
    t.emu.reset_counters();
    let second = engine.sync(&settings, &opts, fixed_now()).await.unwrap();
    let c = &second.report.kinds[0].counts;
    assert_eq!(
        (
            c.created_in_outlook,
            c.created_in_zoho,
            c.updated_in_outlook,
            c.updated_in_zoho
        ),
        (0, 0, 0, 0),
        "{:?}",
        second.report
    );
    let counters = t.emu.counters();
    assert_eq!(
        counters.batch_items(),
        0,
        "no writes on the second sync: {counters:?}"
    );
}

fn counts_of(out: &crmsync_core::SyncOutcome, kind: Kind) -> crmsync_core::Counts {
    out.report
        .kinds
        .iter()
        .find(|k| k.kind == kind)
        .map(|k| k.counts.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn tasks_and_events_sync_both_ways_with_the_category_filter() {
    use chrono::{Duration, NaiveDate};
    use crmsync_core::{Event, Task};

    let t = start().await;
    let now = fixed_now();
    let cal = t.emu.default_calendar();
    let list = t.emu.default_task_list();
    let start_at = |d: i64| {
        (now + Duration::days(d))
            .format("%Y-%m-%dT10:00:00")
            .to_string()
    };
    let end_at = |d: i64| {
        (now + Duration::days(d))
            .format("%Y-%m-%dT11:00:00")
            .to_string()
    };
    let tagged = t
        .emu
        .insert_event(
            &cal,
            json!({"subject": "tagged", "categories": ["Zoho"],
            "start": {"dateTime": start_at(3), "timeZone": "China Standard Time"},
            "end": {"dateTime": end_at(3), "timeZone": "China Standard Time"}}),
        )
        .unwrap();
    t.emu
        .insert_event(
            &cal,
            json!({"subject": "untagged",
            "start": {"dateTime": start_at(4), "timeZone": "UTC"},
            "end": {"dateTime": end_at(4), "timeZone": "UTC"}}),
        )
        .unwrap();
    t.emu
        .insert_task(&list, json!({"title": "from outlook", "dueDateTime": {"dateTime": "2025-12-01T00:00:00", "timeZone": "UTC"}}))
        .unwrap();

    let zoho = Arc::new(MemoryConnector::new("zoho", 100).without_containers());
    zoho.insert(
        Record::Task(Task {
            title: "from zoho".into(),
            due: NaiveDate::from_ymd_opt(2025, 12, 2),
            ..Default::default()
        }),
        None,
    );
    zoho.insert(
        Record::Event(Event {
            title: "zoho meeting".into(),
            start: now + Duration::days(5),
            end: now + Duration::days(5) + Duration::hours(1),
            time_zone: "America/New_York".into(),
            ..Default::default()
        }),
        None,
    );
    let engine = Engine::new(zoho.clone(), t.conn.clone(), Arc::new(MemoryStore::new()));
    let mut settings = Settings::default();
    settings.contacts.enabled = false;
    let opts = SyncOptions::default();
    let first = engine.sync(&settings, &opts, now).await.unwrap();
    assert!(
        first
            .report
            .kinds
            .iter()
            .all(|k| k.errors.is_empty() && k.failure.is_none()),
        "{:?}",
        first.report
    );
    assert_eq!(zoho.records(Kind::Task).len(), 2);
    assert_eq!(t.emu.tasks(&list).len(), 2);
    let zoho_events: Vec<_> = zoho
        .records(Kind::Event)
        .into_iter()
        .map(|r| r.record.title())
        .collect();
    assert!(
        zoho_events.contains(&"tagged".to_string()),
        "{zoho_events:?}"
    );
    assert!(
        !zoho_events.contains(&"untagged".to_string()),
        "the category filter holds"
    );
    let created = t
        .emu
        .events(&cal)
        .into_iter()
        .find(|e| e["subject"] == "zoho meeting")
        .unwrap();
    assert!(created["categories"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "Zoho"));
    assert!(t
        .conn
        .categories()
        .await
        .unwrap()
        .iter()
        .any(|c| c == "Zoho"));

    t.emu.reset_counters();
    let second = engine.sync(&settings, &opts, now).await.unwrap();
    for kind in [Kind::Task, Kind::Event] {
        assert_eq!(counts_of(&second, kind).writes, 0, "{:?}", second.report);
    }
    assert_eq!(t.emu.counters().batch_items(), 0);

    // The category is removed in Outlook: the event leaves the scope; the Zoho copy stays.
    let id = tagged["@emulator.immutableId"].as_str().unwrap();
    t.emu.update_event(id, json!({"categories": []})).unwrap();
    let third = engine.sync(&settings, &opts, now).await.unwrap();
    let c = counts_of(&third, Kind::Event);
    assert_eq!(
        (c.deleted_in_zoho, c.unlinked),
        (0, 1),
        "{:?}",
        third.report
    );
    assert!(zoho
        .records(Kind::Event)
        .iter()
        .any(|r| r.record.title() == "tagged"));
}

#[tokio::test]
async fn outlook_deletes_propagate_and_moves_only_unlink() {
    let t = start().await;
    let folder = t.emu.default_contact_folder();
    let elsewhere = t.emu.create_contact_folder(None, "Elsewhere").unwrap();
    let mut ids = vec![];
    for i in 0..10 {
        let v = t
            .emu
            .insert_contact(
                &folder,
                json!({"givenName": format!("P{i}"), "surname": "Q",
                "emailAddresses": [{"address": format!("p{i}@example.com")}]}),
            )
            .unwrap();
        ids.push(v["@emulator.immutableId"].as_str().unwrap().to_string());
    }
    let zoho = Arc::new(MemoryConnector::new("zoho", 100).without_containers());
    let engine = Engine::new(zoho.clone(), t.conn.clone(), Arc::new(MemoryStore::new()));
    let mut settings = Settings::default();
    settings.tasks.enabled = false;
    settings.events.enabled = false;
    let opts = SyncOptions::default();
    engine.sync(&settings, &opts, fixed_now()).await.unwrap();
    assert_eq!(zoho.records(Kind::Contact).len(), 10);

    t.emu.delete_contact(&ids[0]).unwrap();
    t.emu.move_contact(&ids[1], &elsewhere).unwrap();
    let out = engine.sync(&settings, &opts, fixed_now()).await.unwrap();
    let c = counts_of(&out, Kind::Contact);
    assert_eq!((c.deleted_in_zoho, c.unlinked), (1, 1), "{:?}", out.report);
    let names: Vec<_> = zoho
        .records(Kind::Contact)
        .into_iter()
        .map(|r| r.record.title())
        .collect();
    assert!(!names.contains(&"P0 Q".to_string()));
    assert!(
        names.contains(&"P1 Q".to_string()),
        "a moved contact is not deleted in Zoho"
    );
}

#[tokio::test]
async fn faults_never_duplicate_and_syncs_converge() {
    use crmsync_emulator::graph::GraphFaults;

    let t = start().await;
    let folder = t.emu.default_contact_folder();
    for i in 0..15 {
        t.emu
            .insert_contact(
                &folder,
                json!({"givenName": format!("O{i}"), "surname": "F",
                "emailAddresses": [{"address": format!("o{i}@example.com")}]}),
            )
            .unwrap();
    }
    let zoho = Arc::new(MemoryConnector::new("zoho", 100).without_containers());
    for i in 0..45 {
        zoho.insert(
            Record::Contact(Contact {
                given_name: format!("Z{i}"),
                family_name: "F".into(),
                emails: vec![format!("z{i}@example.com")],
                ..Default::default()
            }),
            None,
        );
    }
    let engine = Engine::new(zoho.clone(), t.conn.clone(), Arc::new(MemoryStore::new()));
    let mut settings = Settings::default();
    settings.tasks.enabled = false;
    settings.events.enabled = false;
    let opts = SyncOptions::default();
    t.emu.set_faults(GraphFaults {
        throttle_rate: 0.15,
        unavailable_rate: 0.1,
        drop_rate: 0.15,
        delta_replay_rate: 0.3,
        retry_after_secs: 0.005,
        ..t.emu.faults()
    });
    let mut runs = 0;
    for _ in 0..8 {
        runs += 1;
        let _ = engine.sync(&settings, &opts, fixed_now()).await;
    }
    t.emu.set_faults(GraphFaults {
        retry_after_secs: 0.005,
        ..GraphFaults::default()
    });
    let settle = engine.sync(&settings, &opts, fixed_now()).await.unwrap();
    let last = engine.sync(&settings, &opts, fixed_now()).await.unwrap();
    assert_eq!(
        counts_of(&last, Kind::Contact).writes,
        0,
        "{:?} / {:?}",
        settle.report,
        last.report
    );
    assert_eq!(
        t.emu.contacts(&folder).len(),
        60,
        "no duplicates in Outlook after {runs} faulty runs"
    );
    assert_eq!(
        zoho.records(Kind::Contact).len(),
        60,
        "no duplicates in Zoho"
    );
}

#[tokio::test]
async fn faulty_runs_of_tasks_and_events_converge_without_duplicates() {
    use chrono::Duration;
    use crmsync_core::{Event, Task};
    use crmsync_emulator::graph::GraphFaults;

    let t = start().await;
    let now = fixed_now();
    let zoho = Arc::new(MemoryConnector::new("zoho", 100).without_containers());
    for i in 0..25 {
        zoho.insert(
            Record::Task(Task {
                title: format!("task {i}"),
                ..Default::default()
            }),
            None,
        );
        zoho.insert(
            Record::Event(Event {
                title: format!("event {i}"),
                start: now + Duration::days(i),
                end: now + Duration::days(i) + Duration::hours(1),
                time_zone: "Asia/Shanghai".into(),
                ..Default::default()
            }),
            None,
        );
    }
    let engine = Engine::new(zoho.clone(), t.conn.clone(), Arc::new(MemoryStore::new()));
    let mut settings = Settings::default();
    settings.contacts.enabled = false;
    let opts = SyncOptions::default();
    t.emu.set_faults(GraphFaults {
        throttle_rate: 0.1,
        unavailable_rate: 0.1,
        drop_rate: 0.15,
        delta_replay_rate: 0.3,
        retry_after_secs: 0.005,
        ..t.emu.faults()
    });
    for _ in 0..6 {
        let _ = engine.sync(&settings, &opts, now).await;
    }
    t.emu.set_faults(GraphFaults {
        retry_after_secs: 0.005,
        ..GraphFaults::default()
    });
    engine.sync(&settings, &opts, now).await.unwrap();
    let last = engine.sync(&settings, &opts, now).await.unwrap();
    for kind in [Kind::Task, Kind::Event] {
        assert_eq!(counts_of(&last, kind).writes, 0, "{:?}", last.report);
    }
    assert_eq!(t.emu.tasks(&t.emu.default_task_list()).len(), 25);
    assert_eq!(t.emu.events(&t.emu.default_calendar()).len(), 25);
    assert_eq!(zoho.records(Kind::Task).len(), 25);
    assert_eq!(zoho.records(Kind::Event).len(), 25);
}
