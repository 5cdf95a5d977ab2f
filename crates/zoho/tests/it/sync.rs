//! Listing, changes, writes and a full engine sync.

use std::sync::Arc;

use crmsync_core::memory::{fixed_now, MemoryConnector, MemoryStore};
use crmsync_core::{
    ChangeItem, Connector, Contact, Cursor, Engine, Field, FieldSet, Kind, Next, Operation,
    PageRequest, Record, RecordErrorKind, Settings, SyncId, SyncOptions, Task, Vanish,
};
use crmsync_emulator::zoho::{Faults, RecordFailure, ZohoConfig};
use crmsync_zoho::ZohoConnector;
use serde_json::json;

use crate::support::{scope, setup, setup_with};

pub async fn full_list(z: &ZohoConnector, kind: Kind) -> (Vec<ChangeItem>, Cursor) {
    let mut page = None;
    let mut items = vec![];
    loop {
        let p = z
            .list(&PageRequest {
                scope: scope(kind),
                page,
            })
            .await
            .unwrap();
        items.extend(p.items);
        match p.next {
            Next::Page(t) => page = Some(t),
            Next::Done(c) => return (items, c),
        }
    }
}

pub async fn all_changes(z: &ZohoConnector, kind: Kind, c: &Cursor) -> (Vec<ChangeItem>, Cursor) {
    let mut page = None;
    let mut items = vec![];
    loop {
        let p = z
            .changes(
                c,
                &PageRequest {
                    scope: scope(kind),
                    page,
                },
            )
            .await
            .unwrap();
        items.extend(p.items);
        match p.next {
            Next::Page(t) => page = Some(t),
            Next::Done(c) => return (items, c),
        }
    }
}

fn contact(last: &str, email: &str) -> Record {
    Record::Contact(Contact {
        family_name: last.into(),
        emails: vec![email.into()],
        ..Default::default()
    })
}

#[tokio::test]
async fn lists_past_two_thousand_records_with_page_tokens() {
    let (emu, zoho) = setup().await;
    let recs: Vec<_> = (0..2100)
        .map(|i| json!({"Last_Name": format!("P{i}")}))
        .collect();
    emu.insert_records("Contacts", &recs).unwrap();
    let (items, _) = full_list(&zoho, Kind::Contact).await;
    assert_eq!(items.len(), 2100);
    let mut ids: Vec<_> = items.iter().map(|i| i.id().to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2100);
    assert_eq!(emu.counter("GET /Contacts"), 11);
}

#[tokio::test]
async fn changes_catch_edits_during_a_sync_and_deletions() {
    let (emu, zoho) = setup().await;
    let a = emu
        .insert_record("Contacts", json!({"Last_Name": "A"}))
        .unwrap();
    let b = emu
        .insert_record("Contacts", json!({"Last_Name": "B"}))
        .unwrap();
    let (items, cursor) = full_list(&zoho, Kind::Contact).await;
    assert_eq!(items.len(), 2);
    // An edit right after the listing started is seen by the next round.
    emu.update_record("Contacts", &a, json!({"Title": "Dr"}))
        .unwrap();
    emu.delete_record("Contacts", &b, false);
    emu.advance_clock(5);
    let (items, cursor2) = all_changes(&zoho, Kind::Contact, &cursor).await;
    assert!(
        items
            .iter()
            .any(|i| matches!(i, ChangeItem::Upsert(r) if r.id == a)),
        "{items:?}"
    );
    assert!(items
        .iter()
        .any(|i| matches!(i, ChangeItem::Deleted { id } if *id == b)));
    emu.advance_clock(10);
    // Nothing changed since: the deletion and the edit, both within the watermark margin of
    // the previous round (the emulator's clock runs ahead on writes), are not reported again.
    let (items, _) = all_changes(&zoho, Kind::Contact, &cursor2).await;
    assert!(items.is_empty(), "{items:?}");
    let v = zoho
        .classify_vanished(&scope(Kind::Contact), &[a.clone(), b.clone()])
        .await
        .unwrap();
    assert_eq!(v, vec![(a, Vanish::OutOfScope), (b, Vanish::Deleted)]);
}

#[tokio::test]
async fn back_to_back_rounds_report_each_change_once() {
    let (emu, zoho) = setup().await;
    let a = emu
        .insert_record("Contacts", json!({"Last_Name": "A"}))
        .unwrap();
    let b = emu
        .insert_record("Contacts", json!({"Last_Name": "B"}))
        .unwrap();
    let (_, mut cur) = full_list(&zoho, Kind::Contact).await;
    // Rounds with no clock advance: every change sits inside the watermark margin.
    emu.update_record("Contacts", &a, json!({"Title": "Dr"}))
        .unwrap();
    emu.delete_record("Contacts", &b, true);
    let mut seen = vec![];
    for _ in 0..4 {
        let (items, next) = all_changes(&zoho, Kind::Contact, &cur).await;
        seen.extend(items);
        cur = next;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen
        .iter()
        .any(|i| matches!(i, ChangeItem::Upsert(r) if r.id == a)));
    assert!(seen
        .iter()
        .any(|i| matches!(i, ChangeItem::Deleted { id } if *id == b)));
    // A later edit of the same record is still seen.
    emu.update_record("Contacts", &a, json!({"Title": "Prof"}))
        .unwrap();
    let (items, _) = all_changes(&zoho, Kind::Contact, &cur).await;
    assert!(
        matches!(items.as_slice(), [ChangeItem::Upsert(r)] if r.id == a),
        "{items:?}"
    );
}

#[tokio::test]
async fn batch_writes_report_per_record_results_and_412() {
    let (emu, zoho) = setup().await;
    emu.set_faults(Faults {
        record_failures: vec![RecordFailure {
            field: "Last_Name".into(),
            equals: json!("Locked"),
            code: "RECORD_LOCKED".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    let ops = vec![
        Operation::Create {
            sync_id: SyncId("s1".into()),
            record: contact("Ok", "ok@example.com").into(),
        },
        Operation::Create {
            sync_id: SyncId("s2".into()),
            record: contact("Locked", "l@example.com").into(),
        },
        Operation::Create {
            sync_id: SyncId("s3".into()),
            record: Record::Contact(Contact::default()).into(),
        },
    ];
    let res = zoho.apply(&scope(Kind::Contact), ops).await.unwrap();
    assert_eq!(res.len(), 3);
    let w = res[0].as_ref().unwrap();
    assert!(!w.version.is_empty());
    assert_eq!(res[1].as_ref().unwrap_err().kind, RecordErrorKind::Rejected);
    assert_eq!(
        res[2].as_ref().unwrap_err().field.as_deref(),
        Some("Last_Name")
    );
    // A concurrent edit makes the conditional update fail with Changed.
    emu.update_record("Contacts", &w.id, json!({"Title": "Prof"}))
        .unwrap();
    let mut fields = FieldSet::EMPTY;
    fields.insert(Field::JobTitle);
    let upd = Operation::Update {
        id: w.id.clone(),
        if_version: Some(w.version.clone()),
        fields,
        record: Record::Contact(Contact {
            job_title: "CEO".into(),
            ..Default::default()
        })
        .into(),
        stamp: None,
    };
    let res = zoho.apply(&scope(Kind::Contact), vec![upd]).await.unwrap();
    assert_eq!(res[0].as_ref().unwrap_err().kind, RecordErrorKind::Changed);
}

#[tokio::test]
async fn create_is_idempotent_by_sync_id() {
    let (emu, zoho) = setup().await;
    let op = || Operation::Create {
        sync_id: SyncId("crash-1".into()),
        record: contact("漢字 😀", "x@example.com").into(),
    };
    let first = zoho.apply(&scope(Kind::Contact), vec![op()]).await.unwrap();
    let found = zoho
        .find_by_sync_id(&scope(Kind::Contact), &[SyncId("crash-1".into())])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.id, first[0].as_ref().unwrap().id);
    let Record::Contact(c) = (*found[0].1.record).clone() else {
        panic!()
    };
    assert_eq!(c.family_name, "漢字 😀");
    zoho.apply(&scope(Kind::Contact), vec![op()]).await.unwrap();
    assert_eq!(emu.records("Contacts").len(), 1);
}

#[tokio::test]
async fn retries_429_and_5xx() {
    let (emu, zoho) = setup_with(ZohoConfig::default()).await;
    emu.insert_record("Contacts", json!({"Last_Name": "A"}))
        .unwrap();
    emu.set_faults(Faults {
        rate_429: 0.3,
        rate_5xx: 0.3,
        seed: 7,
        ..Default::default()
    });
    for _ in 0..5 {
        let (items, _) = full_list(&zoho, Kind::Contact).await;
        assert_eq!(items.len(), 1);
    }
}

#[tokio::test]
async fn engine_two_way_sync_converges() {
    let (emu, zoho) = setup().await;
    emu.insert_record(
        "Contacts",
        json!({"Last_Name": "Lovelace", "First_Name": "Ada", "Email": "ada@example.com"}),
    )
    .unwrap();
    emu.insert_record(
        "Tasks",
        json!({"Subject": "Call Ada", "Priority": "High", "Due_Date": "2026-12-01"}),
    )
    .unwrap();
    let outlook = Arc::new(MemoryConnector::new("outlook", 20));
    outlook.insert(contact("Hopper", "grace@example.com"), None);
    outlook.insert(
        Record::Task(Task {
            title: "Write report".into(),
            ..Default::default()
        }),
        None,
    );
    let engine = Engine::new(
        Arc::new(zoho),
        outlook.clone(),
        Arc::new(MemoryStore::new()),
    );
    let opts = SyncOptions {
        kinds: Some(vec![Kind::Contact, Kind::Task]),
        ..Default::default()
    };
    let out = engine
        .sync(&Settings::default(), &opts, fixed_now())
        .await
        .unwrap();
    assert!(
        out.report.kinds.iter().all(|k| k.errors.is_empty()),
        "{:?}",
        out.report
    );
    assert_eq!(emu.records("Contacts").len(), 2);
    assert_eq!(emu.records("Tasks").len(), 2);
    assert_eq!(outlook.records(Kind::Contact).len(), 2);
    emu.advance_clock(10);
    let before = emu.counters();
    let out2 = engine
        .sync(&Settings::default(), &opts, fixed_now())
        .await
        .unwrap();
    for k in &out2.report.kinds {
        let c = &k.counts;
        assert_eq!(
            c.created_in_zoho + c.created_in_outlook + c.updated_in_zoho + c.updated_in_outlook,
            0,
            "{:?}",
            out2.report
        );
    }
    let after = emu.counters();
    for (k, v) in after {
        if k.starts_with("POST") || k.starts_with("PUT") || k.starts_with("DELETE") {
            assert_eq!(before.get(&k).copied().unwrap_or(0), v, "{k}");
        }
    }
}
