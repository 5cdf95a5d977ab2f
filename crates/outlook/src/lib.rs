//! # crmsync-outlook
//!
//! The Microsoft Graph side of crmsync: sign-in to the Microsoft identity platform
//! ([`auth`]), a Graph HTTP client with retries, `Retry-After`, `$batch` and the mailbox's
//! concurrency limit ([`http`]), and the pure mapping between Graph JSON and the canonical model
//! ([`mapping`]).
//!
//! ```
//! use crmsync_outlook::mapping::{contact_from_graph, contact_to_graph};
//! use crmsync_core::{FieldSet, Kind};
//! let c = contact_from_graph(&serde_json::json!({"givenName": "Ada", "surname": "Lovelace"}));
//! let back = contact_to_graph(&c, FieldSet::all(Kind::Contact));
//! assert_eq!(back["surname"], "Lovelace");
//! ```
//!
//! What it does not do: share code with the Graph emulator (a dev-dependency only), or decide
//! anything about sync: the core plans, this crate reads and writes.
//!
//! Architecture Invariant: only this crate knows Graph's JSON.

pub mod auth;
pub mod connector;
pub mod error;
pub mod http;
pub mod mapping;

pub use auth::{Auth, AuthConfig, DeviceCode, Pkce};
pub use connector::{OutlookConnector, OutlookOptions};
pub use error::{Error, Result};
pub use http::GraphClient;
