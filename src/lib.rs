//! crmsync: two-way sync of Zoho CRM contacts, tasks and events with Microsoft Outlook.
pub use crmsync_core as core;
#[cfg(feature = "outlook")]
pub use crmsync_outlook as outlook;
#[cfg(feature = "sqlite")]
pub use crmsync_store as store;
#[cfg(feature = "zoho")]
pub use crmsync_zoho as zoho;
