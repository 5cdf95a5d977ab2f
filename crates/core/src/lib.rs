//! # crmsync-core
//!
//! The pure core of crmsync: the canonical model of contacts, tasks and events, per-field
//! normalisation and stable hashes, settings, the [`Connector`] and [`StateStore`] traits, the
//! planner (a pure function from state and changes to a [`Plan`]) and the [`Engine`] that drives
//! a sync through those traits.
//!
//! What it does not do: IO. No sockets, files, clocks or async runtime live here (the engine uses
//! only `futures`); time comes in as a value. Connectors (`crmsync-zoho`, `crmsync-outlook`) and
//! the SQLite store (`crmsync-store`) live in their own crates.
//!
//! ```
//! use std::sync::Arc;
//! use crmsync_core::memory::{fixed_now, MemoryConnector, MemoryStore};
//! use crmsync_core::{Contact, Engine, Kind, Record, Settings, SyncOptions};
//!
//! let zoho = Arc::new(MemoryConnector::new("zoho", 100));
//! let outlook = Arc::new(MemoryConnector::new("outlook", 20));
//! zoho.insert(Record::Contact(Contact {
//!     family_name: "Lovelace".into(),
//!     emails: vec!["ada@example.com".into()],
//!     ..Default::default()
//! }), None);
//! let engine = Engine::new(zoho.clone(), outlook.clone(), Arc::new(MemoryStore::new()));
//! let out = futures::executor::block_on(
//!     engine.sync(&Settings::default(), &SyncOptions::default(), fixed_now()),
//! ).unwrap();
//! assert_eq!(out.report.kinds[0].counts.created_in_outlook, 1);
//! assert_eq!(outlook.records(Kind::Contact).len(), 1);
//! ```

// Records are large values passed by move a few times per sync; boxing every variant would make
// the public model clumsier for connector authors and the FFI for no measured gain.
#![allow(clippy::large_enum_variant)]

pub mod connector;
pub mod engine;
pub mod error;
pub mod field;
pub mod memory;
pub mod model;
pub mod planner;
pub mod report;
pub mod secret;
pub mod settings;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use connector::{
    Capabilities, ChangeItem, ChangePage, Connector, Container, CreateMode, Cursor, Next, OpResult,
    Operation, PageRequest, RecordError, RecordErrorKind, RemoteRecord, Scope, SyncId, Vanish,
    Window, Written,
};
pub use engine::{CancelToken, Engine, Progress, SyncObserver, SyncOptions, SyncOutcome};
pub use error::{ConnectorError, ConnectorErrorKind, SettingsError, StoreError, SyncError};
pub use field::{Field, FieldHashes, FieldSchema, FieldSet};
pub use model::*;
pub use planner::{Action, Plan, Step};
pub use report::{Counts, KindReport, SyncReport};
pub use secret::{AccessToken, AccessTokenProvider, Secret, SecretStore};
pub use settings::*;
pub use store::{
    Commit, CommitTicket, Deferred, Intent, Mapping, QueuedConflict, SideIndex, SideState,
    StateStore, VersionTag,
};
