//! Crash survival: a child process (this test binary, re-run in a special mode) commits some
//! batches and then dies with `abort()` in the middle of a transaction; the parent reopens the
//! file and finds exactly the committed batches and a sound database.

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use crmsync_core::{Commit, Kind, Mapping, StateStore};
use crmsync_store::SqliteStore;

use crate::common::mapping;

const ENV: &str = "CRMSYNC_STORE_CRASH_CHILD";
const BATCHES: usize = 5;
const BATCH: usize = 200;

fn batch(b: usize, n: usize) -> Vec<Mapping> {
    (0..n)
        .map(|i| {
            mapping(
                Kind::Contact,
                &format!("b{b:02}-{i:06}"),
                &format!("z{b}-{i}"),
                &format!("o{b}-{i}"),
            )
        })
        .collect()
}

/// The child's side: does nothing unless started by [`abort_mid_transaction`].
#[test]
fn child() {
    let Ok(spec) = std::env::var(ENV) else {
        return;
    };
    let (mode, path) = spec.split_once(':').unwrap();
    let store = SqliteStore::open(path).unwrap();
    // "bulk": every commit inserts into a table filled in bulk (its indexes set aside).
    let bulk = mode == "bulk";
    if bulk {
        store.set_bulk_fill_min(1);
    }
    let rows = move |m: Vec<Mapping>| match bulk {
        true => Commit {
            insert: m,
            ..Default::default()
        },
        false => Commit {
            upsert: m,
            ..Default::default()
        },
    };
    let mut out = std::io::stdout();
    for b in 0..BATCHES {
        store.commit(&rows(batch(b, BATCH))).unwrap();
        if bulk {
            assert!(store.bulk_fill_under_way().unwrap());
        }
        writeln!(out, "committed {b}").unwrap();
        out.flush().unwrap();
    }
    match mode {
        // A raw connection writes rows inside a transaction big enough to spill pages into the
        // WAL, then the process dies before COMMIT.
        "raw" => {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute_batch("PRAGMA cache_size = 10; BEGIN IMMEDIATE;")
                .unwrap();
            for i in 0..20_000 {
                conn.execute(
                    "INSERT INTO mappings VALUES (0, ?1, ?1, 'v', x'00', ?1, 'v', x'00', NULL)",
                    [format!("raw-{i:06}")],
                )
                .unwrap();
            }
            writeln!(out, "aborting").unwrap();
            out.flush().unwrap();
            std::process::abort();
        }
        // The store itself is killed during a large commit.
        _ => {
            let store = std::sync::Arc::new(store);
            let s = store.clone();
            std::thread::spawn(move || {
                s.commit(&rows(batch(99, 300_000))).unwrap();
                println!("big commit finished");
            });
            std::thread::sleep(Duration::from_millis(150));
            writeln!(out, "aborting").unwrap();
            out.flush().unwrap();
            std::process::abort();
        }
    }
}

fn abort_in(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["crash::child", "--exact", "--nocapture", "--test-threads=1"])
        .env(ENV, format!("{mode}:{}", path.display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "the child should have aborted: {stdout}"
    );
    assert!(stdout.contains("aborting"), "child output: {stdout}");
    let committed = stdout.lines().filter(|l| l.contains("committed ")).count();
    assert_eq!(committed, BATCHES);
    let big_done = stdout.contains("big commit finished");

    let store = SqliteStore::open(&path).unwrap();
    // A bulk fill cut short ends on open: the indexes are back.
    assert!(!store.bulk_fill_under_way().unwrap());
    store.integrity_check().unwrap();
    let got = store.mappings(Kind::Contact).unwrap();
    let mut want: Vec<Mapping> = (0..BATCHES).flat_map(|b| batch(b, BATCH)).collect();
    if big_done {
        // The big commit won the race against the abort: all of it must be there.
        want.extend(batch(99, 300_000));
        want.sort_by(|a, b| a.sync_id.cmp(&b.sync_id));
    }
    assert_eq!(got.len(), want.len());
    assert!(
        got == want,
        "the database holds other rows than the committed batches"
    );
    // The store stays writable after recovery.
    store
        .commit(&Commit {
            upsert: batch(7, 3),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(store.mapping_count(Kind::Contact).unwrap(), want.len() + 3);
}

#[test]
fn abort_mid_raw_transaction() {
    abort_in("raw");
}

#[test]
fn abort_mid_store_commit() {
    abort_in("store");
}

#[test]
fn abort_mid_bulk_fill() {
    abort_in("bulk");
}
