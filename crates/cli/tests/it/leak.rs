use serde_json::json;

use crate::support::Env;

/// After a full run with `-v` (and `-vvv`), no access or refresh token appears in the output,
/// the logs or the state database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_in_output_logs_or_state() {
    let env = Env::new().await;
    let mut transcript = String::new();
    let (z, g) = env.login().await;
    env.zemu
        .insert_record(
            "Contacts",
            json!({"Last_Name": "Lovelace", "Email": "ada@example.org"}),
        )
        .unwrap();
    env.gemu
        .insert_contact(
            &env.gemu.default_contact_folder(),
            json!({"surname": "Turing"}),
        )
        .unwrap();
    for args in [
        vec!["-v", "whoami"],
        vec!["-v", "sync"],
        vec!["-vv", "sync", "--json"],
        vec!["-vvv", "status"],
        vec!["-vvv", "sync"],
        vec!["-v", "history", "--json"],
        vec!["-v", "config", "show"],
    ] {
        let r = env.ok(&args).await;
        transcript.push_str(&r.stdout);
        transcript.push_str(&r.stderr);
    }
    // Expire the access tokens so a refresh happens while logging at debug.
    env.zemu.expire_access_tokens();
    env.gemu.expire_access_tokens();
    let r = env.ok(&["-vvv", "sync"]).await;
    transcript.push_str(&r.stdout);
    transcript.push_str(&r.stderr);
    assert!(
        transcript.contains("DEBUG") || transcript.contains("TRACE"),
        "logs were on"
    );

    // Every token: the ones handed in, and whatever the secret store holds now.
    let secrets: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.home.path().join("secrets.json")).unwrap())
            .unwrap();
    let mut tokens = vec![z, g];
    for (k, v) in secrets["secrets"].as_object().unwrap() {
        if k.ends_with("token") {
            let v = v.as_str().unwrap();
            tokens.push(v.split_once(' ').map(|(_, t)| t).unwrap_or(v).to_string());
        }
    }
    assert!(
        tokens.len() >= 4,
        "{:?}",
        secrets.as_object().map(|o| o.keys().collect::<Vec<_>>())
    );
    let mut state = vec![];
    for entry in std::fs::read_dir(env.home.path()).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("state.db") || name.ends_with(".toml") {
            state.extend(std::fs::read(&p).unwrap());
        }
    }
    let state = String::from_utf8_lossy(&state);
    for t in &tokens {
        assert!(t.len() >= 16, "a real token");
        assert!(
            !transcript.contains(t.as_str()),
            "a token leaked into the output"
        );
        assert!(
            !state.contains(t.as_str()),
            "a token leaked into the state or settings"
        );
    }
}
