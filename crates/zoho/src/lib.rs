//! # crmsync-zoho
//!
//! The Zoho CRM connector of crmsync: Zoho OAuth 2.0 sign-in ([`auth`]), an HTTP client with
//! token caching, retries and a concurrency cap ([`client`]), the mapping between Zoho's JSON
//! and the canonical model ([`mapping`]), and [`ZohoConnector`], which implements
//! [`crmsync_core::Connector`] for Contacts, Tasks and Events.
//!
//! What it does not do: it never shares code with the emulator used in its tests, it keeps no
//! state besides the secret store (cursors belong to the engine's state store), and it sends no
//! workflow triggers or participant notifications on writes.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use crmsync_core::secret::MemorySecretStore;
//! use crmsync_zoho::auth::{OAuthConfig, ZohoAuth};
//! use crmsync_zoho::{ZohoConnector, ZohoOptions};
//!
//! let store = Arc::new(MemorySecretStore::default());
//! let auth = ZohoAuth::restore(OAuthConfig::new("1000.CLIENT", 53682), store)?;
//! let zoho = ZohoConnector::connect(Arc::new(auth), ZohoOptions::default()).await?;
//! # let _ = zoho; Ok(()) }
//! ```

pub mod auth;
pub mod client;
pub mod connector;
pub mod error;
pub mod mapping;

pub use connector::{ZohoConnector, ZohoOptions};
pub use error::{Error, Result};
