//! The host wiring shared by the `crmsync` command line and the FFI: one home directory
//! (`CRMSYNC_HOME`, default the platform's config dir) holding a TOML settings file, the SQLite
//! state and a lock; secrets in the OS keychain or a 0600 file; the connectors built from that
//! configuration; and [`SyncClient`], whose async methods are what a host calls.
//!
//! ```no_run
//! # async fn run() -> Result<(), crmsync::app::AppError> {
//! use crmsync::app::{AppConfig, SyncClient};
//! let client = SyncClient::open(AppConfig::from_env()?)?;
//! client.set("events.categories", "all")?;
//! let out = client
//!     .sync(&Default::default(), None, Default::default())
//!     .await?;
//! println!("{} writes", out.report.writes());
//! # Ok(()) }
//! ```
//!
//! What it does not do: print, prompt or open browsers (the host passes a callback), or hold
//! sync logic (that is the core's).

mod client;
pub mod config;
mod error;
pub mod lock;
mod outlook;
pub mod secrets;

pub use client::{
    Account, KindStatus, Status, SyncClient, BROWSER_TIMEOUT, ZOHO_CLIENT_SECRET_KEY,
};
pub use config::{AppConfig, FileConfig, OutlookService, Overrides, ZohoService};
pub use error::{AppError, Result};
pub use lock::StateLock;
pub use secrets::SecretBackend;
