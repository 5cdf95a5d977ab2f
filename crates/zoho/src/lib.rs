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

pub mod auth;
pub mod client;
pub mod error;
pub mod mapping;

pub use error::{Error, Result};
