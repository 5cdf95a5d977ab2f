//! The adaptive window of batches in flight, against the emulator's mailbox limit: it grows to
//! 4 where the mailbox keeps up, backs off on 429s where it does not, and never loses or
//! duplicates a write either way.

use std::collections::BTreeMap;

use crmsync_core::{Connector, Contact, Kind, OpResult, Operation, Record, Scope, SyncId};
use crmsync_emulator::graph::GraphFaults;
use crmsync_outlook::http::MAILBOX_CONCURRENCY;
use futures::StreamExt as _;

use crate::support::{scope, start, T};

/// Creates `n` contacts the way the engine issues writes: batches of `max_batch`, up to
/// `max_concurrency` `apply` calls at once.
async fn create_like_the_engine(t: &T, sc: &Scope, n: usize) -> Vec<OpResult> {
    let caps = t.conn.capabilities();
    let ops: Vec<Operation> = (0..n)
        .map(|i| Operation::Create {
            sync_id: SyncId(format!("w-{i}")),
            record: Record::Contact(Contact {
                given_name: format!("Window{i}"),
                family_name: "Test".into(),
                ..Default::default()
            })
            .into(),
        })
        .collect();
    let chunks: Vec<Vec<Operation>> = ops.chunks(caps.max_batch).map(<[_]>::to_vec).collect();
    let results: Vec<Vec<OpResult>> = futures::stream::iter(chunks)
        .map(|c| async { t.conn.apply(sc, c).await.unwrap() })
        .buffer_unordered(caps.max_concurrency)
        .collect()
        .await;
    results.into_iter().flatten().collect()
}

/// Every created contact, counted by its given name.
fn landed(t: &T) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for c in t.emu.contacts(&t.emu.default_contact_folder()) {
        *m.entry(c["givenName"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    m
}

fn assert_each_once(t: &T, results: &[OpResult], n: usize) {
    assert_eq!(results.len(), n);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let m = landed(t);
    let dup: Vec<_> = m.iter().filter(|(_, c)| **c > 1).collect();
    assert!(dup.is_empty(), "duplicates: {dup:?}");
    assert_eq!(m.len(), n, "every contact landed");
    assert!((0..n).all(|i| m.contains_key(&format!("Window{i}"))));
}

#[tokio::test]
async fn with_latency_and_room_in_the_mailbox_the_window_grows_to_four() {
    let t = start().await;
    assert_eq!(t.conn.capabilities().max_concurrency, MAILBOX_CONCURRENCY);
    assert_eq!(t.conn.batch_window(), 1, "it starts at one batch");
    // A round trip per request and no server time: batches overlap on the wire, yet the
    // mailbox never holds more than it can serve.
    t.emu.set_faults(GraphFaults {
        latency_ms: 40,
        service_ms: 0,
        concurrency_limit: Some(4),
        retry_after_secs: 0.05,
        ..t.emu.faults()
    });
    let sc = scope(Kind::Contact, None);
    t.conn.default_contact_folder().await.unwrap();
    t.emu.reset_counters();
    let n = 400;
    let results = create_like_the_engine(&t, &sc, n).await;
    assert_each_once(&t, &results, n);
    let c = t.emu.counters();
    assert_eq!(c.get("throttled: MailboxConcurrency"), 0, "{c:?}");
    assert_eq!(
        c.get("POST /$batch"),
        (n / 20) as u64,
        "no envelope was resent"
    );
    assert_eq!(t.conn.batch_window(), MAILBOX_CONCURRENCY);
    let peaks = t.emu.concurrency();
    assert!(peaks.peak_batches > 1, "batches overlapped: {peaks:?}");
    assert!(peaks.peak_batches <= MAILBOX_CONCURRENCY, "{peaks:?}");
    assert!(peaks.peak_items <= 4, "{peaks:?}");
}

#[tokio::test]
async fn with_server_time_the_window_backs_off_on_429s_and_every_write_lands_once() {
    let t = start().await;
    // Server time per item inside the mailbox's slots: one batch (4 items at a time) fills
    // the mailbox, so two in service at once exceed it.
    t.emu.set_faults(GraphFaults {
        latency_ms: 5,
        service_ms: 5,
        concurrency_limit: Some(4),
        retry_after_secs: 0.05,
        ..t.emu.faults()
    });
    let sc = scope(Kind::Contact, None);
    t.conn.default_contact_folder().await.unwrap();
    t.emu.reset_counters();
    let n = 400;
    let results = create_like_the_engine(&t, &sc, n).await;
    assert_each_once(&t, &results, n);
    let c = t.emu.counters();
    assert!(
        c.get("throttled: MailboxConcurrency") > 0,
        "the mailbox limit was hit: {c:?}"
    );
    assert!(t.emu.concurrency().peak_items > 4);
    assert!(
        c.get("POST /$batch") > (n / 20) as u64,
        "throttled items were sent again: {c:?}"
    );
    assert!(
        t.conn.batch_window() < MAILBOX_CONCURRENCY,
        "the window backed off: {}",
        t.conn.batch_window()
    );
}

#[tokio::test]
async fn retries_of_throttled_items_stay_bounded_and_keep_the_window_at_its_floor() {
    let t = start().await;
    // A contact first, so the default folder is known without a request.
    let sc = scope(Kind::Contact, None);
    create_like_the_engine(&t, &sc, 1).await;
    // Every sub-request throttled: each batch gives up after its attempts with the items' 429
    // as a transient per-record error, having written nothing.
    t.emu.set_faults(GraphFaults {
        throttle_rate: 1.0,
        retry_after_secs: 0.001,
        ..t.emu.faults()
    });
    t.emu.reset_counters();
    let caps = t.conn.capabilities();
    let ops: Vec<Operation> = (0..40)
        .map(|i| Operation::Create {
            sync_id: SyncId(format!("t-{i}")),
            record: Record::Contact(Contact {
                given_name: format!("Throttled{i}"),
                ..Default::default()
            })
            .into(),
        })
        .collect();
    let results: Vec<Vec<OpResult>> = futures::stream::iter(ops.chunks(20).map(<[_]>::to_vec))
        .map(|c| async { t.conn.apply(&sc, c).await.unwrap() })
        .buffer_unordered(caps.max_concurrency)
        .collect()
        .await;
    let results: Vec<OpResult> = results.into_iter().flatten().collect();
    assert_eq!(results.len(), 40);
    assert!(results.iter().all(|r| r
        .as_ref()
        .is_err_and(|e| e.kind == crmsync_core::RecordErrorKind::Transient)));
    assert_eq!(t.conn.batch_window(), 1);
    assert_eq!(landed(&t).len(), 1, "a 429 wrote nothing");
    // Six attempts per batch of 20, every item each time.
    assert_eq!(t.emu.counters().get("POST /$batch"), 2 * 6);
    assert_eq!(
        t.emu.counters().get("throttled: TooManyRequests"),
        2 * 6 * 20
    );
}

#[tokio::test]
async fn an_empty_mailbox_is_asked_for_its_default_folder_once_per_round() {
    let t = start().await;
    let sc = scope(Kind::Contact, None);
    // The round's read: an empty mailbox cannot tell the default folder's id.
    let first = t
        .conn
        .list(&crmsync_core::PageRequest {
            scope: sc.clone(),
            page: None,
        })
        .await
        .unwrap();
    assert!(first.items.is_empty());
    let lookups = |t: &T| {
        let c = t.emu.counters();
        c.get("GET /me/contactFolders") + c.get("GET /me/contacts")
    };
    let before = lookups(&t);
    assert!(before >= 2, "the read asked: {:?}", t.emu.counters());
    // Concurrent batches of creates do not ask again; the first created contact tells.
    let n = 200;
    let results = create_like_the_engine(&t, &sc, n).await;
    assert_each_once(&t, &results, n);
    assert_eq!(lookups(&t), before, "{:?}", t.emu.counters());
    assert_eq!(
        t.conn.default_contact_folder().await.unwrap(),
        Some(t.emu.default_contact_folder())
    );
}

#[tokio::test]
async fn a_throttled_batch_envelope_is_sent_again_after_retry_after_and_lands_once() {
    let t = start().await;
    let sc = scope(Kind::Contact, None);
    t.conn.default_contact_folder().await.unwrap();
    // Two envelopes answered 429 as a whole, before any item runs.
    t.emu.set_faults(GraphFaults {
        throttle_batches: 2,
        retry_after_secs: 0.02,
        ..t.emu.faults()
    });
    t.emu.reset_counters();
    let n = 60;
    let results = create_like_the_engine(&t, &sc, n).await;
    assert_each_once(&t, &results, n);
    let c = t.emu.counters();
    assert_eq!(c.get("throttled: $batch envelope"), 2, "{c:?}");
    assert_eq!(
        c.get("POST /$batch"),
        3 + 2,
        "three batches, two sent again: {c:?}"
    );
    assert_eq!(
        t.conn.batch_window(),
        1,
        "a throttled envelope shrinks the window"
    );
}
