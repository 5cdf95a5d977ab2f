//! Contacts: default folder discovery, delta paging, removals, 410, $batch writes, 412.

use crmsync_core::{
    ChangeItem, Connector, ConnectorErrorKind, Contact, Cursor, FieldSet, Kind, Next, Operation,
    PageRequest, Record, RecordErrorKind, Scope, SyncId, Vanish,
};
use crmsync_emulator::graph::{GraphConfig, GraphFaults};
use crmsync_outlook::OutlookOptions;
use serde_json::json;

use crate::support::{scope, start, start_with};

/// Reads a whole round; returns the items and the cursor.
pub async fn round(
    conn: &dyn Connector,
    scope: &Scope,
    cursor: Option<&Cursor>,
) -> Result<(Vec<ChangeItem>, Cursor, usize), crmsync_core::ConnectorError> {
    let mut items = Vec::new();
    let mut page = None;
    let mut pages = 0;
    loop {
        let req = PageRequest {
            scope: scope.clone(),
            page: page.clone(),
        };
        let p = match cursor {
            Some(c) => conn.changes(c, &req).await?,
            None => conn.list(&req).await?,
        };
        pages += 1;
        items.extend(p.items);
        match p.next {
            Next::Page(t) => page = Some(t),
            Next::Done(c) => return Ok((items, c, pages)),
        }
    }
}

fn contact(given: &str) -> Record {
    Record::Contact(Contact {
        given_name: given.into(),
        family_name: "Tester".into(),
        emails: vec![format!("{given}@example.com").to_lowercase()],
        ..Default::default()
    })
}

#[tokio::test]
async fn default_folder_is_discovered_and_nested_folders_have_paths() {
    let t = start().await;
    let clients = t.emu.create_contact_folder(None, "Clients").unwrap();
    t.emu.create_contact_folder(Some(&clients), "VIP").unwrap();
    let folders = t.conn.containers(Kind::Contact).await.unwrap();
    let default = folders.iter().find(|f| f.is_default).unwrap();
    assert_eq!(default.id, t.emu.default_contact_folder());
    let names: Vec<_> = folders.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"Contacts/Clients/VIP"), "{names:?}");
    let lists = t.conn.containers(Kind::Task).await.unwrap();
    assert_eq!(lists.iter().filter(|l| l.is_default).count(), 1);
    assert_eq!(
        lists.iter().find(|l| l.is_default).unwrap().id,
        t.emu.default_task_list()
    );
    let cals = t.conn.containers(Kind::Event).await.unwrap();
    assert_eq!(
        cals.iter().find(|c| c.is_default).unwrap().id,
        t.emu.default_calendar()
    );
}

#[tokio::test]
async fn delta_follows_next_links_and_reports_removed_items() {
    let t = start_with(
        GraphConfig::default(),
        OutlookOptions {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    let folder = t.emu.default_contact_folder();
    let other = t.emu.create_contact_folder(None, "Elsewhere").unwrap();
    let mut ids = vec![];
    for i in 0..5 {
        let v = t
            .emu
            .insert_contact(&folder, json!({"givenName": format!("P{i}")}))
            .unwrap();
        ids.push(v["@emulator.immutableId"].as_str().unwrap().to_string());
    }
    let sc = scope(Kind::Contact, None);
    let (items, cursor, pages) = round(t.conn.as_ref(), &sc, None).await.unwrap();
    assert!(pages >= 3, "pages of 2: {pages}");
    let upserts: std::collections::BTreeSet<_> = items.iter().map(|i| i.id().to_string()).collect();
    assert_eq!(upserts.len(), 5);
    assert!(
        cursor.0.starts_with("http"),
        "the cursor is the whole deltaLink"
    );

    t.emu.delete_contact(&ids[0]).unwrap();
    t.emu
        .update_contact(&ids[1], json!({"jobTitle": "CEO"}))
        .unwrap();
    t.emu.move_contact(&ids[2], &other).unwrap();
    let (items, _, _) = round(t.conn.as_ref(), &sc, Some(&cursor)).await.unwrap();
    let vanished: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            ChangeItem::Vanished { id } => Some(id.clone()),
            _ => None,
        })
        .collect();
    assert!(
        vanished.contains(&ids[0]) && vanished.contains(&ids[2]),
        "{items:?}"
    );
    let updated = items.iter().find_map(|i| match i {
        ChangeItem::Upsert(r) if r.id == ids[1] => Some(r.clone()),
        _ => None,
    });
    match (*updated.unwrap().record).clone() {
        Record::Contact(c) => assert_eq!(c.job_title, "CEO"),
        _ => panic!("not a contact"),
    }
    let classified = t
        .conn
        .classify_vanished(&sc, &[ids[0].clone(), ids[2].clone()])
        .await
        .unwrap();
    assert_eq!(classified[0].1, Vanish::Deleted);
    assert_eq!(
        classified[1].1,
        Vanish::OutOfScope,
        "moved = out of scope, immutable id kept"
    );
    // fetch: deleted and moved-away contacts.
    let fetched = t
        .conn
        .fetch(&sc, &[ids[0].clone(), ids[2].clone(), ids[3].clone()])
        .await
        .unwrap();
    assert!(matches!(fetched[0], ChangeItem::Deleted { .. }));
    assert!(matches!(fetched[1], ChangeItem::Vanished { .. }));
    assert!(matches!(fetched[2], ChangeItem::Upsert(_)));
}

#[tokio::test]
async fn expired_delta_mid_traversal_is_cursor_expired() {
    let t = start_with(
        GraphConfig::default(),
        OutlookOptions {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    let folder = t.emu.default_contact_folder();
    for i in 0..6 {
        t.emu
            .insert_contact(&folder, json!({"givenName": format!("P{i}")}))
            .unwrap();
    }
    let sc = scope(Kind::Contact, None);
    let first = t
        .conn
        .list(&PageRequest {
            scope: sc.clone(),
            page: None,
        })
        .await
        .unwrap();
    let Next::Page(next) = first.next else {
        panic!("expected more pages")
    };
    t.emu.expire_delta_tokens();
    let err = t
        .conn
        .list(&PageRequest {
            scope: sc.clone(),
            page: Some(next),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::CursorExpired);
    // A stored cursor that expired as well.
    let (_, cursor, _) = round(t.conn.as_ref(), &sc, None).await.unwrap();
    t.emu.expire_delta_tokens();
    let err = round(t.conn.as_ref(), &sc, Some(&cursor))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::CursorExpired);
}

#[tokio::test]
async fn batch_writes_with_throttled_items_stale_versions_and_sync_ids() {
    let t = start().await;
    let sc = scope(Kind::Contact, None);
    t.emu.set_faults(GraphFaults {
        throttle_rate: 0.3,
        retry_after_secs: 0.01,
        ..t.emu.faults()
    });
    let ops: Vec<_> = (0..25)
        .map(|i| Operation::Create {
            sync_id: SyncId(format!("sid-{i}")),
            record: contact(&format!("N{i}")).into(),
        })
        .collect();
    let mut results = vec![];
    for chunk in ops.chunks(20) {
        results.extend(t.conn.apply(&sc, chunk.to_vec()).await.unwrap());
    }
    t.emu.set_faults(GraphFaults {
        throttle_rate: 0.0,
        retry_after_secs: 0.01,
        ..t.emu.faults()
    });
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(t.emu.contacts(&t.emu.default_contact_folder()).len(), 25);
    let w0 = results[0].as_ref().unwrap().clone();
    assert!(w0.stored.is_some());
    assert!(!w0.version.is_empty());

    // The sync id is findable.
    let found = t
        .conn
        .find_by_sync_id(&sc, &[SyncId("sid-3".into()), SyncId("nope".into())])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.id, results[3].as_ref().unwrap().id);
    assert_eq!(found[0].1.sync_id, Some(SyncId("sid-3".into())));

    // A concurrent edit makes our version stale: 412 → Changed; a fresh one succeeds.
    t.emu
        .update_contact(&w0.id, json!({"jobTitle": "edited in Outlook"}))
        .unwrap();
    let mut fields = FieldSet::EMPTY;
    fields.insert(crmsync_core::Field::JobTitle);
    let mut rec = contact("N0");
    if let Record::Contact(c) = &mut rec {
        c.job_title = "from Zoho".into();
    }
    let out = t
        .conn
        .apply(
            &sc,
            vec![
                Operation::Update {
                    id: w0.id.clone(),
                    if_version: Some(w0.version.clone()),
                    fields,
                    record: rec.clone().into(),
                    stamp: None,
                },
                Operation::Delete {
                    id: results[1].as_ref().unwrap().id.clone(),
                    if_version: None,
                },
                Operation::Delete {
                    id: "AAMkAGone=".into(),
                    if_version: None,
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap_err().kind, RecordErrorKind::Changed);
    assert!(out[1].is_ok());
    let fresh = t
        .conn
        .fetch(&sc, std::slice::from_ref(&w0.id))
        .await
        .unwrap();
    let ChangeItem::Upsert(fresh) = &fresh[0] else {
        panic!("expected the record")
    };
    let out = t
        .conn
        .apply(
            &sc,
            vec![Operation::Update {
                id: w0.id.clone(),
                if_version: Some(fresh.version.clone()),
                fields,
                record: rec.into(),
                stamp: None,
            }],
        )
        .await
        .unwrap();
    let Some(Record::Contact(c)) = out[0].as_ref().unwrap().stored.as_deref().cloned() else {
        panic!()
    };
    assert_eq!(c.job_title, "from Zoho");
    assert_eq!(c.given_name, "N0", "fields outside the set are untouched");
}

#[tokio::test]
async fn extra_emails_and_phones_never_fail_a_request() {
    let t = start().await;
    let sc = scope(Kind::Contact, None);
    let caps = t.conn.capabilities();
    let rec = Record::Contact(Contact {
        given_name: "王小明 😀".into(),
        emails: (0..5).map(|i| format!("a{i}@example.com")).collect(),
        phones: (0..4)
            .map(|i| crmsync_core::Phone {
                kind: crmsync_core::PhoneKind::Business,
                number: format!("+1 555 000{i}"),
            })
            .collect(),
        ..Default::default()
    });
    let (projected, notes) = caps.schema(Kind::Contact).project(&rec);
    assert!(!notes.is_empty());
    let out = t
        .conn
        .apply(
            &sc,
            vec![Operation::Create {
                sync_id: SyncId("x".into()),
                record: projected.clone().into(),
            }],
        )
        .await
        .unwrap();
    let stored = out[0].as_ref().unwrap().stored.as_deref().cloned().unwrap();
    assert_eq!(stored, projected, "CJK and emoji survive, limits hold");
}
