//! The `Connector` trait: what the engine needs from a service (Zoho CRM, Microsoft Graph, or a
//! host-provided data source).
//!
//! API Boundary: external connectors implement this trait; it is object-safe (`dyn Connector`).
//! One call returns one page; transport retries and backoff live inside the connector, which owns
//! a timer (the core has none).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ConnectorError;
use crate::field::{FieldSchema, FieldSet};
use crate::model::{Kind, Record};
use crate::settings::{CategoryFilter, ZohoScope};

/// The id the engine stamps on every record it creates or links (Zoho: a unique custom field;
/// Graph: a single-value extended property; To Do: a linkedResource `externalId`), so a crash
/// between a remote create and the local commit is repaired without a duplicate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SyncId(pub String);

impl SyncId {
    /// The deterministic sync id of a record first seen on `side` with `id`: the same source
    /// record always gets the same sync id, so a replayed create after a crash (even with a
    /// lost journal) is found by it. 128 bits of XXH3 of a fixed encoding, as 32 hex digits.
    pub fn derive(kind: Kind, side: crate::model::Side, id: &str) -> SyncId {
        // The hashed input is "crmsync/1␟<kind>␟<side>␟<id>" (␟ = U+001F). Written out by hand
        // rather than with `format!` (twice per record created: the formatting machinery was a
        // tenth of a first sync's instructions on the engine's thread, bench_engine).
        const PREFIX: &[u8] = b"crmsync/1\x1f";
        let (kind, side) = (kind.as_str().as_bytes(), side.as_str().as_bytes());
        let mut input = Vec::with_capacity(PREFIX.len() + kind.len() + side.len() + id.len() + 2);
        input.extend_from_slice(PREFIX);
        input.extend_from_slice(kind);
        input.push(0x1f);
        input.extend_from_slice(side);
        input.push(0x1f);
        input.extend_from_slice(id.as_bytes());
        SyncId::from_bytes(xxhash_rust::xxh3::xxh3_128(&input).to_be_bytes())
    }

    /// The sync id whose [`SyncId::to_bytes`] are `bytes`: 32 lower-case hex digits, the form
    /// [`SyncId::derive`] gives.
    pub fn from_bytes(bytes: [u8; 16]) -> SyncId {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(32);
        for b in bytes {
            s.push(char::from(DIGITS[usize::from(b >> 4)]));
            s.push(char::from(DIGITS[usize::from(b & 0xf)]));
        }
        SyncId(s)
    }

    /// The 16 bytes of a sync id in the form [`SyncId::derive`] gives (32 lower-case hex
    /// digits); `None` for any other sync id. A store can keep such ids in half the space.
    pub fn to_bytes(&self) -> Option<[u8; 16]> {
        // The value of each lower-case hex digit, 0xff for any other byte: one lookup per
        // digit (the store converts every sync id it writes or looks up).
        const NIBBLE: [u8; 256] = {
            let mut t = [0xff_u8; 256];
            let mut i = 0;
            while i < 10 {
                t[b'0' as usize + i] = i as u8;
                i += 1;
            }
            let mut i = 0;
            while i < 6 {
                t[b'a' as usize + i] = 10 + i as u8;
                i += 1;
            }
            t
        };
        let b: &[u8; 32] = self.0.as_bytes().try_into().ok()?;
        let mut out = [0u8; 16];
        let mut bad = 0u8;
        for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
            let (hi, lo) = (NIBBLE[usize::from(pair[0])], NIBBLE[usize::from(pair[1])]);
            bad |= hi | lo;
            *o = hi << 4 | (lo & 0xf);
        }
        (bad & 0xf0 == 0).then_some(out)
    }
}

impl std::fmt::Display for SyncId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The opaque change cursor of one side and kind (a Graph deltaLink, Zoho's watermarks).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(pub String);

/// Whether creates on this side can be made idempotent by the sync id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreateMode {
    /// The sync id is written with the create and `find_by_sync_id` finds it: exactly-once.
    Idempotent,
    /// The sync id cannot be stored or searched: a crash between the create and the commit may
    /// leave a duplicate. The report warns.
    AtLeastOnce,
}

/// What a connector can do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    /// The kinds it syncs.
    pub kinds: Vec<Kind>,
    /// Largest batch `apply` accepts.
    pub max_batch: usize,
    /// How many `apply` calls may run at once.
    pub max_concurrency: usize,
    /// Create idempotency.
    pub create_mode: CreateMode,
    /// Whether `changes` is supported (otherwise every sync is a full listing).
    pub change_feed: bool,
    /// What it can hold, per kind.
    pub schemas: Vec<(Kind, FieldSchema)>,
}

impl Capabilities {
    /// The schema of one kind (a full schema when the connector gave none).
    pub fn schema(&self, kind: Kind) -> FieldSchema {
        self.schemas
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| FieldSchema::full(kind))
    }
}

/// A half-open time window `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
}

/// Which records of a kind a request is about: each connector uses the parts that apply to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// The kind.
    pub kind: Kind,
    /// Outlook: the contact folder / task list / calendar id (`None` = default).
    pub container: Option<String>,
    /// Zoho: owner / view scope.
    pub zoho: ZohoScope,
    /// Events: the date window.
    pub window: Option<Window>,
    /// Events: the category filter (Graph applies it on the client; the core checks it too).
    pub categories: CategoryFilter,
    /// Events: the Zoho category's name.
    pub zoho_category: String,
}

/// A record as read from a side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteRecord {
    /// The side's id (Graph: the immutable id).
    pub id: String,
    /// Opaque version, compared for equality only (Zoho `Modified_Time`, Graph `changeKey`).
    pub version: String,
    /// Last modification, for "newest wins" (UTC, whole seconds).
    pub modified_at: Option<DateTime<Utc>>,
    /// The sync id stamped on the record, if any.
    pub sync_id: Option<SyncId>,
    /// The content. Shared, not copied: a listing of 100,000 records hands the engine the
    /// service's values without duplicating them, and a create can send the same value on.
    pub record: Arc<Record>,
}

/// One item of a change page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChangeItem {
    /// Created or changed (or, in a full listing, present).
    Upsert(RemoteRecord),
    /// Confirmed deleted.
    Deleted {
        /// The id.
        id: String,
    },
    /// Left the view (a delta `@removed`, an owner change): deleted or moved out of scope, not
    /// yet known which. The engine asks [`Connector::classify_vanished`].
    Vanished {
        /// The id.
        id: String,
    },
    /// Present, but not something this connector can sync (an edited occurrence of a recurring
    /// series, a record of a shape the other side cannot hold): the engine reports it as not
    /// synced with the reason, plans nothing for it, and never takes it for a vanished record.
    Unsupported {
        /// The id.
        id: String,
        /// A title for the UI.
        title: String,
        /// Why it is not synced.
        reason: String,
    },
}

impl ChangeItem {
    /// The id the item is about.
    pub fn id(&self) -> &str {
        match self {
            ChangeItem::Upsert(r) => &r.id,
            ChangeItem::Deleted { id }
            | ChangeItem::Vanished { id }
            | ChangeItem::Unsupported { id, .. } => id,
        }
    }
}

/// What comes after a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Next {
    /// More pages: pass this token to the next call.
    Page(String),
    /// The round is complete; this cursor continues from here.
    Done(Cursor),
}

/// One page of changes or of a full listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePage {
    /// The items.
    pub items: Vec<ChangeItem>,
    /// What comes next.
    pub next: Next,
}

/// A request for one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageRequest {
    /// Which records.
    pub scope: Scope,
    /// `None` for the first page.
    pub page: Option<String>,
}

/// The result of classifying a vanished record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vanish {
    /// The record no longer exists.
    Deleted,
    /// The record exists but is outside the scope (moved folder, lost its category, changed
    /// owner). Never deleted on the other side.
    OutOfScope,
}

/// One write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// Create a record carrying `sync_id`.
    Create {
        /// The sync id to stamp.
        sync_id: SyncId,
        /// The content (already projected to the side's schema).
        record: Arc<Record>,
    },
    /// Update the listed fields of a record.
    Update {
        /// The side's id.
        id: String,
        /// Update only if the record still has this version (Graph `If-Match`, Zoho
        /// `If-Unmodified-Since`); `None` = unconditionally.
        if_version: Option<String>,
        /// Only these fields are written.
        fields: FieldSet,
        /// The values (fields outside `fields` are ignored).
        record: Arc<Record>,
        /// Stamp this sync id too (twins linked by identity).
        stamp: Option<SyncId>,
    },
    /// Delete a record.
    Delete {
        /// The side's id.
        id: String,
        /// Delete only if the record still has this version.
        if_version: Option<String>,
    },
}

/// Why one record of a batch failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordErrorKind {
    /// The side cannot hold this record (missing mandatory field, bad e-mail, bad zone…).
    Invalid,
    /// The record changed since it was read (412): re-read and re-plan.
    Changed,
    /// The record does not exist any more.
    NotFound,
    /// Throttled or transient: try again next run.
    Transient,
    /// The side refused the record for another reason.
    Rejected,
}

/// A per-record error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{reason}")]
pub struct RecordError {
    /// Category.
    pub kind: RecordErrorKind,
    /// The field at fault, when known (the service's field name or the canonical one).
    pub field: Option<String>,
    /// A human reason (no personal data).
    pub reason: String,
}

impl RecordError {
    /// Builds a record error.
    pub fn new(kind: RecordErrorKind, reason: impl Into<String>) -> Self {
        RecordError {
            kind,
            field: None,
            reason: reason.into(),
        }
    }

    /// Builds an `Invalid` error about one field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        RecordError {
            kind: RecordErrorKind::Invalid,
            field: Some(field.into()),
            reason: reason.into(),
        }
    }

    /// Whether the record should be re-read and planned again next run (a concurrent edit or
    /// delete, a transient failure) rather than parked until it changes.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            RecordErrorKind::Transient | RecordErrorKind::Changed | RecordErrorKind::NotFound
        )
    }
}

/// A successful write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Written {
    /// The record's id (new for creates).
    pub id: String,
    /// The version after the write (empty for deletes).
    pub version: String,
    /// Last-modified after the write.
    pub modified_at: Option<DateTime<Utc>>,
    /// The record as the service stored it, when the write response carries it (Graph does):
    /// used as the new baseline so server rewrites are not mistaken for edits. Shared, as a
    /// read's record is: a result is then a few words, and a batch of them is cheap to move.
    pub stored: Option<Arc<Record>>,
}

/// The result of one operation of a batch, in the order of the operations.
pub type OpResult = Result<Written, RecordError>;

/// A contact folder, task list or calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// Its id.
    pub id: String,
    /// Its display name (with the path for nested folders, e.g. "Contacts/Clients").
    pub name: String,
    /// Whether it is the default one.
    pub is_default: bool,
    /// The parent, for nested folders.
    pub parent_id: Option<String>,
}

/// A service: Zoho CRM, Microsoft Graph, or a host-provided source.
#[async_trait]
pub trait Connector: Send + Sync {
    /// What it can do.
    fn capabilities(&self) -> Capabilities;

    /// The folders / task lists / calendars of a kind that the user can choose from.
    async fn containers(&self, kind: Kind) -> Result<Vec<Container>, ConnectorError>;

    /// The category names known to the service (Outlook's master category list).
    async fn categories(&self) -> Result<Vec<String>, ConnectorError>;

    /// Makes sure a category exists (creates Outlook's "Zoho" category when missing).
    async fn ensure_category(&self, name: &str) -> Result<(), ConnectorError>;

    /// One page of changes since `cursor`. `ConnectorErrorKind::CursorExpired` means the engine
    /// falls back to [`Connector::list`].
    async fn changes(
        &self,
        cursor: &Cursor,
        req: &PageRequest,
    ) -> Result<ChangePage, ConnectorError>;

    /// One page of a full listing of the scope. The last page's `Next::Done` carries a cursor
    /// for later `changes` calls.
    async fn list(&self, req: &PageRequest) -> Result<ChangePage, ConnectorError>;

    /// Reads records by id (re-reads after a 412, deferred records, conflict resolution).
    /// Ids that no longer exist come back as `Deleted`, ids outside the scope as `Vanished`.
    async fn fetch(&self, scope: &Scope, ids: &[String])
        -> Result<Vec<ChangeItem>, ConnectorError>;

    /// Tells, for records that left the scoped view, whether each was deleted or moved out of
    /// scope. When unsure, a connector answers `OutOfScope` (an unlink never loses data).
    async fn classify_vanished(
        &self,
        scope: &Scope,
        ids: &[String],
    ) -> Result<Vec<(String, Vanish)>, ConnectorError>;

    /// Applies a batch (at most `max_batch` operations); one result per operation, in order.
    /// An `Err` means the whole call failed and no outcome is known.
    async fn apply(
        &self,
        scope: &Scope,
        ops: Vec<Operation>,
    ) -> Result<Vec<OpResult>, ConnectorError>;

    /// Tells the connector the sync ids the engine's state holds for records it is about to
    /// classify (called just before [`Connector::classify_vanished`]). A service whose moves
    /// change ids (To Do tasks) needs the sync id to tell a move from a delete, and cannot read
    /// it from an item that is gone. The default ignores it.
    fn note_sync_ids(&self, _kind: Kind, _known: &[(String, SyncId)]) {}

    /// Finds records by the sync id stamped on them (journal recovery after a crash).
    async fn find_by_sync_id(
        &self,
        scope: &Scope,
        ids: &[SyncId],
    ) -> Result<Vec<(SyncId, RemoteRecord)>, ConnectorError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Side;

    /// The sync id is stored on remote records: its derivation must never change.
    #[test]
    fn sync_id_derivation_is_fixed() {
        for (kind, side, id) in [
            (Kind::Contact, Side::Zoho, "4876876000000100001"),
            (Kind::Task, Side::Outlook, ""),
            (Kind::Event, Side::Outlook, "AAMkAGI2TG93AAA=/张三👨‍👩‍👧"),
        ] {
            let input = format!(
                "crmsync/1\u{1f}{}\u{1f}{}\u{1f}{id}",
                kind.as_str(),
                side.as_str()
            );
            let expected = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(input.as_bytes()));
            let derived = SyncId::derive(kind, side, id);
            assert_eq!(derived.0, expected);
            let bytes = derived.to_bytes().expect("a derived id has a byte form");
            assert_eq!(SyncId::from_bytes(bytes), derived);
        }
        let one_off = |c: char, at: usize| {
            let mut s: Vec<char> = "0123456789abcdef".repeat(2).chars().collect();
            s[at] = c;
            s.into_iter().collect::<String>()
        };
        assert_eq!(
            SyncId("0123456789abcdef".repeat(2)).to_bytes(),
            Some(
                [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]
                    .repeat(2)
                    .try_into()
                    .unwrap()
            )
        );
        for other in [
            "s1",
            "",
            &"A".repeat(32),
            &"g".repeat(32),
            &"0".repeat(31),
            &"0".repeat(33),
            &"é".repeat(16),
            &one_off('F', 31),
            &one_off('-', 16),
            &one_off(' ', 0),
            &one_off('/', 7),
            &one_off(':', 8),
            &one_off('`', 9),
        ] {
            assert_eq!(SyncId(other.to_string()).to_bytes(), None, "{other:?}");
        }
    }
}
