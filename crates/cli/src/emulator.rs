//! `crmsync emulator`: the loopback emulators in the foreground, seeded, with their URLs and the
//! credentials to reach them (emulator credentials, printed on purpose).

use std::process::ExitCode;

use clap::Args;
use crmsync::app::AppError;
use crmsync_emulator::graph::{GraphConfig, GraphEmulator};
use crmsync_emulator::zoho::{ZohoConfig, ZohoEmulator, DEFAULT_CLIENT_ID};

use crate::seed;

/// The client id the Graph emulator is started with (any id works unless one is configured).
pub const GRAPH_CLIENT_ID: &str = "crmsync-emulator";

#[derive(Args, Debug)]
pub struct EmulatorArgs {
    /// Port of the Zoho API server (0 = any free port).
    #[arg(long, default_value_t = 0)]
    zoho_port: u16,
    /// Port of the Graph server (0 = any free port).
    #[arg(long, default_value_t = 0)]
    graph_port: u16,
    /// Records to seed (0 = empty services).
    #[arg(long, default_value_t = 0)]
    records: usize,
}

pub async fn run(args: &EmulatorArgs, json: bool) -> Result<ExitCode, AppError> {
    let io = |what: &str, e: std::io::Error| AppError::Io(format!("cannot start {what}: {e}"));
    let zoho = ZohoEmulator::start(ZohoConfig {
        api_port: args.zoho_port,
        ..ZohoConfig::default()
    })
    .await
    .map_err(|e| io("the Zoho emulator", e))?;
    let graph = GraphEmulator::start(GraphConfig {
        graph_port: args.graph_port,
        ..GraphConfig::default()
    })
    .await
    .map_err(|e| io("the Graph emulator", e))?;
    if args.records > 0 {
        seed::seed(&zoho, &graph, args.records).map_err(AppError::Service)?;
    }
    let zoho_refresh = zoho
        .issue_refresh_token("owner@example.com")
        .unwrap_or_default();
    let graph_refresh = graph.issue_refresh_token(GRAPH_CLIENT_ID);
    let info = serde_json::json!({
        "zoho": {
            "accounts_url": zoho.accounts_url(),
            "api_url": zoho.api_url(),
            "control_url": format!("{}/_emulator", zoho.api_url()),
            "client_id": DEFAULT_CLIENT_ID,
            "user": "owner@example.com",
            "refresh_token": zoho_refresh,
        },
        "graph": {
            "login_url": graph.login_url(),
            "graph_url": graph.graph_url(),
            "control_url": format!("{}/_emulator", graph.base_url()),
            "client_id": GRAPH_CLIENT_ID,
            "refresh_token": graph_refresh,
        },
    });
    if json {
        crate::output::json(&info);
    } else {
        println!(
            "Zoho CRM emulator (control API {}/_emulator/info)",
            zoho.api_url()
        );
        println!(
            "Microsoft Graph emulator (control API {}/_emulator)",
            graph.base_url()
        );
        println!("Point crmsync at them (these are emulator credentials, not real ones):");
        println!("  export CRMSYNC_HOME=$(mktemp -d)");
        println!("  export CRMSYNC_ZOHO_ACCOUNTS_URL={}", zoho.accounts_url());
        println!("  export CRMSYNC_ZOHO_API_URL={}", zoho.api_url());
        println!("  export CRMSYNC_MS_LOGIN_URL={}", graph.login_url());
        println!("  export CRMSYNC_GRAPH_URL={}", graph.graph_url());
        println!(
            "  crmsync login zoho --client-id {DEFAULT_CLIENT_ID} --refresh-token {zoho_refresh}"
        );
        println!(
            "  crmsync login outlook --client-id {GRAPH_CLIENT_ID} --refresh-token {graph_refresh}"
        );
        println!("  crmsync sync");
        println!("Press Ctrl-C to stop.");
    }
    let _ = tokio::signal::ctrl_c().await;
    Ok(ExitCode::SUCCESS)
}
