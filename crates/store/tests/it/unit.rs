//! Round trips, replacement rules, migrations.

use std::sync::Arc;

use crmsync_core::field::FieldSet;
use crmsync_core::memory::fixed_now;
use crmsync_core::{
    Commit, Cursor, Kind, KindReport, Side, StateStore, StoreError, SyncId, SyncReport,
};
use crmsync_store::{SqliteStore, SCHEMA_VERSION};

use crate::common::*;

#[test]
fn round_trip_of_every_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut m1 = mapping(Kind::Contact, "s1", "z1", "o1");
    m1.dormant = Some(Side::Outlook);
    let m2 = mapping(Kind::Contact, "s2", "z2", "o2");
    let mut m3 = mapping(Kind::Event, "s3", "z3", "o3");
    m3.zoho.hashes.0.clear();
    let i1 = intent(Kind::Contact, "i1", Side::Outlook, "z9");
    let d1 = deferred(Kind::Contact, Side::Zoho, "z5", 1);
    let d2 = deferred(Kind::Contact, Side::Outlook, "o5", 3);
    let mut q = conflict(Kind::Contact, "s2", "x", None);
    q.fields = FieldSet::EMPTY;
    let mut report = SyncReport {
        started_at: fixed_now(),
        dry_run: false,
        cancelled: true,
        kinds: vec![KindReport::new(Kind::Contact)],
    };
    report.kinds[0].warnings.push("w".into());
    {
        let store = SqliteStore::open(&path).unwrap();
        store.journal(std::slice::from_ref(&i1)).unwrap();
        store
            .commit(&Commit {
                upsert: vec![m1.clone(), m2.clone(), m3.clone()],
                cursors: vec![(Kind::Contact, Side::Zoho, "fp".into(), Cursor("c1".into()))],
                defer: vec![d2.clone(), d1.clone()],
                queue: vec![q.clone()],
                ..Default::default()
            })
            .unwrap();
        store.record_run(&report).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    store.integrity_check().unwrap();
    assert_eq!(
        store.mappings(Kind::Contact).unwrap(),
        vec![m1.clone(), m2.clone()]
    );
    assert_eq!(store.mappings(Kind::Event).unwrap(), vec![m3.clone()]);
    assert_eq!(store.mappings(Kind::Task).unwrap(), vec![]);
    assert_eq!(store.mapping_count(Kind::Contact).unwrap(), 1);
    assert_eq!(
        store
            .mappings_by_ids(
                Kind::Contact,
                Side::Outlook,
                &["o2".into(), "nope".into(), "o1".into()]
            )
            .unwrap(),
        vec![m2.clone(), m1.clone()]
    );
    assert_eq!(
        store
            .mappings_by_sync_ids(Kind::Event, &[SyncId("s3".into()), SyncId("s1".into())])
            .unwrap(),
        vec![m3.clone()]
    );
    assert_eq!(
        store.cursor(Kind::Contact, Side::Zoho, "fp").unwrap(),
        Some(Cursor("c1".into()))
    );
    assert_eq!(
        store.cursor(Kind::Contact, Side::Zoho, "other").unwrap(),
        None
    );
    assert_eq!(
        store.cursor(Kind::Contact, Side::Outlook, "fp").unwrap(),
        None
    );
    assert_eq!(store.intents(Kind::Contact).unwrap(), vec![i1]);
    assert_eq!(store.deferred(Kind::Contact).unwrap(), vec![d1, d2]);
    let qs = store.conflicts(None).unwrap();
    assert_eq!(qs.len(), 1);
    assert!(qs[0].id > 0);
    assert_eq!(qs[0], crmsync_core::QueuedConflict { id: qs[0].id, ..q });
    store.resolve_conflict(qs[0].id, Side::Outlook).unwrap();
    assert_eq!(
        store.conflicts(Some(Kind::Contact)).unwrap()[0].resolution,
        Some(Side::Outlook)
    );
    assert_eq!(store.conflicts(Some(Kind::Event)).unwrap(), vec![]);
    assert!(matches!(
        store.resolve_conflict(999, Side::Zoho),
        Err(StoreError::NoSuchConflict(999))
    ));
    assert_eq!(store.history(10).unwrap(), vec![report.clone()]);
    let mut second = report.clone();
    second.cancelled = false;
    store.record_run(&second).unwrap();
    assert_eq!(store.history(10).unwrap(), vec![second.clone(), report]);
    assert_eq!(store.history(1).unwrap(), vec![second]);
}

#[test]
fn upsert_replaces_by_sync_id_and_by_side_id() {
    let store = SqliteStore::open_in_memory().unwrap();
    let up = |ms: Vec<crmsync_core::Mapping>| {
        store
            .commit(&Commit {
                upsert: ms,
                ..Default::default()
            })
            .unwrap()
    };
    up(vec![
        mapping(Kind::Contact, "a", "z1", "o1"),
        mapping(Kind::Contact, "b", "z2", "o2"),
        mapping(Kind::Task, "c", "z1", "o1"),
    ]);
    // Same Zoho id as "a", same Outlook id as "b": both go.
    let n = mapping(Kind::Contact, "n", "z1", "o2");
    up(vec![n.clone()]);
    assert_eq!(store.mappings(Kind::Contact).unwrap(), vec![n.clone()]);
    assert_eq!(store.mappings(Kind::Task).unwrap().len(), 1);
    // Same sync id, new ids.
    let n2 = mapping(Kind::Contact, "n", "z7", "o7");
    up(vec![n2.clone()]);
    assert_eq!(store.mappings(Kind::Contact).unwrap(), vec![n2]);
    assert_eq!(
        store
            .mappings_by_ids(Kind::Contact, Side::Zoho, &["z1".into()])
            .unwrap(),
        vec![]
    );
}

#[test]
fn many_ids_are_chunked() {
    let store = SqliteStore::open_in_memory().unwrap();
    let ms: Vec<_> = (0..1234)
        .map(|i| {
            mapping(
                Kind::Contact,
                &format!("s{i:05}"),
                &format!("z{i}"),
                &format!("o{i}"),
            )
        })
        .collect();
    store
        .commit(&Commit {
            upsert: ms.clone(),
            ..Default::default()
        })
        .unwrap();
    let ids: Vec<String> = (0..1300).rev().map(|i| format!("o{i}")).collect();
    let got = store
        .mappings_by_ids(Kind::Contact, Side::Outlook, &ids)
        .unwrap();
    let want: Vec<_> = ms.iter().rev().cloned().collect();
    assert_eq!(got, want);
    let sids: Vec<SyncId> = ms.iter().map(|m| m.sync_id.clone()).collect();
    assert_eq!(
        store.mappings_by_sync_ids(Kind::Contact, &sids).unwrap(),
        ms
    );
    assert_eq!(store.mappings(Kind::Contact).unwrap(), ms);
}

#[test]
fn too_new_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(SqliteStore::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
            .unwrap();
    }
    match SqliteStore::open(&path) {
        Err(StoreError::TooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[test]
fn other_hash_scheme_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(SqliteStore::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("UPDATE meta SET value = '999' WHERE key = 'hash_scheme'")
            .unwrap();
    }
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn migrations_are_idempotent_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let m = mapping(Kind::Contact, "s", "z", "o");
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        store
            .commit(&Commit {
                upsert: vec![m.clone()],
                ..Default::default()
            })
            .unwrap();
    }
    for _ in 0..3 {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.mappings(Kind::Contact).unwrap(), vec![m.clone()]);
        store.integrity_check().unwrap();
    }
    // Two handles on one file at once.
    let a = Arc::new(SqliteStore::open(&path).unwrap());
    let b = SqliteStore::open(&path).unwrap();
    a.commit(&Commit {
        remove: vec![(Kind::Contact, SyncId("s".into()))],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(b.mappings(Kind::Contact).unwrap(), vec![]);
}

#[test]
fn a_first_schema_database_is_upgraded_with_its_mappings_and_intents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    // A schema-1 file holding one mapping and one journalled intent.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(crmsync_store::migrations()[0]).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1; \
             INSERT INTO meta (key, value) VALUES ('hash_scheme', '1'); \
             INSERT INTO mappings VALUES (0, 'm1', 'z1', 'zv', X'0200000000000000', \
                                          'o1', 'ov', X'0300000000000000', NULL); \
             INSERT INTO intents (sync_id, kind, target, source_id, source_version, source_hashes) \
             VALUES ('old', 0, 1, 'z-old', 'v1', X'0100000000000000');",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    store.integrity_check().unwrap();
    let m = store.mappings(Kind::Contact).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(
        (m[0].zoho.hashes.0.clone(), m[0].outlook.hashes.0.clone()),
        (vec![2], vec![3]),
        "the mapping keeps its hashes"
    );
    assert_eq!(
        (m[0].zoho.version.as_str(), m[0].outlook.id.as_str()),
        ("zv", "o1")
    );
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let found = store.intents(Kind::Contact).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].sync_id, SyncId("old".into()));
    assert_eq!(found[0].source.id, "z-old");
    assert_eq!(found[0].source.hashes.0, vec![1]);
    // New intents go to the new table; both kinds are listed, in sync-id order.
    let mut newer = found[0].clone();
    newer.sync_id = SyncId("new".into());
    store.journal(std::slice::from_ref(&newer)).unwrap();
    let ids = |s: &SqliteStore| -> Vec<String> {
        s.intents(Kind::Contact)
            .unwrap()
            .into_iter()
            .map(|i| i.sync_id.0)
            .collect()
    };
    assert_eq!(ids(&store), ["new", "old"]);
    // Journalling the old one again replaces it rather than listing it twice.
    store.journal(&found).unwrap();
    assert_eq!(ids(&store), ["new", "old"]);
    // Settling works for both, also from a handle opened afterwards.
    store
        .commit(&Commit {
            settle: vec![SyncId("old".into())],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&store), ["new"]);
    let other = SqliteStore::open(&path).unwrap();
    other
        .commit(&Commit {
            settle: vec![SyncId("new".into())],
            ..Default::default()
        })
        .unwrap();
    assert!(ids(&store).is_empty());
    store.integrity_check().unwrap();
    drop((store, other));
    // Schema 4 keyed the unique indexes by the id first; they still refuse a second mapping
    // of the same id of a kind and still find mappings by id.
    let sql = texts(
        &path,
        "SELECT sql FROM sqlite_master WHERE name LIKE 'mappings_%' ORDER BY name",
    );
    assert_eq!(
        sql,
        [
            "CREATE UNIQUE INDEX mappings_outlook ON mappings (outlook_id, kind)",
            "CREATE UNIQUE INDEX mappings_sync ON mappings (sync_id, kind)",
            "CREATE UNIQUE INDEX mappings_zoho ON mappings (zoho_id, kind)",
        ]
    );
    let store = SqliteStore::open(&path).unwrap();
    let z1 = store
        .mappings_by_ids(Kind::Contact, Side::Zoho, &["z1".into()])
        .unwrap();
    assert_eq!(z1.len(), 1);
    let mut moved = z1[0].clone();
    moved.sync_id = SyncId("m2".into());
    store
        .commit(&Commit {
            upsert: vec![moved.clone()],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(store.mappings(Kind::Contact).unwrap(), vec![moved]);
}

/// The first column of every row a query returns, read straight from the file.
fn texts(path: &std::path::Path, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| r.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

#[test]
fn garbage_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    assert!(SqliteStore::open(&path).is_err());
}

#[test]
fn background_commits_run_in_order_and_survive_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    let mut tickets = vec![];
    // The same pair rewritten 50 times: the last version must win, so the order held.
    for v in 0..50 {
        let mut m = mapping(Kind::Contact, "s1", "z1", "o1");
        m.zoho.version = format!("v{v}");
        tickets.push(store.commit_in_background(Commit {
            upsert: vec![m],
            ..Default::default()
        }));
    }
    // A read waits for the writer: it sees every commit started before it.
    let seen = store.mappings(Kind::Contact).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].zoho.version, "v49");
    for t in tickets {
        futures::executor::block_on(t).unwrap();
    }
    // Started and never awaited: dropping the store finishes it before the file is closed.
    let _ticket = store.commit_in_background(Commit {
        upsert: vec![mapping(Kind::Contact, "s2", "z2", "o2")],
        ..Default::default()
    });
    drop(store);
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.mapping_count(Kind::Contact).unwrap(), 2);
    again.integrity_check().unwrap();
}

#[test]
fn hashes_of_real_records_are_stored_compactly_and_read_back() {
    use crmsync_core::field::FieldHashes;
    use crmsync_core::{Contact, Record};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let contact = Record::Contact(Contact {
        given_name: "Ada".into(),
        emails: vec!["ada@example.com".into()],
        ..Default::default()
    });
    let mut m = mapping(Kind::Contact, "s", "z", "o");
    m.zoho.hashes = FieldHashes::of(&contact);
    let mut edited = m.zoho.hashes.clone();
    edited.0[0] ^= 1;
    m.outlook.hashes = edited;
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .commit(&Commit {
                upsert: vec![m.clone()],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(store.mappings(Kind::Contact).unwrap(), vec![m.clone()]);
        assert!(store.checkpoint().unwrap() > 0);
    }
    // Two of the twelve fields are set: the rest cost a bit each.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (z, o): (Vec<u8>, Vec<u8>) = conn
        .query_row(
            "SELECT zoho_hashes, outlook_hashes FROM mappings",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(z.len(), 1 + 2 + 2 * 8);
    assert_eq!(o.len(), 1 + 2 + 2 * 8);
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.mappings(Kind::Contact).unwrap(), vec![m]);
}

#[test]
fn hashes_in_no_known_form_are_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let m = mapping(Kind::Contact, "s", "z", "o");
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .commit(&Commit {
                upsert: vec![m],
                ..Default::default()
            })
            .unwrap();
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE mappings SET zoho_hashes = X'0501'", [])
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    assert!(store.mappings(Kind::Contact).is_err());
}

#[test]
fn intent_rows_of_the_first_form_are_read_and_settled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let old = vec![
        intent(Kind::Contact, "a", Side::Outlook, "z1"),
        intent(Kind::Contact, "b", Side::Outlook, "z2"),
    ];
    drop(SqliteStore::open(&path).unwrap());
    {
        // As a release before the compact form wrote them: a postcard list of intents.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO intent_batches (body) VALUES (?1)",
            [postcard::to_allocvec(&old).unwrap()],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.intents(Kind::Contact).unwrap(), old);
    // Settling one rewrites the row (in the current form) with the other.
    store
        .commit(&Commit {
            settle: vec![SyncId("a".into())],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(store.intents(Kind::Contact).unwrap(), old[1..]);
    let body: Vec<u8> = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT body FROM intent_batches", [], |r| r.get(0))
        .unwrap();
    assert_eq!(body[0], 0xff);
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.intents(Kind::Contact).unwrap(), old[1..]);
}

#[test]
fn the_log_is_checkpointed_off_the_committing_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    // Commits that leave more than 8 MiB in the write-ahead log.
    let wide = |i: usize| {
        let mut m = mapping(
            Kind::Contact,
            &format!("s{i}"),
            &format!("z{i}"),
            &format!("o{i}"),
        );
        m.zoho.version = "v".repeat(2000);
        m
    };
    for round in 0..3 {
        store
            .commit(&Commit {
                upsert: (round * 2000..(round + 1) * 2000).map(wide).collect(),
                ..Default::default()
            })
            .unwrap();
    }
    // The checkpointer runs on its own thread: wait for it (a bounded wait for an event, not
    // a timing).
    let mut waited = 0;
    while store.background_checkpoints() == 0 && waited < 600 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += 1;
    }
    assert!(store.background_checkpoints() > 0, "no checkpoint ran");
    assert_eq!(store.mapping_count(Kind::Contact).unwrap(), 6000);
    drop(store);
    // Nothing lost, and the file is whole.
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.mapping_count(Kind::Contact).unwrap(), 6000);
    again.integrity_check().unwrap();
    // An in-memory store has no log and never starts one.
    let mem = SqliteStore::open_in_memory().unwrap();
    mem.commit(&Commit {
        upsert: (0..2000).map(wide).collect(),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(mem.background_checkpoints(), 0);
}

/// Sync ids in the form `SyncId::derive` gives are stored as 16 bytes, any other as text; both
/// round-trip, are found, replaced and removed by sync id, and `mappings` lists them in the
/// order of their text (as the in-memory store does).
#[test]
fn sync_ids_are_stored_as_bytes_or_text_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    let derived = SyncId::derive(Kind::Contact, Side::Zoho, "z1").0;
    let upper = derived.to_uppercase(); // not the derived form: text
    let all_f = "f".repeat(32); // sorts after every text id below
    let ids = [derived.as_str(), upper.as_str(), "s1", all_f.as_str(), "0"];
    let ms: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, s)| mapping(Kind::Contact, s, &format!("z{i}"), &format!("o{i}")))
        .collect();
    store
        .commit(&Commit {
            insert: ms.clone(),
            ..Default::default()
        })
        .unwrap();
    let mut sorted = ms.clone();
    sorted.sort_by(|a, b| a.sync_id.cmp(&b.sync_id));
    assert_eq!(store.mappings(Kind::Contact).unwrap(), sorted);
    let wanted: Vec<SyncId> = ids.iter().rev().map(|s| SyncId(s.to_string())).collect();
    let found = store.mappings_by_sync_ids(Kind::Contact, &wanted).unwrap();
    assert_eq!(
        found.iter().map(|m| m.sync_id.clone()).collect::<Vec<_>>(),
        wanted
    );
    // Stored forms, read with SQL.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let form = |s: &str| -> (String, i64) {
            conn.query_row(
                "SELECT typeof(sync_id), length(sync_id) FROM mappings WHERE zoho_id = ?1",
                [s],
                |r| Ok((r.get(0).unwrap(), r.get(1).unwrap())),
            )
            .unwrap()
        };
        assert_eq!(form("z0"), ("blob".to_string(), 16));
        assert_eq!(form("z1"), ("text".to_string(), 32));
        assert_eq!(form("z3"), ("blob".to_string(), 16));
        assert_eq!(form("z2"), ("text".to_string(), 2));
    }
    // Replaced by sync id (new ids), and removed by sync id.
    let moved = mapping(Kind::Contact, &derived, "z9", "o9");
    store
        .commit(&Commit {
            upsert: vec![moved.clone()],
            remove: vec![(Kind::Contact, SyncId(upper.clone()))],
            ..Default::default()
        })
        .unwrap();
    let left = store.mappings(Kind::Contact).unwrap();
    assert_eq!(left.len(), 4);
    assert!(left.contains(&moved));
    assert!(!left
        .iter()
        .any(|m| m.sync_id.0 == upper || m.zoho.id == "z0"));
    store.integrity_check().unwrap();
}

#[test]
fn a_second_schema_database_gets_its_derived_sync_ids_stored_as_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let derived = SyncId::derive(Kind::Task, Side::Outlook, "o-1").0;
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(crmsync_store::migrations()[0]).unwrap();
        conn.execute_batch(crmsync_store::migrations()[1]).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA user_version = 2; \
             INSERT INTO meta (key, value) VALUES ('hash_scheme', '1'); \
             INSERT INTO mappings VALUES (1, '{derived}', 'z1', 'zv', X'0200000000000000', \
                                          'o-1', 'ov', X'0300000000000000', NULL); \
             INSERT INTO mappings VALUES (1, 'legacy-1', 'z2', 'zv', X'0200000000000000', \
                                          'o-2', 'ov', X'0300000000000000', NULL);"
        ))
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    store.integrity_check().unwrap();
    let ids: Vec<String> = store
        .mappings(Kind::Task)
        .unwrap()
        .into_iter()
        .map(|m| m.sync_id.0)
        .collect();
    let mut want = vec![derived.clone(), "legacy-1".to_string()];
    want.sort();
    assert_eq!(ids, want);
    let found = store
        .mappings_by_sync_ids(Kind::Task, &[SyncId(derived.clone())])
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].outlook.id, "o-1");
    drop(store);
    let kinds = texts(
        &path,
        "SELECT typeof(sync_id) FROM mappings ORDER BY zoho_id",
    );
    assert_eq!(kinds, ["blob", "text"]);
}
