//! Crash safety of the whole program: SIGKILL `crmsync sync` at many points chosen from a seed
//! (after the emulators counted the k-th write), restart it each time, and check that both sides
//! end up agreeing, without duplicates, and that a further sync writes nothing. Then the same
//! sync under injected faults (429s, 5xx, dropped connections, an expired delta token).
//!
//! The default run is sized to stay fast; `CRMSYNC_SLOW_TESTS=1` runs the large variant.

use std::collections::BTreeMap;
use std::time::Duration;

use crmsync_emulator::graph::{GraphConfig, GraphFaults};
use crmsync_emulator::zoho::{Faults, ZohoConfig};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::support::Env;

struct Size {
    zoho: usize,
    outlook: usize,
    kills: usize,
    latency_ms: u64,
}

fn size() -> Size {
    if std::env::var("CRMSYNC_SLOW_TESTS").is_ok_and(|v| v == "1") {
        Size {
            zoho: 3000,
            outlook: 2000,
            kills: 40,
            latency_ms: 5,
        }
    } else {
        Size {
            zoho: 1200,
            outlook: 800,
            kills: 20,
            latency_ms: 2,
        }
    }
}

/// Reads the emulators have received (GET requests of both, batch items included).
fn reads(env: &Env) -> u64 {
    let z: u64 = env
        .zemu
        .counters()
        .iter()
        .filter(|(k, _)| k.starts_with("GET /"))
        .map(|(_, v)| v)
        .sum();
    let g: u64 = env
        .gemu
        .counters()
        .by_endpoint
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix("$batch ")
                .unwrap_or(k)
                .starts_with("GET /me")
        })
        .map(|(_, v)| v)
        .sum();
    z + g
}

/// Writes the emulators have received: Zoho write requests and Graph write operations (batch
/// items counted one by one).
fn writes(env: &Env) -> u64 {
    let z: u64 = env
        .zemu
        .counters()
        .iter()
        .filter(|(k, _)| {
            (k.starts_with("POST /") || k.starts_with("PUT /") || k.starts_with("DELETE /"))
                && !k.contains("coql")
                && !k.contains("oauth")
                && !k.contains("search")
        })
        .map(|(_, v)| v)
        .sum();
    let g: u64 = env
        .gemu
        .counters()
        .by_endpoint
        .iter()
        .filter(|(k, _)| {
            let k = k.strip_prefix("$batch ").unwrap_or(k);
            (k.starts_with("POST /me") || k.starts_with("PATCH /me") || k.starts_with("DELETE /me"))
                && !k.contains("/delta")
        })
        .map(|(_, v)| v)
        .sum();
    z + g
}

fn seed(env: &Env, s: &Size) {
    let zc: Vec<Value> = (0..s.zoho)
        .map(|i| json!({"First_Name": format!("Z{i}"), "Last_Name": if i % 2 == 0 { "王" } else { "Smith" }, "Email": format!("z{i}@example.com")}))
        .collect();
    env.zemu.insert_records("Contacts", &zc).unwrap();
    let folder = env.gemu.default_contact_folder();
    for i in 0..s.outlook {
        env.gemu
            .insert_contact(&folder, json!({"givenName": format!("O{i}"), "surname": "Jones", "emailAddresses": [{"address": format!("o{i}@example.com")}]}))
            .unwrap();
    }
    // A few twins.
    for i in 0..5 {
        env.gemu
            .insert_contact(&folder, json!({"givenName": format!("Z{i}"), "surname": if i % 2 == 0 { "王" } else { "Smith" }, "emailAddresses": [{"address": format!("z{i}@example.com")}]}))
            .unwrap();
    }
}

/// Both sides hold the same e-mails, each once.
fn assert_agree(env: &Env, expect: usize) {
    let z: Vec<String> = env
        .zemu
        .records("Contacts")
        .iter()
        .map(|c| c["Email"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    let o: Vec<String> = env
        .outlook_contacts()
        .iter()
        .map(|c| {
            c["emailAddresses"][0]["address"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
        })
        .collect();
    let count = |v: &[String]| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for e in v {
            *m.entry(e.clone()).or_default() += 1;
        }
        m
    };
    let (zm, om) = (count(&z), count(&o));
    let zd: Vec<_> = zm.iter().filter(|(_, n)| **n > 1).collect();
    let od: Vec<_> = om.iter().filter(|(_, n)| **n > 1).collect();
    assert!(zd.is_empty(), "duplicates in Zoho: {zd:?}");
    assert!(od.is_empty(), "duplicates in Outlook: {od:?}");
    assert_eq!(zm.len(), expect, "Zoho holds every contact");
    assert_eq!(om.len(), expect, "Outlook holds every contact");
    assert!(zm.keys().eq(om.keys()), "the same contacts on both sides");
}

async fn sync_writes(env: &Env) -> u64 {
    let r = env.ok(&["sync", "--json"]).await.json();
    r["report"]["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["counts"]["writes"].as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_many_points_then_both_sides_agree_without_duplicates() {
    let s = size();
    let env = Env::with(
        ZohoConfig {
            faults: Faults {
                latency_ms: s.latency_ms,
                ..Faults::default()
            },
            ..ZohoConfig::default()
        },
        GraphConfig {
            // Server time per item (inside the mailbox's slots) paces the writes as the
            // round trip does; concurrent batches that exceed the mailbox get quick 429s.
            faults: GraphFaults {
                latency_ms: s.latency_ms,
                service_ms: s.latency_ms,
                retry_after_secs: 0.05,
                ..GraphFaults::default()
            },
            ..GraphConfig::default()
        },
    )
    .await;
    env.login().await;
    env.ok(&["config", "set", "all.enabled", "false"]).await;
    env.ok(&["config", "set", "contacts.enabled", "true"]).await;
    seed(&env, &s);
    let expect = s.zoho + s.outlook;
    // The first sync writes about one create per record (Graph items one by one, Zoho in
    // batches of 100): spread the kill points over that, each different.
    let span = (s.zoho + s.outlook / 100 + 1) as u64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_c0de);
    let mut points: Vec<u64> = vec![];
    while points.len() < s.kills {
        let k = rng.random_range(1..span);
        // Each point at least a few writes from the others: a different moment of the run.
        if points.iter().all(|p: &u64| p.abs_diff(k) >= 3) {
            points.push(k);
        }
    }
    points.sort();
    // First a few kills while the first run is still reading (listings, metadata), then the
    // write points.
    let mut moments: Vec<(&str, u64)> = [4u64, 9, 15].iter().map(|r| ("read", *r)).collect();
    moments.extend(points.iter().map(|w| ("write", *w)));
    let mut killed = 0;
    let mut finished_early = 0;
    for (what, k) in &moments {
        let mut child = env
            .command(&["sync"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        loop {
            let seen = if *what == "read" {
                reads(&env)
            } else {
                writes(&env)
            };
            if seen >= *k {
                child.kill().expect("SIGKILL");
                let _ = child.wait();
                killed += 1;
                break;
            }
            if let Some(status) = child.try_wait().expect("wait") {
                assert!(status.code().is_some(), "exited by itself");
                finished_early += 1;
                break;
            }
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
    }
    assert!(
        killed >= s.kills * 3 / 4,
        "killed {killed} of {} ({finished_early} finished first)",
        s.kills
    );
    // Restart until a run completes, then a further one writes nothing.
    env.ok(&["sync"]).await;
    assert_agree(&env, expect);
    assert_eq!(sync_writes(&env).await, 0, "a further sync writes nothing");
    eprintln!("kill test: {killed} SIGKILLs at {moments:?}, {finished_early} runs finished before their point");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_under_429s_5xx_dropped_connections_and_an_expired_delta_token() {
    let s = size();
    let env = Env::with(
        ZohoConfig::default(),
        GraphConfig {
            keep_used_refresh_tokens: true,
            ..GraphConfig::default()
        },
    )
    .await;
    env.login().await;
    env.ok(&["config", "set", "all.enabled", "false"]).await;
    env.ok(&["config", "set", "contacts.enabled", "true"]).await;
    seed(&env, &s);
    let faulty = |seed: u64| {
        env.zemu.set_faults(Faults {
            rate_429: 0.05,
            rate_5xx: 0.05,
            rate_drop: 0.03,
            seed,
            ..Faults::default()
        });
        env.gemu.set_faults(GraphFaults {
            throttle_rate: 0.05,
            retry_after_secs: 0.05,
            unavailable_rate: 0.05,
            drop_rate: 0.03,
            ..GraphFaults::default()
        });
    };
    faulty(7);
    // A run may end with records deferred to the next one; it must never fail outright.
    for _ in 0..4 {
        let r = env.run(&["sync", "--json"]).await;
        assert_eq!(r.code, 0, "{r:?}");
    }
    // Edits on both sides, then the delta token expires.
    let zid = env.zemu.records("Contacts")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.zemu
        .update_record("Contacts", &zid, json!({"Title": "Edited in Zoho"}))
        .unwrap();
    env.gemu.expire_delta_tokens();
    let mut relisted = false;
    for _ in 0..3 {
        let r = env.run(&["sync", "--json"]).await;
        assert_eq!(r.code, 0, "{r:?}");
        let full = &r.json()["report"]["kinds"][0]["full_listing"];
        relisted |= full
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s == "outlook"));
    }
    assert!(
        relisted,
        "the expired delta token led to a full listing of Outlook"
    );
    assert!(
        env.gemu.counters().get("throttled: TooManyRequests") > 0,
        "Graph throttled some requests"
    );
    env.zemu.set_faults(Faults::default());
    env.gemu.set_faults(GraphFaults::default());
    env.ok(&["sync"]).await;
    assert_agree(&env, s.zoho + s.outlook);
    let edited: Vec<Value> = env
        .outlook_contacts()
        .into_iter()
        .filter(|c| c["jobTitle"] == "Edited in Zoho")
        .collect();
    assert_eq!(edited.len(), 1);
    assert_eq!(sync_writes(&env).await, 0);
}
