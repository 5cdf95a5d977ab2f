use serde_json::json;

use crate::support::{by, id, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_conflict_is_queued_resolved_from_the_cli_and_synced() {
    let env = Env::new().await;
    env.login().await;
    env.ok(&["config", "set", "contacts.winner", "manual"])
        .await;
    env.zemu
        .insert_record("Contacts", json!({"First_Name": "Ada", "Last_Name": "Lovelace", "Email": "ada@example.org", "Title": "Countess"}))
        .unwrap();
    env.ok(&["sync", "--kind", "contacts"]).await;
    let zid = id(&env.zemu.records("Contacts")[0]);
    let oid = id(&env.outlook_contacts()[0]);

    // The same field on both sides, and another field on one side only.
    env.zemu
        .update_record("Contacts", &zid, json!({"Title": "Mathematician"}))
        .unwrap();
    env.gemu
        .update_contact(
            &oid,
            json!({"jobTitle": "Analyst", "personalNotes": "Notes on the Engine"}),
        )
        .unwrap();
    let r = env
        .ok(&["sync", "--kind", "contacts", "--json"])
        .await
        .json();
    assert_eq!(
        r["report"]["kinds"][0]["counts"]["conflicts_queued"], 1,
        "{r}"
    );
    assert!(env.ok(&["sync"]).await.stdout.contains("contact"));

    let list = env.ok(&["conflicts", "list", "--json"]).await.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0]["resolution"].is_null());
    let cid = list[0]["id"].as_i64().unwrap().to_string();
    let text = env.ok(&["conflicts", "list"]).await.stdout;
    assert!(text.contains("waiting"), "{text}");
    let st = env.ok(&["status", "--json"]).await.json();
    assert_eq!(st["pending_conflicts"], 1);
    // The other field kept syncing while the conflict waits.
    assert_eq!(
        env.zemu.records("Contacts")[0]["Description"],
        "Notes on the Engine"
    );

    let bad = env.run(&["conflicts", "resolve", "999", "zoho"]).await;
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr.contains("no queued conflict with id 999"),
        "{bad:?}"
    );
    env.ok(&["conflicts", "resolve", &cid, "outlook"]).await;
    assert!(env
        .ok(&["conflicts", "list"])
        .await
        .stdout
        .contains("outlook wins"));
    env.ok(&["sync"]).await;
    assert_eq!(env.zemu.records("Contacts")[0]["Title"], "Analyst");
    assert_eq!(
        by(&env.outlook_contacts(), "surname", "Lovelace")[0]["jobTitle"],
        "Analyst"
    );
    assert_eq!(
        env.ok(&["conflicts", "list", "--json"]).await.json(),
        json!([])
    );
    let again = env.ok(&["sync", "--json"]).await.json();
    let writes: u64 = again["report"]["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["counts"]["writes"].as_u64().unwrap())
        .sum();
    assert_eq!(writes, 0);
}
