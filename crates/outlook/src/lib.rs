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
//! - Batches in flight per mailbox adapt ([`window`]): Graph counts a batch's sub-requests one
//!   by one against the mailbox's limit of 4 concurrent requests and runs an unordered batch 4
//!   at a time, so whether a second batch fits depends on how fast the mailbox serves items,
//!   which nothing tells in advance. The client's window starts at one batch, grows by one after
//!   a window's worth of batches answered with no 429 at all (envelope or sub-response), halves
//!   (floor 1) on any 429 (`MailboxConcurrency` or `TooManyRequests`, only once for the batches
//!   that were in flight together), and then stays below the level that throttled for
//!   [`window::HOLD_BATCHES`] clean batches (doubling, up to [`window::MAX_HOLD_BATCHES`], while
//!   the same level keeps throttling); never above 4. Waits for `Retry-After` are spent outside
//!   the window. Capabilities declare `max_concurrency: 4` (the ceiling): the engine's
//!   concurrent `apply` calls queue in the window, which decides how many are sent.
//!   [`OutlookConnector::batch_window`] tells the current window. Single requests have their
//!   own bound of 4 in flight and do not move the window. The same window serves every clone of
//!   a client; two processes syncing one mailbox do not share it (the lock on the state
//!   directory makes that rare), and the 429s keep them correct.
//! - Sub-requests of a batch carry their own `Prefer` header (they do not inherit the envelope's),
//!   so created ids are immutable ids and match what delta returns.
//! - The default Contacts folder id is the `parentFolderId` of a top-level folder or of a contact
//!   in `/me/contacts`; in an empty mailbox it is learnt from the first created contact, and
//!   `/me/contacts` is used until then (asked once per round, not once per concurrent batch).
//! - A non-primary calendar has no delta in v1.0: its listing is a windowed `calendarView`, and
//!   `changes` answers `CursorExpired` so the engine lists (and diffs by version) every run.
//! - Occurrences in calendar delta are replaced by their series master (fetched in a batch).
//!   Exceptions (edited occurrences) are not synced: Zoho CRM has no per-occurrence edits. Delta,
//!   listings and fetches report each once as `ChangeItem::Unsupported` (those that pass the
//!   scope's category filter), with its date and the series' title in the reason, so the sync
//!   report lists it as not synced and the series itself still syncs.
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
pub mod window;

pub use auth::{Auth, AuthConfig, DeviceCode, Pkce};
pub use connector::{OutlookConnector, OutlookOptions};
pub use error::{Error, Result};
pub use http::GraphClient;
