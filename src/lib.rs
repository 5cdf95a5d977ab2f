//! crmsync: two-way sync of Zoho CRM contacts, tasks and events with Microsoft Outlook.
//!
//! The facade: re-exports of the core, the SQLite store and the connectors, and (feature `app`,
//! on by default) [`app`], the host wiring shared by the command line and the bindings.
#[cfg(feature = "app")]
pub mod app;
pub use crmsync_core as core;
#[cfg(feature = "outlook")]
pub use crmsync_outlook as outlook;
#[cfg(feature = "sqlite")]
pub use crmsync_store as store;
#[cfg(feature = "zoho")]
pub use crmsync_zoho as zoho;
