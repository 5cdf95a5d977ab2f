use crate::support::BIN;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_completes_and_its_final_check_holds() {
    let out = tokio::task::spawn_blocking(|| {
        std::process::Command::new(BIN)
            .args(["demo", "--records", "200", "--json"])
            .env_remove("RUST_LOG")
            .output()
            .expect("runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], true, "{stdout}");
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let writes = |r: &serde_json::Value| -> u64 {
        r["report"]["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["counts"]["writes"].as_u64().unwrap())
            .sum()
    };
    assert!(writes(&runs[0]) > 100, "the first sync fills both sides");
    assert!(writes(&runs[1]) > 0, "the second sync carries the edits");
    assert_eq!(writes(&runs[2]), 0, "the third sync writes nothing");
    let checks = v["checks"].as_array().unwrap();
    assert!(checks.len() >= 6);
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_reports_and_the_final_check() {
    let out = tokio::task::spawn_blocking(|| {
        std::process::Command::new(BIN)
            .args(["demo", "--records", "40"])
            .env_remove("RUST_LOG")
            .output()
            .expect("runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for needle in [
        "== first sync",
        "== second sync",
        "== third sync",
        "conflict",
        "[ok] third sync writes nothing",
        "demo passed",
    ] {
        assert!(stdout.contains(needle), "{needle:?} missing in:\n{stdout}");
    }
}
