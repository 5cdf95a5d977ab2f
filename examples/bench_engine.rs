//! Engine benchmark (not a test): the engine over the SQLite store (a temp file) with in-memory
//! services, printing one JSON object per phase:
//! `{"records":N,"phase":P,"seconds":S,"writes":W,"peak_rss_mib":M}`.
//!
//! `cargo run --release -p crmsync --example bench_engine -- --records 100000`
//!
//! Phases: `first` (N contacts in Zoho, Outlook empty, full listings), `noop` (again at once),
//! `changed` (1% of records edited on each side, a quarter of them the same records, Zoho wins),
//! `noop_delta` (the same no-op with change feeds, after one catch-up run that reads the echoes
//! of `changed`). The in-memory services take batches of 1,000 (the engine's batching, not an
//! API's limit, is what is measured here; the connector benchmarks count real API requests).

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;
use crmsync::core::memory::{fixed_now, MemoryConnector, MemoryStore};
use crmsync::core::{
    Contact, Engine, Kind, Phone, PhoneKind, Record, Settings, Side, StateStore, SyncOptions,
};
use crmsync::store::SqliteStore;

/// The allocator the shipped programs use (the `crmsync` binary too): see the note in the
/// workspace `Cargo.toml`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// CPU seconds so far of (the calling thread, the whole process), and the process's minor
/// page faults so far (each one a page of memory touched for the first time: on a virtual
/// machine that is not cheap).
#[cfg(target_os = "linux")]
fn cpu_seconds() -> (f64, f64, i64) {
    use nix::sys::resource::{getrusage, UsageWho};
    let secs = |who| {
        getrusage(who).map_or(0.0, |u| {
            let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
            t(u.user_time()) + t(u.system_time())
        })
    };
    let faults = getrusage(UsageWho::RUSAGE_SELF).map_or(0, |u| u.minor_page_faults());
    (
        secs(UsageWho::RUSAGE_THREAD),
        secs(UsageWho::RUSAGE_SELF),
        faults,
    )
}

#[cfg(not(target_os = "linux"))]
fn cpu_seconds() -> (f64, f64, i64) {
    (0.0, 0.0, 0)
}

fn set_feeds(c: &MemoryConnector, on: bool) {
    let mut caps = crmsync::core::Connector::capabilities(c);
    caps.change_feed = on;
    c.set_capabilities(caps);
}

/// What `first` asks of the SQLite store, alone, on the caller's thread: `n` mappings with
/// contact-sized hashes (12 fields), in the engine's pattern for batches of 1,000 (results
/// committed in groups of 5 batches, the first to reach 4,096 operations, each commit also
/// journalling the intents of the batches two groups ahead).
fn store_floor(n: usize) -> Result<(), Box<dyn std::error::Error>> {
    use crmsync::core::{Commit, FieldHashes, Intent, Mapping, Side, SideState, SyncId};
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("state.db"))?;
    let hashes = |i: usize| FieldHashes((0..12u64).map(|f| (i as u64) << 8 | f).collect());
    let source = |i: usize| {
        let id = format!("z-{i}");
        (
            SyncId::derive(Kind::Contact, Side::Zoho, &id),
            SideState {
                id,
                version: format!("{i}"),
                hashes: hashes(i),
            },
        )
    };
    let intents = |from: usize, to: usize| -> Vec<Intent> {
        (from..to.min(n))
            .map(|i| {
                let (sync_id, source) = source(i);
                Intent {
                    kind: Kind::Contact,
                    sync_id,
                    target: Side::Outlook,
                    source,
                }
            })
            .collect()
    };
    let t = Instant::now();
    // Batches of 1,000: a group is 5 of them.
    let group = 5000;
    store.commit(&Commit {
        journal: intents(0, 2 * group),
        ..Default::default()
    })?;
    let mut done = 0;
    while done < n {
        let end = (done + group).min(n);
        let mut c = Commit {
            journal: intents(end + group, end + 2 * group),
            ..Default::default()
        };
        for i in done..end {
            let (sync_id, zoho) = source(i);
            c.settle.push(sync_id.clone());
            c.insert.push(Mapping {
                kind: Kind::Contact,
                sync_id,
                outlook: SideState {
                    id: format!("o-{i}"),
                    version: format!("{i}"),
                    hashes: zoho.hashes.clone(),
                },
                zoho,
                dormant: None,
            });
        }
        store.commit(&c)?;
        done = end;
    }
    println!(
        "{{\"records\":{n},\"phase\":\"store_floor\",\"seconds\":{:.4},\"writes\":0,\"peak_rss_mib\":{:.1}}}",
        t.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut n: usize = 10_000;
    let mut memory_store = false;
    let mut stop_after: Option<String> = None;
    let mut cpu = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--records" => n = args.next().ok_or("--records needs a number")?.parse()?,
            // The in-memory store instead of SQLite: separates the engine's cost from the store's.
            "--memory-store" => memory_store = true,
            // Stops after the named phase (for profiling one phase).
            "--stop-after" => stop_after = Some(args.next().ok_or("--stop-after needs a phase")?),
            // Only the store's share of `first`: the same journal writes and grouped commits of
            // N mappings, with no engine or services around them.
            "--store-floor" => return store_floor(n),
            // After each phase, one more line: the CPU seconds of the engine's thread and of
            // the process's other threads (the store's writer and checkpointer) in that phase,
            // and the minor page faults the process took in it.
            "--cpu" => cpu = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let dir = tempfile::tempdir()?;
    let sqlite = if memory_store {
        None
    } else {
        Some(Arc::new(SqliteStore::open(dir.path().join("state.db"))?))
    };
    let store: Arc<dyn StateStore> = match &sqlite {
        Some(s) => s.clone(),
        None => Arc::new(MemoryStore::new()),
    };
    let zoho = Arc::new(
        MemoryConnector::new("z", 1000)
            .with_page_size(200)
            .without_containers(),
    );
    let outlook = Arc::new(MemoryConnector::new("o", 1000).with_page_size(1000));
    set_feeds(&zoho, false);
    set_feeds(&outlook, false);
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(zoho.insert(
            Record::Contact(Contact {
                given_name: format!("Given{i}"),
                family_name: format!("Family{i}"),
                emails: vec![format!("person{i}@example.com")],
                phones: vec![Phone {
                    kind: PhoneKind::Mobile,
                    number: format!("+86 138 {i:08}"),
                }],
                company: format!("Company {}", i % 997),
                job_title: "Engineer".into(),
                ..Default::default()
            }),
            None,
        ));
    }
    // What the two in-memory services hold before any sync, for reading peak_rss_mib.
    println!(
        "{{\"records\":{n},\"phase\":\"setup\",\"seconds\":0,\"writes\":0,\"peak_rss_mib\":{:.1}}}",
        peak_rss_mib()
    );
    let mut settings = Settings::default();
    settings.tasks.enabled = false;
    settings.events.enabled = false;
    let engine = Engine::new(zoho.clone(), outlook.clone(), store);
    let mut now = fixed_now();
    let mut phase = |name: &str, print: bool| -> Result<(), Box<dyn std::error::Error>> {
        now += Duration::minutes(1);
        let t = Instant::now();
        let (main0, all0, faults0) = cpu_seconds();
        let out =
            futures::executor::block_on(engine.sync(&settings, &SyncOptions::default(), now))?;
        let secs = t.elapsed().as_secs_f64();
        let (main1, all1, faults1) = cpu_seconds();
        if !out.report.completed() || out.report.errors() > 0 {
            return Err(format!("phase {name} did not complete: {:?}", out.report).into());
        }
        if print {
            println!(
                "{{\"records\":{n},\"phase\":\"{name}\",\"seconds\":{secs:.4},\"writes\":{},\"peak_rss_mib\":{:.1}}}",
                out.report.writes(),
                peak_rss_mib()
            );
            if cpu {
                let (main, all) = (main1 - main0, all1 - all0);
                println!(
                    "{{\"records\":{n},\"phase\":\"cpu\",\"after\":\"{name}\",\"engine_thread_s\":{main:.4},\"other_threads_s\":{:.4},\"minor_faults\":{}}}",
                    (all - main).max(0.0),
                    faults1 - faults0
                );
            }
        }
        // SQLite copies its write-ahead log into the database whenever a commit leaves more
        // than 1,000 pages in it, inside that commit: left alone, which phase pays for the
        // last one's pages depends on where that threshold falls. Each phase therefore starts
        // from a checkpointed log, and the checkpoint's own time is printed on its own line
        // (an application does this when idle, with SqliteStore::checkpoint).
        if let Some(s) = &sqlite {
            let t = Instant::now();
            let frames = s.checkpoint()?;
            if print {
                println!(
                    "{{\"records\":{n},\"phase\":\"checkpoint\",\"after\":\"{name}\",\"seconds\":{:.4},\"frames\":{frames}}}",
                    t.elapsed().as_secs_f64()
                );
            }
        }
        Ok(())
    };
    phase("first", true)?;
    if stop_after.as_deref() == Some("first") {
        return Ok(());
    }
    phase("noop", true)?;
    if stop_after.as_deref() == Some("noop") {
        return Ok(());
    }

    // 1% edited on each side; a quarter of them the same records (both-side conflicts).
    // Twins are found through the store's mappings, one lookup per edited record: the
    // benchmark's own bookkeeping must not weigh on the peak RSS it reports (and a Zoho record
    // the engine copied carries no sync id to find its twin by).
    let k = (n / 100).max(1);
    let outlook_id = |zid: &str| -> Option<String> {
        let m = engine
            .store()
            .mappings_by_ids(Kind::Contact, Side::Zoho, &[zid.to_string()])
            .ok()?;
        Some(m.first()?.outlook.id.clone())
    };
    let step = (n / k).max(1);
    for j in 0..k {
        let zi = (j * step) % n;
        zoho.update(&ids[zi], |r| {
            if let Record::Contact(c) = r {
                c.job_title = format!("Zoho edit {j}");
            }
        });
        // A quarter of Outlook's edits hit the same records.
        let oi = if j % 4 == 0 {
            zi
        } else {
            (zi + step / 2 + 1) % n
        };
        let oid = outlook_id(&ids[oi]).ok_or("a synced Zoho contact has no Outlook twin")?;
        outlook.update(&oid, |r| {
            if let Record::Contact(c) = r {
                c.job_title = format!("Outlook edit {j}");
            }
        });
    }
    phase("changed", true)?;

    set_feeds(&zoho, true);
    set_feeds(&outlook, true);
    phase("delta_catchup", false)?;
    phase("noop_delta", true)?;
    Ok(())
}
