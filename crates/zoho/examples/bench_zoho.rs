//! Benchmark of the Zoho connector's request economy and wall time against the Zoho emulator.
//!
//! ```text
//! cargo run --release -p crmsync-zoho --example bench_zoho -- --records 10000 [--latencies 0,50]
//! ```
//!
//! For each injected latency (emulator `Faults.latency_ms`) it starts a fresh emulator, signs in
//! through the self-client path (a grant code from the "API console" exchanged for tokens), then
//! (a) reads N seeded contacts through `Connector::list` pages and (b) creates N contacts through
//! `Connector::apply` in batches of the connector's `max_batch`, up to its `max_concurrency`
//! batches at once (as the engine runs them). One JSON line per measurement: the API requests
//! made (emulator per-endpoint counters, `/_emulator/` excluded; token and metadata calls counted
//! apart), the minimum (⌈N/200⌉ reads, ⌈N/100⌉ writes), their ratio (target ≤ 1.05), wall time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crmsync_core::secret::MemorySecretStore;
use crmsync_core::{
    Connector, Contact, Kind, Next, Operation, PageRequest, Record, Scope, Secret, SyncId,
    ZohoScope,
};
use crmsync_emulator::zoho::{Faults, ZohoConfig, ZohoEmulator, DEFAULT_CLIENT_ID};
use crmsync_zoho::auth::{OAuthConfig, ZohoAuth};
use crmsync_zoho::ZohoConnector;
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

const USER: &str = "owner@example.com";
const TARGET_RATIO: f64 = 1.05;

struct Args {
    records: usize,
    latencies: Vec<u64>,
}

fn args() -> BoxResult<Args> {
    let mut a = Args {
        records: 10_000,
        latencies: vec![0, 50],
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        match k.as_str() {
            "--records" => a.records = v.parse()?,
            "--latencies" => {
                a.latencies = v
                    .split(',')
                    .map(|x| x.trim().parse())
                    .collect::<Result<_, _>>()?
            }
            _ => return Err(format!("unknown argument {k}").into()),
        }
    }
    Ok(a)
}

fn scope() -> Scope {
    Scope {
        kind: Kind::Contact,
        container: None,
        zoho: ZohoScope::OwnedByMe,
        window: None,
        categories: Default::default(),
        zoho_category: "Zoho".into(),
    }
}

/// Splits counter deltas into data-API calls, token calls and metadata calls.
fn split(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> (u64, u64, u64, BTreeMap<String, u64>) {
    let (mut api, mut token, mut meta) = (0, 0, 0);
    let mut by = BTreeMap::new();
    for (k, v) in after {
        let d = v - before.get(k).copied().unwrap_or(0);
        if d == 0 || k.contains("/_emulator/") {
            continue;
        }
        let path = k.split_once(' ').map(|x| x.1).unwrap_or(k);
        if path.starts_with("/oauth/") {
            token += d;
        } else if path.starts_with("/settings/") || path.starts_with("/users") || path == "/org" {
            meta += d;
        } else {
            api += d;
            by.insert(k.clone(), d);
        }
    }
    (api, token, meta, by)
}

#[allow(clippy::too_many_arguments)]
fn line(
    what: &str,
    n: usize,
    latency: u64,
    minimum: u64,
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
    wall_ms: u128,
    extra: Value,
) -> f64 {
    let (api, token, meta, by) = split(before, after);
    let ratio = api as f64 / minimum.max(1) as f64;
    let mut v = json!({
        "measure": what,
        "records": n,
        "latency_ms": latency,
        "api_requests": api,
        "minimum": minimum,
        "ratio": (ratio * 1000.0).round() / 1000.0,
        "target": TARGET_RATIO,
        "ok": ratio <= TARGET_RATIO,
        "token_calls": token,
        "metadata_calls": meta,
        "wall_ms": wall_ms,
        "by_endpoint": by,
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    println!("{v}");
    ratio
}

async fn run(n: usize, latency: u64) -> BoxResult<bool> {
    let emu = ZohoEmulator::start(ZohoConfig::default()).await?;
    // Self-client sign-in: a grant code from the API console, exchanged at the accounts server.
    let c0 = emu.counters();
    let code = emu
        .issue_grant_code(USER, DEFAULT_CLIENT_ID, None, None)
        .ok_or("the emulator refused a grant code")?;
    let mut cfg = OAuthConfig::new(DEFAULT_CLIENT_ID, 0);
    cfg.sign_in_accounts = emu.accounts_url();
    let auth = ZohoAuth::from_grant_code(
        cfg,
        Arc::new(MemorySecretStore::default()),
        &emu.accounts_url(),
        &Secret::new(code),
    )
    .await?;
    let t = Instant::now();
    let zoho = Arc::new(ZohoConnector::connect(Arc::new(auth), Default::default()).await?);
    let c1 = emu.counters();
    line(
        "connect",
        0,
        0,
        0,
        &c0,
        &c1,
        t.elapsed().as_millis(),
        json!({}),
    );
    let seed: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "Last_Name": format!("Seeded {i}"),
                "First_Name": "Bench",
                "Email": format!("seeded{i}@example.com"),
            })
        })
        .collect();
    for chunk in seed.chunks(1000) {
        emu.insert_records("Contacts", chunk)
            .map_err(|e| e.to_string())?;
    }
    emu.set_faults(Faults {
        latency_ms: latency,
        ..Default::default()
    });

    // (a) Read every seeded contact through list pages.
    let before = emu.counters();
    let t = Instant::now();
    let mut page = None;
    let mut read = 0usize;
    let mut pages = 0usize;
    loop {
        let p = zoho
            .list(&PageRequest {
                scope: scope(),
                page,
            })
            .await?;
        pages += 1;
        read += p.items.len();
        match p.next {
            Next::Page(tok) => page = Some(tok),
            Next::Done(_) => break,
        }
    }
    let wall = t.elapsed().as_millis();
    if read != n {
        return Err(format!("read {read} contacts, expected {n}").into());
    }
    let r1 = line(
        "list",
        n,
        latency,
        n.div_ceil(200) as u64,
        &before,
        &emu.counters(),
        wall,
        json!({"pages": pages}),
    );

    // (b) Create N contacts through apply, batches of max_batch, max_concurrency at once.
    let caps = zoho.capabilities();
    let ops: Vec<Operation> = (0..n)
        .map(|i| Operation::Create {
            sync_id: SyncId(format!("bench-{latency}-{i}")),
            record: Record::Contact(Contact {
                given_name: "New".into(),
                family_name: format!("Created {i}"),
                emails: vec![format!("created{i}@example.com")],
                ..Default::default()
            })
            .into(),
        })
        .collect();
    let batches: Vec<Vec<Operation>> = ops
        .chunks(caps.max_batch)
        .map(<[Operation]>::to_vec)
        .collect();
    let before = emu.counters();
    let t = Instant::now();
    let results: Vec<_> = stream::iter(batches)
        .map(|b| {
            let z = zoho.clone();
            async move { z.apply(&scope(), b).await }
        })
        .buffer_unordered(caps.max_concurrency.max(1))
        .collect()
        .await;
    let wall = t.elapsed().as_millis();
    let mut ok = 0usize;
    for r in results {
        ok += r?.iter().filter(|x| x.is_ok()).count();
    }
    if ok != n {
        return Err(format!("created {ok} contacts, expected {n}").into());
    }
    let r2 = line(
        "apply_create",
        n,
        latency,
        n.div_ceil(100) as u64,
        &before,
        &emu.counters(),
        wall,
        json!({"max_batch": caps.max_batch, "max_concurrency": caps.max_concurrency}),
    );
    Ok(r1 <= TARGET_RATIO && r2 <= TARGET_RATIO)
}

#[tokio::main]
async fn main() -> BoxResult<()> {
    let a = args()?;
    let mut all_ok = true;
    for l in &a.latencies {
        all_ok &= run(a.records, *l).await?;
    }
    if !all_ok {
        return Err("a request ratio is above the target".into());
    }
    Ok(())
}
