//! `crmsync`: the reference host of the crmsync library. Every command is a thin layer over
//! [`crmsync::app::SyncClient`]; the demo and the emulator command add the loopback emulators.

mod demo;
mod emulator;
mod output;
mod progress;
mod seed;

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use crmsync::app::{AppConfig, AppError, SyncClient};
use crmsync_core::{CancelToken, Kind, Secret, Side, SyncOptions};

/// The engine allocates many small strings; mimalloc makes a large sync markedly faster than
/// the system allocator (measured with `examples/bench_engine`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Two-way sync of Zoho CRM contacts, tasks and events with Microsoft Outlook.
#[derive(Parser, Debug)]
#[command(name = "crmsync", version, propagate_version = true)]
struct Cli {
    /// More detail in the log (-v info, -vv debug, -vvv trace of crmsync); RUST_LOG wins.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Machine-readable JSON on standard output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the whole job against loopback emulators: seed both sides, sign in, sync, edit, sync.
    Demo(demo::DemoArgs),
    /// Run the Zoho and Graph emulators in the foreground and print their URLs and credentials.
    Emulator(emulator::EmulatorArgs),
    /// Sign in to a service.
    #[command(subcommand)]
    Login(Login),
    /// Sign out: revoke and forget the tokens of one service (both when none is named).
    Logout {
        /// zoho or outlook.
        service: Option<Service>,
    },
    /// Show the signed-in accounts.
    Whoami,
    /// List the Outlook contact folders (for `config set contacts.folder ID`).
    Folders,
    /// List the Outlook To Do lists (for `config set tasks.list ID`).
    TaskLists,
    /// List the Outlook calendars (for `config set events.calendar ID`).
    Calendars,
    /// List the Outlook categories (for `config set events.categories chosen:A,B`).
    Categories,
    /// Show or change settings.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Sync now, printing progress and then the report.
    Sync(SyncArgs),
    /// Last run, cursors, pending conflicts and signed-in accounts.
    Status,
    /// Conflicts kept for you (conflict rule `manual`).
    #[command(subcommand)]
    Conflicts(ConflictsCmd),
    /// Past runs, newest first.
    History {
        /// How many runs.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Service {
    Zoho,
    Outlook,
}

impl From<Service> for Side {
    fn from(s: Service) -> Side {
        match s {
            Service::Zoho => Side::Zoho,
            Service::Outlook => Side::Outlook,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Login {
    /// Sign in to Zoho CRM (browser sign-in with PKCE unless a token or code is given).
    Zoho(ZohoLogin),
    /// Sign in to Microsoft (browser sign-in with PKCE, or the device-code flow).
    Outlook(OutlookLogin),
}

#[derive(Args, Debug)]
struct ZohoLogin {
    /// Data centre of the account: us, eu, in, au, cn, jp, ca, sa.
    #[arg(long)]
    dc: Option<String>,
    /// OAuth client id (saved as zoho.client_id).
    #[arg(long)]
    client_id: Option<String>,
    /// OAuth client secret of a confidential client (kept in the secret store).
    #[arg(long, env = "CRMSYNC_ZOHO_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Sign in with a refresh token (self-client, servers).
    #[arg(
        long,
        env = "CRMSYNC_ZOHO_REFRESH_TOKEN",
        hide_env_values = true,
        conflicts_with = "grant_code"
    )]
    refresh_token: Option<String>,
    /// Sign in with a self-client grant code from Zoho's API console.
    #[arg(long, hide_env_values = true)]
    grant_code: Option<String>,
    /// Print the sign-in URL instead of opening a browser.
    #[arg(long)]
    no_browser: bool,
}

#[derive(Args, Debug)]
struct OutlookLogin {
    /// Use the device-code flow (for terminals without a browser).
    #[arg(long)]
    device_code: bool,
    /// Tenant: common, organizations, consumers, or a tenant id / domain.
    #[arg(long)]
    tenant: Option<String>,
    /// Application (client) id of the app registration (saved as outlook.client_id).
    #[arg(long)]
    client_id: Option<String>,
    /// Sign in with a refresh token.
    #[arg(long, env = "CRMSYNC_MS_REFRESH_TOKEN", hide_env_values = true)]
    refresh_token: Option<String>,
    /// Print the sign-in URL instead of opening a browser.
    #[arg(long)]
    no_browser: bool,
}

#[derive(Subcommand, Debug)]
enum ConfigCmd {
    /// Every setting and its value.
    Show,
    /// One setting's value.
    Get {
        /// Dotted key, e.g. contacts.direction.
        key: String,
    },
    /// Change one setting (validated; the file is unchanged on a bad value).
    ///
    /// Keys: KIND.enabled, KIND.direction (two_way|zoho_to_outlook|outlook_to_zoho),
    /// KIND.folder (Outlook folder/list/calendar id or `default`), KIND.scope
    /// (owned_by_me|all_visible|view:CVID), KIND.winner (zoho|outlook|newest|manual),
    /// KIND.field_merge, KIND.delete_policy (edit_wins|delete_wins), KIND.never_delete_on
    /// (zoho,outlook|none), KIND.guard.enabled|max_share|min_count, events.categories
    /// (zoho_only|all|chosen:A,B), events.zoho_category, events.window.days_back|days_ahead,
    /// events.sync_private_events; `all.KEY` sets a key for every kind; zoho.client_id,
    /// zoho.dc, zoho.accounts_url, zoho.api_url, zoho.redirect_port, zoho.sync_id_field,
    /// outlook.client_id, outlook.tenant, outlook.login_url, outlook.graph_url,
    /// outlook.redirect_port, secrets.store (auto|keyring|file).
    Set {
        /// Dotted key (KIND is contacts, tasks or events).
        key: String,
        /// The new value.
        value: String,
    },
    /// Where the settings file is.
    Path,
}

#[derive(Subcommand, Debug)]
enum ConflictsCmd {
    /// Conflicts waiting for a decision (and decided ones not yet applied).
    List,
    /// Decide a conflict: the named side's values win at the next sync.
    Resolve {
        /// The id from `crmsync conflicts list`.
        id: i64,
        /// zoho or outlook.
        winner: Service,
    },
}

#[derive(Args, Debug)]
struct SyncArgs {
    /// Only this kind: contacts, tasks or events.
    #[arg(long, value_parser = parse_kind)]
    kind: Option<Kind>,
    /// Plan only: show what would change and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Proceed even when the mass-delete guard would stop.
    #[arg(long)]
    yes: bool,
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s).ok_or_else(|| format!("{s:?} is not contacts, tasks or events"))
}

/// Exit codes: 1 = an error, 2 = bad usage (clap), 3 = the mass-delete guard stopped a kind,
/// 4 = a check of the demo failed.
pub(crate) const EXIT_GUARD: u8 = 3;
pub(crate) const EXIT_CHECK: u8 = 4;

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        // Trace only our own crates: HTTP stacks at trace dump more than anyone needs.
        _ => "debug,crmsync=trace,crmsync_core=trace,crmsync_zoho=trace,crmsync_outlook=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose >= 2)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(&cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            if cli.verbose > 0 {
                eprintln!("detail: {e:?}");
            }
            ExitCode::FAILURE
        }
    }
}

fn open_client() -> Result<SyncClient, AppError> {
    let client = SyncClient::open(AppConfig::from_env()?)?;
    if let Some(w) = client.secret_warning() {
        eprintln!("warning: {w}");
    }
    Ok(client)
}

async fn run(cli: &Cli) -> Result<ExitCode, AppError> {
    let json = cli.json;
    match &cli.cmd {
        Cmd::Demo(args) => return demo::run(args, json, cli.verbose).await,
        Cmd::Emulator(args) => return emulator::run(args, json).await,
        _ => {}
    }
    let client = open_client()?;
    match &cli.cmd {
        Cmd::Demo(_) | Cmd::Emulator(_) => {}
        Cmd::Login(Login::Zoho(a)) => {
            if let Some(dc) = &a.dc {
                client.set("zoho.dc", dc)?;
            }
            if let Some(id) = &a.client_id {
                client.set("zoho.client_id", id)?;
            }
            if let Some(s) = &a.client_secret {
                client.set_zoho_client_secret(Some(&Secret::new(s.clone())))?;
            }
            let account = if let Some(t) = &a.refresh_token {
                client
                    .login_zoho_refresh_token(Secret::new(t.clone()))
                    .await?
            } else if let Some(c) = &a.grant_code {
                client.login_zoho_grant_code(Secret::new(c.clone())).await?
            } else {
                let no_browser = a.no_browser;
                client
                    .login_zoho_browser(|url| async move { open_browser(&url, no_browser) })
                    .await?
            };
            output::account(&account, json);
        }
        Cmd::Login(Login::Outlook(a)) => {
            if let Some(t) = &a.tenant {
                client.set("outlook.tenant", t)?;
            }
            if let Some(id) = &a.client_id {
                client.set("outlook.client_id", id)?;
            }
            let account = if let Some(t) = &a.refresh_token {
                client
                    .login_outlook_refresh_token(Secret::new(t.clone()))
                    .await?
            } else if a.device_code {
                client
                    .login_outlook_device_code(|message| async move {
                        eprintln!("{message}");
                    })
                    .await?
            } else {
                let no_browser = a.no_browser;
                client
                    .login_outlook_browser(|url| async move { open_browser(&url, no_browser) })
                    .await?
            };
            output::account(&account, json);
        }
        Cmd::Logout { service } => {
            let services: Vec<Side> = match service {
                Some(s) => vec![(*s).into()],
                None => Side::BOTH.to_vec(),
            };
            for s in services {
                match client.logout(s).await {
                    Ok(()) => eprintln!("signed out of {s}"),
                    Err(e) => eprintln!("signed out of {s} on this machine; {e}"),
                }
            }
        }
        Cmd::Whoami => output::accounts(&client.whoami().await, json),
        Cmd::Folders => output::containers(&client.containers(Kind::Contact).await?, json),
        Cmd::TaskLists => output::containers(&client.containers(Kind::Task).await?, json),
        Cmd::Calendars => output::containers(&client.containers(Kind::Event).await?, json),
        Cmd::Categories => output::categories(&client.categories().await?, json),
        Cmd::Config(ConfigCmd::Show) => output::config(&client.file_config(), json),
        Cmd::Config(ConfigCmd::Get { key }) => println!("{}", client.get(key)?),
        Cmd::Config(ConfigCmd::Set { key, value }) => {
            client.set(key, value)?;
            eprintln!("{key} = {}", client.get(key)?);
        }
        Cmd::Config(ConfigCmd::Path) => {
            println!("{}", client.app_config().settings_path().display())
        }
        Cmd::Sync(a) => return sync(&client, a, json).await,
        Cmd::Status => output::status(&client.status()?, json),
        Cmd::Conflicts(ConflictsCmd::List) => output::conflicts(&client.conflicts()?, json),
        Cmd::Conflicts(ConflictsCmd::Resolve { id, winner }) => {
            client.resolve_conflict(*id, (*winner).into())?;
            eprintln!(
                "conflict {id}: {} wins; run `crmsync sync` to apply it",
                Side::from(*winner)
            );
        }
        Cmd::History { limit } => output::history(&client.history(*limit)?, json),
    }
    Ok(ExitCode::SUCCESS)
}

async fn sync(client: &SyncClient, a: &SyncArgs, json: bool) -> Result<ExitCode, AppError> {
    let opts = SyncOptions {
        kinds: a.kind.map(|k| vec![k]),
        dry_run: a.dry_run,
        force: a.yes,
    };
    let cancel = CancelToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping after the batches in flight (Ctrl-C again to abort)");
            on_ctrl_c.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let bars = Arc::new(progress::Bars::new(json));
    let outcome = client.sync(&opts, Some(bars.clone()), cancel).await;
    bars.finish();
    let outcome = outcome?;
    if json {
        output::json(&serde_json::json!({
            "report": outcome.report,
            "plans": if a.dry_run { serde_json::to_value(&outcome.plans).unwrap_or_default() } else { serde_json::Value::Null },
        }));
    } else {
        output::report(&outcome.report);
        if a.dry_run {
            output::plans(&outcome.plans);
        }
    }
    output::exit_for(&outcome.report)
}

fn open_browser(url: &str, no_browser: bool) {
    let no_browser = no_browser
        || std::env::var_os("CRMSYNC_NO_BROWSER").is_some()
        || std::env::var("BROWSER").is_ok_and(|b| b == "none");
    if !no_browser && try_open(url) {
        eprintln!("A browser window was opened to sign in. If it did not appear, open:");
    } else {
        eprintln!("Open this URL in a browser to sign in:");
    }
    eprintln!("{url}");
}

fn try_open(url: &str) -> bool {
    let cmd = if cfg!(target_os = "macos") {
        ("open", vec![url])
    } else if cfg!(windows) {
        ("cmd", vec!["/C", "start", "", url])
    } else {
        ("xdg-open", vec![url])
    };
    std::process::Command::new(cmd.0)
        .args(cmd.1)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
