//! A full two-way sync through the core's engine: Graph emulator ↔ memory connector.

use std::sync::Arc;

use crmsync_core::memory::{fixed_now, MemoryConnector, MemoryStore};
use crmsync_core::{Contact, Engine, Kind, Record, Settings, SyncOptions};
use serde_json::json;

use crate::support::start;

#[tokio::test]
async fn contacts_converge_and_a_second_sync_writes_nothing() {
    let t = start().await;
    let folder = t.emu.default_contact_folder();
    for i in 0..3 {
        t.emu
            .insert_contact(
                &folder,
                json!({"givenName": format!("Out{i}"), "surname": "Look",
                "emailAddresses": [{"address": format!("out{i}@example.com")}]}),
            )
            .unwrap();
    }
    let zoho = Arc::new(MemoryConnector::new("zoho", 100).without_containers());
    for i in 0..4 {
        zoho.insert(
            Record::Contact(Contact {
                given_name: format!("Zo{i}"),
                family_name: "Ho".into(),
                emails: vec![format!("zo{i}@example.com")],
                ..Default::default()
            }),
            None,
        );
    }
    let engine = Engine::new(zoho.clone(), t.conn.clone(), Arc::new(MemoryStore::new()));
    let mut settings = Settings::default();
    settings.tasks.enabled = false;
    settings.events.enabled = false;
    let opts = SyncOptions::default();
    let first = engine.sync(&settings, &opts, fixed_now()).await.unwrap();
    assert_eq!(t.emu.contacts(&folder).len(), 7, "{:?}", first.report);
    assert_eq!(zoho.records(Kind::Contact).len(), 7);
    t.emu.reset_counters();
    let second = engine.sync(&settings, &opts, fixed_now()).await.unwrap();
    let c = &second.report.kinds[0].counts;
    assert_eq!(
        (
            c.created_in_outlook,
            c.created_in_zoho,
            c.updated_in_outlook,
            c.updated_in_zoho
        ),
        (0, 0, 0, 0),
        "{:?}",
        second.report
    );
    let counters = t.emu.counters();
    assert_eq!(
        counters.batch_items(),
        0,
        "no writes on the second sync: {counters:?}"
    );
}
