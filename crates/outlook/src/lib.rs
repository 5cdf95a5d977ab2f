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
//! Connecting: [`Auth::oauth`] (PKCE on a loopback redirect via [`Auth::sign_in_loopback`], or
//! the device-code flow via [`Auth::start_device_code`] / [`Auth::complete_device_code`]) or
//! [`Auth::host`] (tokens from the host app), then [`OutlookConnector::new`] with the Graph base
//! URL (`https://graph.microsoft.com/v1.0`).
//!
//! ## Decisions (and what rests on a guess)
//!
//! - Versions are the item's `@odata.etag` for every kind (contacts and events: `W/"changeKey"`),
//!   sent back verbatim in `If-Match`; 412 → `RecordErrorKind::Changed`.
//! - One `$batch` in flight per mailbox: a batch takes all four of the client's per-mailbox
//!   permits (Graph runs an unordered batch four sub-requests at a time), single requests take
//!   one. Capabilities declare `max_concurrency: 1` accordingly. This is the floor of an adaptive
//!   scheme; growing past it is not implemented because one batch already fills the mailbox.
//! - Sub-requests of a batch carry their own `Prefer` header (they do not inherit the envelope's),
//!   so created ids are immutable ids and match what delta returns.
//! - The default Contacts folder id is the `parentFolderId` of a top-level folder or of a contact
//!   in `/me/contacts`; in an empty mailbox it is learnt from the first created contact, and
//!   `/me/contacts` is used until then.
//! - A non-primary calendar has no delta in v1.0: its listing is a windowed `calendarView`, and
//!   `changes` answers `CursorExpired` so the engine lists (and diffs by version) every run.
//! - Occurrences in calendar delta are replaced by their series master (fetched in a batch);
//!   exceptions (edited occurrences) are not synced.
//! - A vanished To Do task is looked for in the other lists by the sync id this connector saw on
//!   it (kept in memory); without one it is reported out of scope (an unlink never loses data).
//! - Task priority is lossy (3 Graph levels for 5 canonical ones): see [`mapping`].
//! - Text limits of 255 UTF-16 units on names, titles and locations are a guess (Graph documents
//!   none); a longer value is cut by the core on a grapheme boundary, never refused.
//! - Windows ↔ IANA zone names come from CLDR's windowsZones (the `localzone` crate), plus a small
//!   table of modern IANA names that CLDR lists under their old aliases (e.g. Asia/Kolkata ↔
//!   Asia/Calcutta). A zone with no Windows name is written as UTC: the instant stays right.
//! - Events created by the engine carry categories; the connector makes sure the master list holds
//!   them (once per connector) so they show coloured in Outlook.
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
