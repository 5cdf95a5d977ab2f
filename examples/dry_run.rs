//! Dry run: what a sync would do, as JSON, without writing anything.
//! `cargo run --example dry_run`

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
        json!({"First_Name": "Grace", "Last_Name": "Hopper", "Email": "grace@example.org"}),
    )?;
    zoho.insert_record(
        "Tasks",
        json!({"Subject": "Send the proposal", "Status": "Not Started"}),
    )?;
    graph.insert_contact(
        &graph.default_contact_folder(),
        json!({"givenName": "Grace", "surname": "Hopper", "jobTitle": "Rear Admiral", "emailAddresses": [{"address": "grace@example.org"}]}),
    )?;

    let home = tempfile::tempdir()?;
    let mut config = AppConfig::new(home.path());
    config.overrides.zoho_accounts_url = Some(zoho.accounts_url());
    config.overrides.zoho_api_url = Some(zoho.api_url());
    config.overrides.ms_login_url = Some(graph.login_url());
    config.overrides.graph_url = Some(graph.graph_url());
    config.overrides.secret_store = Some(SecretBackend::File);
    let client = SyncClient::open(config)?;
    client.set("zoho.client_id", DEFAULT_CLIENT_ID)?;
    client.set("outlook.client_id", "dry-run")?;
    let token = zoho
        .issue_refresh_token("owner@example.com")
        .ok_or("no user")?;
    client.login_zoho_refresh_token(Secret::new(token)).await?;
    client
        .login_outlook_refresh_token(Secret::new(graph.issue_refresh_token("dry-run")))
        .await?;

    let opts = SyncOptions {
        dry_run: true,
        ..SyncOptions::default()
    };
    let out = client.sync(&opts, None, CancelToken::new()).await?;
    println!("{}", serde_json::to_string_pretty(&out.plans)?);
    assert_eq!(
        zoho.records("Contacts").len(),
        1,
        "a dry run writes nothing"
    );
    Ok(())
}
