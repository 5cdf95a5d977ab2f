//! The first sync of N contacts into an empty Outlook folder and their read-back by delta,
//! against the Graph emulator over loopback HTTP: request counts against the API's minimum
//! (⌈N/20⌉ batches; ⌈N/page⌉ delta pages), and wall time against the critical path.
//!
//! Writes go through the connector the way the engine issues them: batches of `max_batch`
//! operations, `max_concurrency` `apply` calls at once, the client's adaptive window deciding
//! how many batches are in flight. Three runs on a fresh emulator each:
//!
//! - no injected time: the request counts (target ≤ 1.05 × the minimum);
//! - 50 ms network latency per request, no server time, the mailbox limit of 4: the window
//!   should reach 4 and the writes approach ⌈N/20⌉ / 4 × latency;
//! - the same latency plus server time per item (5 ms by default) held inside the mailbox's 4
//!   slots: a second batch in flight exceeds the mailbox, so the run shows the 429s the window
//!   meets, the window it ends with, and the bound set by the mailbox itself (N × service / 4).
//!
//! `cargo run -p crmsync-outlook --example bench_outlook --release -- [N] [page_size]
//! [service_ms]` (N defaults to 10000, the page size to 200, the server time to 5 ms).
#![allow(clippy::unwrap_used)] // A benchmark: a failure should stop it loudly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crmsync_core::secret::SecretStoreError;
use crmsync_core::{
    AccessToken, AccessTokenProvider, CategoryFilter, Connector, Contact, Kind, Next, OpResult,
    Operation, PageRequest, Record, Scope, Secret, SyncId, ZohoScope,
};
use crmsync_emulator::graph::{GraphConfig, GraphEmulator, GraphFaults};
use crmsync_outlook::{Auth, OutlookConnector, OutlookOptions};
use futures::StreamExt as _;

struct Tokens(Arc<GraphEmulator>);

impl AccessTokenProvider for Tokens {
    fn access_token(&self, _: &[String], _: bool) -> Result<AccessToken, SecretStoreError> {
        Ok(AccessToken {
            token: Secret::new(self.0.issue_access_token()),
            expires_at: chrono::Utc::now().timestamp() + 3600,
        })
    }
}

/// What one run measured.
struct Run {
    writes: u64,
    write_time: Duration,
    reads: u64,
    read_time: Duration,
    throttled: u64,
    window: usize,
    peak_batches: usize,
    peak_items: usize,
}

async fn run(n: usize, page: u32, faults: GraphFaults) -> Run {
    let emu = Arc::new(GraphEmulator::start(GraphConfig::default()).await.unwrap());
    let auth = Arc::new(Auth::host(Arc::new(Tokens(Arc::clone(&emu)))));
    let conn = OutlookConnector::new(
        emu.graph_url(),
        auth,
        OutlookOptions {
            page_size: page,
            ..Default::default()
        },
    );
    let folder = emu.default_contact_folder();
    let scope = Scope {
        kind: Kind::Contact,
        container: Some(folder.clone()),
        zoho: ZohoScope::default(),
        window: None,
        categories: CategoryFilter::All,
        zoho_category: "Zoho".into(),
    };
    emu.set_faults(faults);
    emu.reset_counters();
    let caps = conn.capabilities();
    let ops: Vec<Operation> = (0..n)
        .map(|i| Operation::Create {
            sync_id: SyncId(format!("bench-{i}")),
            record: Record::Contact(Contact {
                given_name: format!("Given{i}"),
                family_name: "Bench".into(),
                emails: vec![format!("p{i}@example.com")],
                ..Default::default()
            })
            .into(),
        })
        .collect();
    let chunks: Vec<Vec<Operation>> = ops.chunks(caps.max_batch).map(<[_]>::to_vec).collect();
    let started = Instant::now();
    let results: Vec<Vec<OpResult>> = futures::stream::iter(chunks)
        .map(|c| async { conn.apply(&scope, c).await.unwrap() })
        .buffer_unordered(caps.max_concurrency)
        .collect()
        .await;
    let write_time = started.elapsed();
    let written = results.into_iter().flatten().filter(Result::is_ok).count();
    assert_eq!(written, n, "every create succeeded");
    assert_eq!(emu.contacts(&folder).len(), n, "each contact landed once");
    let c = emu.counters();
    let writes = c.graph_requests();
    let throttled = c.get("throttled: MailboxConcurrency") + c.get("throttled: TooManyRequests");
    let peaks = emu.concurrency();
    let window = conn.batch_window();
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        eprintln!("{:?}", c.by_endpoint);
    }
    emu.reset_counters();
    let started = Instant::now();
    let mut token = None;
    let mut seen = 0;
    loop {
        let p = conn
            .list(&PageRequest {
                scope: scope.clone(),
                page: token.clone(),
            })
            .await
            .unwrap();
        seen += p.items.len();
        match p.next {
            Next::Page(t) => token = Some(t),
            Next::Done(_) => break,
        }
    }
    let read_time = started.elapsed();
    assert_eq!(seen, n);
    Run {
        writes,
        write_time,
        reads: emu.counters().graph_requests(),
        read_time,
        throttled,
        window,
        peak_batches: peaks.peak_batches,
        peak_items: peaks.peak_items,
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let page: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let service_ms: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(5);
    let latency_ms: u64 = 50;
    let min_batches = n.div_ceil(20) as u64;
    let min_pages = n.div_ceil(page as usize) as u64;
    println!("contacts: {n}, batch: 20, delta page size: {page}, mailbox limit: 4");

    let base = GraphFaults {
        retry_after_secs: 2.128,
        concurrency_limit: Some(4),
        ..GraphFaults::default()
    };
    let r0 = run(n, page, base.clone()).await;
    let ratio = |got: u64, min: u64| got as f64 / min as f64;
    println!(
        "requests, first sync writes: {} (minimum {min_batches} batches, {:.3}×, target ≤ 1.05×)",
        r0.writes,
        ratio(r0.writes, min_batches)
    );
    println!(
        "requests, delta read-back:   {} (minimum {min_pages} pages, {:.3}×, target ≤ 1.05×)",
        r0.reads,
        ratio(r0.reads, min_pages)
    );
    println!(
        "no injected time: writes {}, read-back {}, window {}, peak batches {}",
        secs(r0.write_time),
        secs(r0.read_time),
        r0.window,
        r0.peak_batches
    );

    let r1 = run(
        n,
        page,
        GraphFaults {
            latency_ms,
            ..base.clone()
        },
    )
    .await;
    let critical = Duration::from_millis(min_batches.div_ceil(4) * latency_ms);
    println!(
        "{latency_ms} ms latency: writes {} (critical path ⌈{min_batches}/4⌉ × {latency_ms} ms = {}, {:.2}×), \
         {} requests, 429s {}, final window {}, peak batches {}, peak items {}",
        secs(r1.write_time),
        secs(critical),
        r1.write_time.as_secs_f64() / critical.as_secs_f64(),
        r1.writes,
        r1.throttled,
        r1.window,
        r1.peak_batches,
        r1.peak_items
    );
    let read_path = Duration::from_millis(min_pages * latency_ms);
    println!(
        "{latency_ms} ms latency: read-back {} ({min_pages} pages in sequence × {latency_ms} ms = {})",
        secs(r1.read_time),
        secs(read_path)
    );

    let r2 = run(
        n,
        page,
        GraphFaults {
            latency_ms,
            service_ms,
            ..base
        },
    )
    .await;
    // The mailbox serves at most 4 items at a time: N × service / 4 whatever the client does.
    let mailbox_bound = Duration::from_millis(n as u64 * service_ms / 4).max(critical);
    println!(
        "{latency_ms} ms latency + {service_ms} ms server time per item: writes {} (mailbox bound \
         {n} × {service_ms} ms / 4 = {}), {} requests, 429s {}, final window {}, peak batches {}, \
         peak items {}",
        secs(r2.write_time),
        secs(mailbox_bound),
        r2.writes,
        r2.throttled,
        r2.window,
        r2.peak_batches,
        r2.peak_items
    );
}
