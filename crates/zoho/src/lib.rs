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
//! # How Zoho maps
//!
//! | Canonical | Zoho (module · field API names) | Notes |
//! |---|---|---|
//! | Contact name | Contacts · `First_Name` (given + middle), `Last_Name` | `Last_Name` is mandatory: when empty it is derived from the display name's last word or the e-mail's local part (logged, and shown in `Written::stored`) |
//! | e-mails | `Email`, `Secondary_Email` | two at most |
//! | phones | `Phone` (business), `Home_Phone`, `Mobile`, `Other_Phone` | one per kind |
//! | company | `Account_Name` lookup | resolved by name with COQL, created when missing (`ZohoOptions::create_accounts`, `resolve_accounts`) |
//! | job title, department, notes, birthday | `Title`, `Department`, `Description`, `Date_of_Birth` (`yyyy-MM-dd`) | |
//! | business / other address | `Mailing_*` / `Other_*` | |
//! | Task title, notes, due | Tasks · `Subject`, `Description`, `Due_Date` | |
//! | status, priority | `Status`, `Priority` picklists | all five values each, both ways |
//! | reminder | `Remind_At` `{"ALARM": "…TRIGGER=DATE-TIME:…"}` | |
//! | recurrence (+ start) | `Recurring_Activity` `{"RRULE": "…;DTSTART=yyyy-MM-dd"}` | `DTSTART` is the start date, or the due date when there is none |
//! | Event title, notes, location | Events · `Event_Title`, `Description`, `Venue` | |
//! | start, end, all-day | `Start_DateTime`, `End_DateTime` (offset, user's zone), `All_day` | all-day = midnights in the Zoho user's zone |
//! | recurrence | `Recurring_Activity` `{"RRULE": …}` | `UNTIL` as a date |
//! | attendees | `Participants` `{type: "email", participant}` | e-mail only; no notification is sent |
//! | reminder minutes | `Remind_At` (a date-time before the start; the `[{unit, period}]` shape is read too) | |
//! | sync id | the unique custom field `ZohoOptions::sync_id_field` | creates are upserts on it; without it creates are at-least-once |
//!
//! **What Zoho cannot hold** (the core's field schema includes or excludes whole merge units,
//! so these are dropped inside units that are otherwise held, not faked):
//! - Contacts: the home address, categories, a middle name apart from the given name (it is
//!   written into `First_Name` and reads back as part of it), more than two e-mails or one
//!   phone per kind, and the company when no Account can be found or made.
//! - Tasks: `completed_at` (Zoho's `Closed_Time` is read-only and stamped by Zoho, so it reads
//!   back as `None`; the status is held); `start` when the task does not recur, or when it
//!   equals the due date (it reads back as `None`).
//! - Events: categories, sensitivity, the zone name (Zoho keeps offsets: the Zoho user's zone
//!   comes back), attendees without an e-mail address, attendee kinds (all read back as
//!   required) and names (Zoho shows its own).
//!
//! # Guessed vs confirmed
//!
//! Confirmed in Zoho's docs (`zoho-api.md` marks C): the endpoints and limits used (list with
//! mandatory `fields` ≤ 50, `per_page` ≤ 200, `page` up to 2,000 records then `page_token`;
//! writes ≤ 100 with per-record results; upsert with `duplicate_check_fields`; `/deleted` with
//! `deleted_time`; `If-Modified-Since` returning only records modified after the instant, 304
//! or 204 when nothing; `If-Unmodified-Since` → 412 `ALREADY_MODIFIED`), the OAuth flows, data
//! centres and token limits, the `Zoho-oauthtoken` header, the field API names above.
//!
//! Guessed (marked ? or S there, so built to tolerate either answer): whether `If-Modified-Since`
//! is inclusive at the instant (the watermark is taken a margin early and what was reported
//! inside the margin is carried in the cursor, so either reading reports each change once); the
//! 429 body and any `Retry-After` (honoured when sent, exponential backoff otherwise); the
//! events `Remind_At` shape (both read; a date-time written); `All_day` vs `All_Day` (`All_day`
//! written, both read); field lengths (taken from the org's fields metadata at connect);
//! `Closed_Time` (not read); whether a custom view's change round can see records leaving the
//! view (it cannot: a second pass without `cvid` reports modified records outside the view as
//! `Vanished`); the exact "Waiting" status label (`Waiting on someone else`, also reads
//! `Waiting for input`).
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
