use serde_json::json;

use crate::support::{by, id, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choose_folder_and_categories_sync_edit_sync_status_history_and_the_guard() {
    let env = Env::new().await;
    env.login().await;
    let clients = env
        .gemu
        .create_contact_folder(None, "Clients")
        .expect("folder");
    env.gemu.add_category("Customer", "preset7").unwrap();

    // What can be chosen.
    let folders = env.ok(&["folders", "--json"]).await.json();
    let names: Vec<&str> = folders
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.iter().any(|n| n.contains("Clients")), "{folders}");
    let cats = env.ok(&["categories"]).await.stdout;
    assert!(cats.contains("Customer"), "{cats}");
    env.ok(&["task-lists"]).await;
    env.ok(&["calendars"]).await;

    env.ok(&["config", "set", "contacts.folder", &clients])
        .await;
    env.ok(&["config", "set", "events.categories", "chosen:Customer"])
        .await;

    // Data on both sides; an Outlook contact outside the chosen folder stays there.
    for (first, last, email) in [
        ("伟", "张", "zhang.wei@example.cn"),
        ("Ada", "Lovelace", "ada@example.org"),
    ] {
        env.zemu
            .insert_record(
                "Contacts",
                json!({"First_Name": first, "Last_Name": last, "Email": email}),
            )
            .unwrap();
    }
    env.gemu
        .insert_contact(&clients, json!({"givenName": "Alan", "surname": "Turing", "emailAddresses": [{"address": "alan@example.org"}]}))
        .unwrap();
    env.gemu
        .insert_contact(
            &env.gemu.default_contact_folder(),
            json!({"givenName": "Not", "surname": "Chosen"}),
        )
        .unwrap();
    let soon = chrono::Utc::now() + chrono::Duration::days(2);
    let t = |h: i64| {
        (soon + chrono::Duration::hours(h))
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string()
    };
    env.gemu
        .insert_event(&env.gemu.default_calendar(), json!({"subject": "Customer visit", "categories": ["Customer"],
            "start": {"dateTime": t(0), "timeZone": "UTC"}, "end": {"dateTime": t(1), "timeZone": "UTC"}}))
        .unwrap();
    env.gemu
        .insert_event(&env.gemu.default_calendar(), json!({"subject": "Gym", "categories": ["Personal"],
            "start": {"dateTime": t(3), "timeZone": "UTC"}, "end": {"dateTime": t(4), "timeZone": "UTC"}}))
        .unwrap();

    let dry = env.ok(&["sync", "--dry-run", "--json"]).await.json();
    assert_eq!(dry["report"]["dry_run"], true);
    assert!(!dry["plans"].as_array().unwrap().is_empty());
    assert_eq!(
        env.zemu.records("Contacts").len(),
        2,
        "a dry run writes nothing"
    );

    let first = env.ok(&["sync"]).await.stdout;
    assert!(first.contains("contact"), "{first}");
    assert_eq!(env.gemu.contacts(&clients).len(), 3);
    assert_eq!(env.zemu.records("Contacts").len(), 3);
    assert!(by(&env.zemu.records("Contacts"), "Last_Name", "Chosen").is_empty());
    assert_eq!(
        by(&env.zemu.records("Events"), "Event_Title", "Customer visit").len(),
        1
    );
    assert!(by(&env.zemu.records("Events"), "Event_Title", "Gym").is_empty());

    // Edits through the emulators' seeding APIs, then a second sync.
    let zhang = id(by(&env.zemu.records("Contacts"), "Last_Name", "张")[0]);
    env.zemu
        .update_record("Contacts", &zhang, json!({"Title": "总经理"}))
        .unwrap();
    let alan = id(by(&env.gemu.contacts(&clients), "surname", "Turing")[0]);
    env.gemu
        .update_contact(&alan, json!({"jobTitle": "Codebreaker"}))
        .unwrap();
    let second = env
        .ok(&["sync", "--kind", "contacts", "--json"])
        .await
        .json();
    let kinds = second["report"]["kinds"].as_array().unwrap();
    assert_eq!(kinds.len(), 1);
    assert_eq!(kinds[0]["counts"]["updated_in_outlook"], 1);
    assert_eq!(kinds[0]["counts"]["updated_in_zoho"], 1);
    assert_eq!(
        by(&env.gemu.contacts(&clients), "surname", "张")[0]["jobTitle"],
        "总经理"
    );
    let third = env.ok(&["sync", "--json"]).await.json();
    let writes: u64 = third["report"]["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["counts"]["writes"].as_u64().unwrap())
        .sum();
    assert_eq!(writes, 0);

    let status = env.ok(&["status", "--json"]).await.json();
    assert_eq!(status["signed_in"], json!(["zoho", "outlook"]));
    assert_eq!(status["kinds"][0]["mapped"], 3);
    assert_eq!(status["kinds"][0]["zoho_cursor"], true);
    assert!(!status["last_run"].is_null());
    let text = env.ok(&["status"]).await.stdout;
    assert!(text.contains("incremental"), "{text}");
    let history = env.ok(&["history", "--limit", "2", "--json"]).await.json();
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert!(env.ok(&["history"]).await.stdout.lines().count() >= 3);

    // The guard: many contacts vanish from the chosen folder at once.
    for i in 0..20 {
        env.zemu
            .insert_record(
                "Contacts",
                json!({"Last_Name": format!("Bulk{i}"), "Email": format!("bulk{i}@example.com")}),
            )
            .unwrap();
    }
    env.ok(&["sync", "--kind", "contacts"]).await;
    for c in env.gemu.contacts(&clients) {
        env.gemu.delete_contact(&id(&c)).unwrap();
    }
    let r = env.run(&["sync", "--kind", "contacts"]).await;
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout.contains("STOPPED before any write") && r.stdout.contains("--yes"),
        "{r:?}"
    );
    assert_eq!(env.zemu.records("Contacts").len(), 23, "nothing deleted");
    env.ok(&["sync", "--kind", "contacts", "--yes"]).await;
    assert_eq!(env.zemu.records("Contacts").len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sync_at_a_time_per_home_directory() {
    use crmsync_emulator::graph::GraphConfig;
    use crmsync_emulator::zoho::{Faults, ZohoConfig};
    let env = Env::with(
        ZohoConfig {
            faults: Faults {
                latency_ms: 300,
                ..Faults::default()
            },
            ..ZohoConfig::default()
        },
        GraphConfig::default(),
    )
    .await;
    env.login().await;
    env.zemu
        .insert_record("Contacts", json!({"Last_Name": "Lovelace"}))
        .unwrap();
    env.zemu.reset_counters();
    let mut first = env
        .command(&["sync"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The lock is taken before the first request.
    while env.zemu.counters().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let second = env.run(&["sync"]).await;
    assert_eq!(second.code, 1, "{second:?}");
    assert!(
        second.stderr.contains("another crmsync sync is running"),
        "{second:?}"
    );
    let status = tokio::task::spawn_blocking(move || first.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    env.ok(&["sync"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_after_the_batches_in_flight_and_the_next_sync_finishes() {
    use crmsync_emulator::graph::{GraphConfig, GraphFaults};
    use crmsync_emulator::zoho::ZohoConfig;
    let env = Env::with(
        ZohoConfig::default(),
        GraphConfig {
            // Slow enough to interrupt: a round trip per request and server time per item
            // (concurrent batches over the mailbox's limit get quick 429s).
            faults: GraphFaults {
                latency_ms: 20,
                service_ms: 5,
                retry_after_secs: 0.05,
                ..GraphFaults::default()
            },
            ..GraphConfig::default()
        },
    )
    .await;
    env.login().await;
    let records: Vec<serde_json::Value> = (0..400)
        .map(|i| json!({"Last_Name": format!("N{i}"), "Email": format!("n{i}@example.com")}))
        .collect();
    env.zemu.insert_records("Contacts", &records).unwrap();
    let child = env
        .command(&["sync", "--kind", "contacts"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first writes reached Outlook.
    while env.outlook_contacts().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("cancelled"), "{stdout}");
    let partial = env.outlook_contacts().len();
    assert!(partial < 400, "stopped early ({partial})");
    env.ok(&["sync"]).await;
    assert_eq!(env.outlook_contacts().len(), 400);
    assert_eq!(env.zemu.records("Contacts").len(), 400);
}
