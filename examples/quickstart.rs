//! Quick start: the library wired to the Zoho and Graph emulators, as a host app would wire it
//! to the real services. `cargo run --example quickstart`
//!
//! Zoho has Ada and 张伟, Outlook has Ada (a twin, linked not duplicated) and Alan. The first sync
//! makes both sides agree; the second writes nothing.

use crmsync::app::{AppConfig, SecretBackend, SyncClient};
use crmsync::core::{CancelToken, Secret, SyncOptions};
use crmsync_emulator::graph::{GraphConfig, GraphEmulator};
use crmsync_emulator::zoho::{ZohoConfig, ZohoEmulator, DEFAULT_CLIENT_ID};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let zoho = ZohoEmulator::start(ZohoConfig::default()).await?;
    let graph = GraphEmulator::start(GraphConfig::default()).await?;
    zoho.insert_record(
        "Contacts",
        json!({"First_Name": "Ada", "Last_Name": "Lovelace", "Email": "ada@example.org"}),
    )?;
    zoho.insert_record(
        "Contacts",
        json!({"First_Name": "伟", "Last_Name": "张", "Email": "zhang.wei@example.cn"}),
    )?;
    let folder = graph.default_contact_folder();
    graph.insert_contact(&folder, json!({"givenName": "Ada", "surname": "Lovelace", "jobTitle": "Countess", "emailAddresses": [{"address": "ada@example.org"}]}))?;
    graph.insert_contact(&folder, json!({"givenName": "Alan", "surname": "Turing", "emailAddresses": [{"address": "alan@example.org"}]}))?;

    // One home directory: settings.toml, state.db, the lock and (here) a 0600 secrets file.
    let home = tempfile::tempdir()?;
    let mut config = AppConfig::new(home.path());
    config.overrides.zoho_accounts_url = Some(zoho.accounts_url());
    config.overrides.zoho_api_url = Some(zoho.api_url());
    config.overrides.ms_login_url = Some(graph.login_url());
    config.overrides.graph_url = Some(graph.graph_url());
    config.overrides.secret_store = Some(SecretBackend::File);
    let client = SyncClient::open(config)?;
    client.set("zoho.client_id", DEFAULT_CLIENT_ID)?;
    client.set("outlook.client_id", "quickstart")?;

    // Sign in (the refresh-token paths; `login_*_browser` run the PKCE flows).
    let token = zoho
        .issue_refresh_token("owner@example.com")
        .ok_or("no user")?;
    client.login_zoho_refresh_token(Secret::new(token)).await?;
    client
        .login_outlook_refresh_token(Secret::new(graph.issue_refresh_token("quickstart")))
        .await?;

    for round in ["first", "second"] {
        let out = client
            .sync(&SyncOptions::default(), None, CancelToken::new())
            .await?;
        let c = &out.report.kinds[0].counts;
        println!(
            "{round} sync: contacts created in Zoho {} / in Outlook {}, linked {}, writes {}",
            c.created_in_zoho,
            c.created_in_outlook,
            c.linked,
            out.report.writes()
        );
    }
    println!(
        "Zoho has {} contacts, Outlook has {}",
        zoho.records("Contacts").len(),
        graph.contacts(&folder).len()
    );
    Ok(())
}
