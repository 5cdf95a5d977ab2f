//! Transport: 429/503/504 with fractional Retry-After, bounded attempts, typed errors.

use crmsync_core::{
    Connector, ConnectorErrorKind, Event, Kind, Operation, Record, RecordErrorKind, SyncId,
};
use crmsync_emulator::graph::GraphFaults;

use crate::support::{scope, start};

#[tokio::test]
async fn throttled_and_unavailable_requests_are_retried() {
    let t = start().await;
    t.emu.set_faults(GraphFaults {
        throttle_rate: 0.3,
        unavailable_rate: 0.2,
        retry_after_secs: 0.015,
        ..t.emu.faults()
    });
    for _ in 0..10 {
        t.conn.containers(Kind::Task).await.unwrap();
    }
    let c = t.emu.counters();
    assert!(
        c.get("throttled: TooManyRequests") > 0,
        "the faults fired: {c:?}"
    );
}

#[tokio::test]
async fn retries_are_bounded_and_end_in_a_typed_error() {
    let t = start().await;
    t.emu.set_faults(GraphFaults {
        throttle_rate: 1.0,
        retry_after_secs: 0.001,
        ..t.emu.faults()
    });
    let err = t.conn.containers(Kind::Task).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Throttled);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn stale_event_versions_get_412_and_events_are_found_by_sync_id() {
    let t = start().await;
    let sc = scope(Kind::Event, None);
    let at = "2026-04-01T09:00:00Z".parse().unwrap();
    let e = Event {
        title: "e".into(),
        start: at,
        end: at + chrono::Duration::hours(1),
        ..Default::default()
    };
    let out = t
        .conn
        .apply(
            &sc,
            vec![Operation::Create {
                sync_id: SyncId("ev-1".into()),
                record: Record::Event(e.clone()).into(),
            }],
        )
        .await
        .unwrap();
    let w = out[0].as_ref().unwrap().clone();
    let found = t
        .conn
        .find_by_sync_id(&sc, &[SyncId("ev-1".into())])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.id, w.id);
    t.emu
        .update_event(&w.id, serde_json::json!({"subject": "edited"}))
        .unwrap();
    let mut fields = crmsync_core::FieldSet::EMPTY;
    fields.insert(crmsync_core::Field::EventLocation);
    let out = t
        .conn
        .apply(
            &sc,
            vec![
                Operation::Update {
                    id: w.id.clone(),
                    if_version: Some(w.version.clone()),
                    fields,
                    record: Record::Event(e.clone()).into(),
                    stamp: None,
                },
                Operation::Delete {
                    id: w.id.clone(),
                    if_version: Some(w.version.clone()),
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap_err().kind, RecordErrorKind::Changed);
    assert_eq!(out[1].as_ref().unwrap_err().kind, RecordErrorKind::Changed);
}
