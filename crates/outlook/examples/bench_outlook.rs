//! Counts Graph requests for a first sync of N contacts into Outlook and a delta read-back,
//! against the minimum (⌈N/20⌉ batches; ⌈N/page⌉ delta pages), then the wall time with 50 ms of
//! injected latency per request.
//!
//! `cargo run -p crmsync-outlook --example bench_outlook --release -- [N] [page_size]`
//! (N defaults to 10000, the page size to 200).
#![allow(clippy::unwrap_used)] // A benchmark: a failure should stop it loudly.

use std::sync::Arc;
use std::time::Instant;

use crmsync_core::secret::SecretStoreError;
use crmsync_core::{
    AccessToken, AccessTokenProvider, CategoryFilter, Connector, Contact, Kind, Next, Operation,
    PageRequest, Record, Scope, Secret, SyncId, ZohoScope,
};
use crmsync_emulator::graph::{GraphConfig, GraphEmulator, GraphFaults};
use crmsync_outlook::{Auth, OutlookConnector, OutlookOptions};

struct Tokens(Arc<GraphEmulator>);

impl AccessTokenProvider for Tokens {
    fn access_token(&self, _: &[String], _: bool) -> Result<AccessToken, SecretStoreError> {
        Ok(AccessToken {
            token: Secret::new(self.0.issue_access_token()),
            expires_at: chrono::Utc::now().timestamp() + 3600,
        })
    }
}

async fn run(n: usize, page: u32, latency_ms: u64) -> (u64, u64, u64, std::time::Duration) {
    let emu = Arc::new(GraphEmulator::start(GraphConfig::default()).await.unwrap());
    emu.set_faults(GraphFaults {
        latency_ms,
        ..emu.faults()
    });
    let auth = Arc::new(Auth::host(Arc::new(Tokens(Arc::clone(&emu)))));
    let conn = OutlookConnector::new(
        emu.graph_url(),
        auth,
        OutlookOptions {
            page_size: page,
            ..Default::default()
        },
    );
    let scope = Scope {
        kind: Kind::Contact,
        container: None,
        zoho: ZohoScope::default(),
        window: None,
        categories: CategoryFilter::All,
        zoho_category: "Zoho".into(),
    };
    // Discover the default folder first so the counts below are only the sync's.
    conn.default_contact_folder().await.unwrap();
    let started = Instant::now();
    emu.reset_counters();
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
    for chunk in ops.chunks(20) {
        for r in conn.apply(&scope, chunk.to_vec()).await.unwrap() {
            r.unwrap();
        }
    }
    let writes = emu.counters().graph_requests();
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        eprintln!("{:?}", emu.counters().by_endpoint);
    }
    emu.reset_counters();
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
    assert_eq!(seen, n);
    let reads = emu.counters().graph_requests();
    let items = emu.counters().batch_items();
    (writes, reads, items, started.elapsed())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let page: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let (writes, reads, _, t0) = run(n, page, 0).await;
    println!("contacts: {n}, delta page size: {page}");
    println!(
        "first sync writes: {writes} requests (minimum {} batches)",
        n.div_ceil(20)
    );
    println!(
        "delta read-back:   {reads} requests (minimum {} pages)",
        n.div_ceil(page as usize)
    );
    println!("wall time, no latency: {t0:.2?}");
    let (_, _, _, t50) = run(n, page, 50).await;
    println!("wall time, 50 ms latency per request: {t50:.2?}");
}
