use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crmsync_emulator::graph::GraphConfig;
use crmsync_emulator::zoho::{ZohoConfig, DEFAULT_CLIENT_ID};

use crate::support::{Env, GRAPH_CLIENT};

/// Starts `crmsync args…`, waits for a stderr line matching `pick`, hands it to `act` (the
/// scripted browser or the approval), then waits for the exit.
async fn interactive(
    env: &Env,
    args: &[&str],
    pick: fn(&str) -> Option<String>,
    act: impl FnOnce(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) -> (i32, String, String) {
    let mut child = env
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    let mut found = None;
    while let Some(line) = tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
        .await
        .expect("crmsync printed nothing in time")
    {
        if let Some(v) = pick(&line) {
            found = Some(v);
            break;
        }
    }
    act(found.expect("the expected line")).await;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .unwrap();
    let stderr = reader.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

fn url_line(l: &str) -> Option<String> {
    l.starts_with("http").then(|| l.trim().to_string())
}

fn browse(url: String) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let r = reqwest::get(&url)
            .await
            .expect("the browser reaches the redirect");
        assert!(r.status().is_success(), "{}", r.status());
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_browser_sign_in_with_pkce_against_the_emulator() {
    let env = Env::with(
        ZohoConfig {
            data_centres: vec!["us".into(), "eu".into()],
            ..ZohoConfig::default()
        },
        GraphConfig::default(),
    )
    .await;
    env.ok(&["config", "set", "zoho.redirect_port", "0"]).await;
    let (code, stdout, stderr) = interactive(
        &env,
        &[
            "login",
            "zoho",
            "--client-id",
            DEFAULT_CLIENT_ID,
            "--no-browser",
        ],
        url_line,
        browse,
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("Open this URL"), "{stderr}");
    assert!(stdout.contains("signed in to zoho"), "{stdout}");
    let who = env.ok(&["whoami", "--json"]).await.json();
    assert_eq!(who[0]["service"], "zoho");
    assert!(who[0]["problem"].is_null(), "{who}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_browser_and_device_code_sign_ins() {
    let env = Env::with(
        ZohoConfig::default(),
        GraphConfig {
            device_code_interval_secs: 1,
            ..GraphConfig::default()
        },
    )
    .await;
    let (code, stdout, stderr) = interactive(
        &env,
        &[
            "login",
            "outlook",
            "--client-id",
            GRAPH_CLIENT,
            "--no-browser",
        ],
        url_line,
        browse,
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("signed in to outlook"), "{stdout}");

    env.ok(&["logout", "outlook"]).await;
    let st = env.ok(&["status", "--json"]).await.json();
    assert_eq!(st["signed_in"], serde_json::json!([]));

    let gemu = &env.gemu;
    let (code, stdout, stderr) = {
        let approve = |user_code: String| {
            assert!(gemu.approve_device_code(&user_code), "known code");
            Box::pin(async {}) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        };
        interactive(
            &env,
            &["login", "outlook", "--device-code"],
            |l| {
                l.split("enter the code ")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .map(str::to_string)
            },
            approve,
        )
        .await
    };
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let st = env.ok(&["status", "--json"]).await.json();
    assert_eq!(st["signed_in"], serde_json::json!(["outlook"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_token_and_grant_code_sign_ins_and_clear_errors() {
    let env = Env::new().await;
    let r = env
        .run(&[
            "login",
            "zoho",
            "--client-id",
            DEFAULT_CLIENT_ID,
            "--refresh-token",
            "1000.bogus",
        ])
        .await;
    assert_ne!(r.code, 0);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{r:?}");
    assert!(errors[0].contains("crmsync login zoho"), "{r:?}");
    assert!(
        !r.stderr.contains("1000.bogus"),
        "the token is not echoed: {r:?}"
    );

    let code = env
        .zemu
        .issue_grant_code("owner@example.com", DEFAULT_CLIENT_ID, None, None)
        .unwrap();
    env.ok(&[
        "login",
        "zoho",
        "--client-id",
        DEFAULT_CLIENT_ID,
        "--grant-code",
        &code,
    ])
    .await;
    let (zoho_refresh, _) = env.login().await;
    let who = env.ok(&["whoami", "--json"]).await.json();
    let services: Vec<&str> = who
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["zoho", "outlook"]);
    assert!(
        who.as_array()
            .unwrap()
            .iter()
            .all(|a| a["problem"].is_null()),
        "{who}"
    );

    env.ok(&["logout"]).await;
    let who = env.ok(&["whoami"]).await.stdout;
    assert!(who.contains("not signed in"), "{who}");
    let r = env.run(&["sync"]).await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("crmsync login zoho"), "{r:?}");
    // The sign-out revoked the refresh token at Zoho.
    let r = env
        .run(&["login", "zoho", "--refresh-token", &zoho_refresh])
        .await;
    assert_ne!(r.code, 0, "a revoked token no longer signs in: {r:?}");
}
