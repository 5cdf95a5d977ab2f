//! The same random sequence of writes applied to the SQLite store and to the in-memory
//! reference store must read back identically.

use crmsync_core::memory::MemoryStore;
use crmsync_core::{
    Commit, Cursor, Deferred, Intent, Kind, Mapping, QueuedConflict, Side, StateStore, SyncId,
};
use crmsync_store::SqliteStore;
use proptest::prelude::*;

use crate::common;

const KINDS: [Kind; 2] = [Kind::Contact, Kind::Event];

fn kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(KINDS.to_vec())
}

fn side() -> impl Strategy<Value = Side> {
    prop::sample::select(Side::BOTH.to_vec())
}

fn sid() -> impl Strategy<Value = SyncId> {
    (0..6u8).prop_map(|n| SyncId(format!("s{n}")))
}

fn mapping() -> impl Strategy<Value = Mapping> {
    (
        kind(),
        sid(),
        0..5u8,
        0..5u8,
        0..3u8,
        prop::collection::vec(any::<u64>(), 0..4),
        prop::option::of(side()),
    )
        .prop_map(|(k, s, z, o, v, h, dormant)| Mapping {
            kind: k,
            sync_id: s,
            zoho: common::side(&format!("z{z}"), &format!("v{v}"), h.clone()),
            outlook: common::side(&format!("o{o}"), &format!("w{v}"), h),
            dormant,
        })
}

fn intent() -> impl Strategy<Value = Intent> {
    (kind(), sid(), side(), 0..5u8)
        .prop_map(|(k, s, t, n)| common::intent(k, &s.0, t, &format!("x{n}")))
}

fn deferred() -> impl Strategy<Value = Deferred> {
    (kind(), side(), 0..4u8, 0..5u32)
        .prop_map(|(k, sd, n, a)| common::deferred(k, sd, &format!("d{n}"), a))
}

fn queued() -> impl Strategy<Value = QueuedConflict> {
    (kind(), sid(), 0..3u8, prop::option::of(side()))
        .prop_map(|(k, s, n, r)| common::conflict(k, &s.0, &format!("n{n}"), r))
}

fn commit() -> impl Strategy<Value = Commit> {
    let small = |n| 0..n;
    (
        prop::collection::vec(mapping(), small(5)),
        prop::collection::vec((kind(), sid()), small(3)),
        prop::collection::vec(sid(), small(3)),
        prop::collection::vec((kind(), side(), 0..2u8, 0..3u8), small(3)),
        prop::collection::vec((kind(), side()), small(2)),
        prop::collection::vec(deferred(), small(3)),
        prop::collection::vec((kind(), side(), 0..4u8), small(3)),
        prop::collection::vec(queued(), small(3)),
        prop::collection::vec((kind(), sid()), small(2)),
        prop::collection::vec(intent(), small(3)),
        prop::collection::vec(mapping(), small(3)),
    )
        .prop_map(
            |(
                upsert,
                remove,
                settle,
                cursors,
                drop_cursors,
                defer,
                undefer,
                queue,
                unqueue,
                journal,
                insert,
            )| {
                Commit {
                    upsert,
                    remove,
                    settle,
                    journal,
                    insert,
                    cursors: cursors
                        .into_iter()
                        .map(|(k, s, f, c)| (k, s, format!("f{f}"), Cursor(format!("c{c}"))))
                        .collect(),
                    drop_cursors,
                    defer,
                    undefer: undefer
                        .into_iter()
                        .map(|(k, s, n)| (k, s, format!("d{n}")))
                        .collect(),
                    queue,
                    unqueue,
                }
            },
        )
}

#[derive(Debug, Clone)]
enum Op {
    Journal(Vec<Intent>),
    Commit(Box<Commit>),
    /// The same commit started in the background (its ticket awaited at the end of the case).
    Background(Box<Commit>),
    Resolve(i64, Side),
    /// A commit of inserts alone: into an empty table, a bulk fill (in the store that makes
    /// every such fill one).
    Fill(Vec<Mapping>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => prop::collection::vec(intent(), 0..3).prop_map(Op::Journal),
        2 => commit().prop_map(|c| Op::Commit(Box::new(c))),
        2 => commit().prop_map(|c| Op::Background(Box::new(c))),
        1 => (0..8i64, side()).prop_map(|(i, s)| Op::Resolve(i, s)),
        2 => prop::collection::vec(mapping(), 1..6).prop_map(Op::Fill),
        // Fills long enough for the many-row statements of a bulk fill (32 rows each), with
        // a remainder row by row.
        1 => prop::collection::vec(mapping(), 32..80).prop_map(Op::Fill),
    ]
}

fn compare(a: &dyn StateStore, b: &dyn StateStore) -> Result<(), TestCaseError> {
    let ids = |p: &str| (0..5).map(|n| format!("{p}{n}")).collect::<Vec<_>>();
    let sids: Vec<SyncId> = (0..6).rev().map(|n| SyncId(format!("s{n}"))).collect();
    for k in Kind::ALL {
        prop_assert_eq!(a.mappings(k)?, b.mappings(k)?);
        prop_assert_eq!(a.mapping_count(k)?, b.mapping_count(k)?);
        prop_assert_eq!(
            a.mappings_by_ids(k, Side::Zoho, &ids("z"))?,
            b.mappings_by_ids(k, Side::Zoho, &ids("z"))?
        );
        prop_assert_eq!(
            a.mappings_by_ids(k, Side::Outlook, &ids("o"))?,
            b.mappings_by_ids(k, Side::Outlook, &ids("o"))?
        );
        prop_assert_eq!(
            a.mappings_by_sync_ids(k, &sids)?,
            b.mappings_by_sync_ids(k, &sids)?
        );
        for s in Side::BOTH {
            for f in ["f0", "f1"] {
                prop_assert_eq!(a.cursor(k, s, f)?, b.cursor(k, s, f)?);
            }
        }
        prop_assert_eq!(a.intents(k)?, b.intents(k)?);
        // Side indexes: the same entries, and one pass for both sides equals one per side.
        let sorted = |mut v: crmsync_core::SideIndex| {
            v.sort();
            v
        };
        let [az, ao] = a.side_indexes(k)?;
        let [bz, bo] = b.side_indexes(k)?;
        prop_assert_eq!(sorted(az.clone()), sorted(bz));
        prop_assert_eq!(sorted(ao.clone()), sorted(bo));
        prop_assert_eq!(sorted(az), sorted(b.side_index(k, Side::Zoho)?));
        prop_assert_eq!(sorted(ao), sorted(b.side_index(k, Side::Outlook)?));
        prop_assert_eq!(a.deferred(k)?, b.deferred(k)?);
        prop_assert_eq!(a.conflicts(Some(k))?, b.conflicts(Some(k))?);
    }
    prop_assert_eq!(a.conflicts(None)?, b.conflicts(None)?);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_matches_memory(ops in prop::collection::vec(op(), 1..12)) {
        let mem = MemoryStore::new();
        let sql = SqliteStore::open_in_memory()?;
        // The same writes where every fill of an empty table is a bulk fill (indexes set
        // aside, built again on the first read by id or write other than an insert).
        let bulk = SqliteStore::open_in_memory()?;
        bulk.set_bulk_fill_min(1);
        let mut tickets = vec![];
        for (n, op) in ops.iter().enumerate() {
            match op {
                Op::Journal(i) => {
                    mem.journal(i)?;
                    sql.journal(i)?;
                    bulk.journal(i)?;
                }
                Op::Commit(c) => {
                    mem.commit(c)?;
                    sql.commit(c)?;
                    bulk.commit(c)?;
                }
                Op::Background(c) => {
                    mem.commit(c)?;
                    tickets.push(sql.commit_in_background((**c).clone()));
                    tickets.push(bulk.commit_in_background((**c).clone()));
                }
                Op::Fill(m) => {
                    let c = Commit {
                        insert: m.clone(),
                        ..Default::default()
                    };
                    mem.commit(&c)?;
                    sql.commit(&c)?;
                    bulk.commit(&c)?;
                }
                Op::Resolve(id, s) => {
                    let x = mem.resolve_conflict(*id, *s).map_err(|e| e.to_string());
                    let y = sql.resolve_conflict(*id, *s).map_err(|e| e.to_string());
                    prop_assert_eq!(&x, &y);
                    let z = bulk.resolve_conflict(*id, *s).map_err(|e| e.to_string());
                    prop_assert_eq!(x, z);
                }
            }
            // Every read of the mappings ends a fill: compared less often, so that fills span
            // several commits.
            if n % 3 == 2 {
                compare(&mem, &bulk)?;
                prop_assert!(!bulk.bulk_fill_under_way()?);
            }
            // Reads after background commits see them (the store waits for its writer), also
            // when several are queued: compared after every other operation.
            if n % 2 == 1 || n + 1 == ops.len() {
                compare(&mem, &sql)?;
            }
        }
        compare(&mem, &bulk)?;
        prop_assert!(!bulk.bulk_fill_under_way()?);
        for t in tickets {
            futures::executor::block_on(t)?;
        }
    }
}
