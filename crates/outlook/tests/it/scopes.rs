//! A chosen contact folder and a chosen non-primary calendar.

use crmsync_core::{
    ChangeItem, Connector, ConnectorErrorKind, Contact, Cursor, Event, Kind, Operation,
    PageRequest, Record, SyncId,
};

use crate::contacts::round;
use crate::support::{scope, start};

#[tokio::test]
async fn a_chosen_folder_holds_its_own_contacts() {
    let t = start().await;
    let folder = t.emu.create_contact_folder(None, "Clients").unwrap();
    let sc = scope(Kind::Contact, Some(folder.clone()));
    let rec = Record::Contact(Contact {
        given_name: "In folder".into(),
        ..Default::default()
    });
    let out = t
        .conn
        .apply(
            &sc,
            vec![Operation::Create {
                sync_id: SyncId("f1".into()),
                record: rec.into(),
            }],
        )
        .await
        .unwrap();
    assert!(out[0].is_ok());
    assert_eq!(t.emu.contacts(&folder).len(), 1);
    assert!(t.emu.contacts(&t.emu.default_contact_folder()).is_empty());
    let (items, _, _) = round(t.conn.as_ref(), &sc, None).await.unwrap();
    assert_eq!(items.len(), 1);
    let (items, _, _) = round(t.conn.as_ref(), &scope(Kind::Contact, None), None)
        .await
        .unwrap();
    assert!(
        items.is_empty(),
        "the default folder's delta does not see it"
    );
}

#[tokio::test]
async fn a_non_primary_calendar_is_listed_and_has_no_delta() {
    let t = start().await;
    let cal = t.emu.create_calendar("Work").unwrap();
    let sc = scope(Kind::Event, Some(cal.clone()));
    let start_at = "2026-06-01T08:00:00Z".parse().unwrap();
    let e = Event {
        title: "other cal".into(),
        start: start_at,
        end: start_at + chrono::Duration::hours(1),
        ..Default::default()
    };
    let out = t
        .conn
        .apply(
            &sc,
            vec![Operation::Create {
                sync_id: SyncId("c1".into()),
                record: Record::Event(e).into(),
            }],
        )
        .await
        .unwrap();
    assert!(out[0].is_ok(), "{out:?}");
    assert_eq!(t.emu.events(&cal).len(), 1);
    let (items, cursor, _) = round(t.conn.as_ref(), &sc, None).await.unwrap();
    assert_eq!(items.len(), 1);
    assert!(matches!(items[0], ChangeItem::Upsert(_)));
    let err = t
        .conn
        .changes(
            &cursor,
            &PageRequest {
                scope: sc,
                page: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::CursorExpired);
    let _ = Cursor(String::new());
}
