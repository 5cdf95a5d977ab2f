//! The `StateStore` trait: what the engine remembers between runs, and how it commits.
//!
//! API Boundary: `crmsync-store` implements it on SQLite; [`crate::memory::MemoryStore`] in
//! memory. The trait is synchronous (rusqlite blocks; calls happen between awaits). Every
//! method that writes is one transaction: after a crash the store holds either all of a
//! [`Commit`] or none of it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::connector::{Cursor, SyncId};
use crate::error::StoreError;
use crate::field::{FieldHashes, FieldSet};
use crate::model::{Kind, Record, Side};
use crate::report::SyncReport;

/// What the engine knows of one side of a mapped pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideState {
    /// The side's id.
    pub id: String,
    /// The version last seen or written.
    pub version: String,
    /// Per-field hashes of the values as this side last returned (or was given) them.
    pub hashes: FieldHashes,
}

/// A pair of records kept in sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// The kind.
    pub kind: Kind,
    /// The sync id stamped on both records.
    pub sync_id: SyncId,
    /// Zoho's side.
    pub zoho: SideState,
    /// Outlook's side.
    pub outlook: SideState,
    /// Set when the record on that side left the scope: the pair is unlinked but remembered,
    /// so a record that comes back relinks instead of duplicating.
    pub dormant: Option<Side>,
}

impl Mapping {
    /// One side's state.
    pub fn side(&self, side: Side) -> &SideState {
        match side {
            Side::Zoho => &self.zoho,
            Side::Outlook => &self.outlook,
        }
    }

    /// One side's state, mutably.
    pub fn side_mut(&mut self, side: Side) -> &mut SideState {
        match side {
            Side::Zoho => &mut self.zoho,
            Side::Outlook => &mut self.outlook,
        }
    }
}

/// A create about to be sent, journalled before the remote write so a crash between the write
/// and the commit is repaired by finding the record by its sync id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// The kind.
    pub kind: Kind,
    /// The sync id written into the new record.
    pub sync_id: SyncId,
    /// The side the record is created on.
    pub target: Side,
    /// The source record's state, which becomes the mapping's other side.
    pub source: SideState,
}

/// A record whose write failed and that the next run re-reads (or, once parked, leaves until it
/// changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferred {
    /// The kind.
    pub kind: Kind,
    /// The side whose record is re-read.
    pub side: Side,
    /// Its id.
    pub id: String,
    /// How many runs it failed in.
    pub attempts: u32,
    /// Parked: not retried until it changes.
    pub parked: bool,
    /// The last reason.
    pub reason: String,
    /// The record's version when it last failed: a parked record is tried again only once its
    /// version differs.
    pub version: String,
}

/// A conflict kept for the user (policy `Manual`): only its conflicting fields wait; the rest of
/// the record keeps syncing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedConflict {
    /// Store-assigned id (0 before it is stored).
    pub id: i64,
    /// The kind.
    pub kind: Kind,
    /// The mapping.
    pub sync_id: SyncId,
    /// The fields changed on both sides.
    pub fields: FieldSet,
    /// Zoho's values (of the record; only `fields` matter).
    pub zoho: Record,
    /// Outlook's values.
    pub outlook: Record,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// The user's choice, applied at the next sync.
    pub resolution: Option<Side>,
}

/// Everything one executed batch changes, committed in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    /// Mappings to insert or replace (by sync id; a row holding the same side id is replaced).
    pub upsert: Vec<Mapping>,
    /// Like `upsert`, for pairs just created (a new id on one side): the same replacement rule,
    /// but a store need not look for a row to update in place first. Applied after `upsert`.
    pub insert: Vec<Mapping>,
    /// Mappings to forget.
    pub remove: Vec<(Kind, SyncId)>,
    /// Intents that are settled (applied before `journal`).
    pub settle: Vec<SyncId>,
    /// Create intents to journal (before their remote write). The engine journals creates
    /// ahead of sending them, in the same transaction as the results gathered meanwhile.
    pub journal: Vec<Intent>,
    /// Cursors to store: kind, side, scope fingerprint, cursor.
    pub cursors: Vec<(Kind, Side, String, Cursor)>,
    /// Cursors to drop (the scope changed or the cursor expired).
    pub drop_cursors: Vec<(Kind, Side)>,
    /// Records to re-read next run (replaces an existing row).
    pub defer: Vec<Deferred>,
    /// Records no longer deferred.
    pub undefer: Vec<(Kind, Side, String)>,
    /// Conflicts to queue (replaces a queued conflict of the same mapping).
    pub queue: Vec<QueuedConflict>,
    /// Conflicts settled, by mapping.
    pub unqueue: Vec<(Kind, SyncId)>,
}

impl Commit {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.upsert.is_empty()
            && self.insert.is_empty()
            && self.remove.is_empty()
            && self.settle.is_empty()
            && self.journal.is_empty()
            && self.cursors.is_empty()
            && self.drop_cursors.is_empty()
            && self.defer.is_empty()
            && self.undefer.is_empty()
            && self.queue.is_empty()
            && self.unqueue.is_empty()
    }
}

/// One side's (id, version tag, dormant) for every mapping of a kind.
pub type SideIndex = Vec<(String, Option<VersionTag>, bool)>;

/// A version as a [`SideIndex`] holds it: a 128-bit hash (XXH3) of its text. Versions are
/// compared for equality only, so the tag answers the one question a full listing asks of the
/// 100,000 mappings it is diffed against ("is this the version we stored?") in 16 bytes and no
/// allocation, where a copy of the text took one each. Two different versions share a tag with
/// a probability of 2^-128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VersionTag([u64; 2]);

impl VersionTag {
    /// The tag of a version; `None` for an empty one (an unknown version, equal to nothing).
    pub fn of(version: &str) -> Option<VersionTag> {
        Self::of_bytes(version.as_bytes())
    }

    /// [`VersionTag::of`] the UTF-8 bytes of a version (as a database column holds them).
    pub fn of_bytes(version: &[u8]) -> Option<VersionTag> {
        if version.is_empty() {
            return None;
        }
        let h = xxhash_rust::xxh3::xxh3_128(version);
        Some(VersionTag([(h >> 64) as u64, h as u64]))
    }
}

/// A commit started with [`StateStore::commit_in_background`]: resolves once the commit is
/// durable (or failed). Dropping it does not cancel the commit.
pub type CommitTicket = futures::future::BoxFuture<'static, Result<(), StoreError>>;

/// Persistent sync state. Implementations must make [`StateStore::journal`] and
/// [`StateStore::commit`] atomic and durable, and never store secrets.
pub trait StateStore: Send + Sync {
    /// Every mapping of a kind (full listings, the guard).
    fn mappings(&self, kind: Kind) -> Result<Vec<Mapping>, StoreError>;
    /// Every mapping's id and version on one side, with whether the mapping is dormant: what a
    /// full listing is diffed against, without loading whole mappings.
    fn side_index(&self, kind: Kind, side: Side) -> Result<SideIndex, StoreError> {
        Ok(self
            .mappings(kind)?
            .into_iter()
            .map(|m| {
                let dormant = m.dormant.is_some();
                let st = m.side(side);
                (st.id.clone(), VersionTag::of(&st.version), dormant)
            })
            .collect())
    }
    /// Both sides' [`StateStore::side_index`] (Zoho's, then Outlook's), for a run that lists
    /// both in full. A store that can read both in one pass should.
    fn side_indexes(&self, kind: Kind) -> Result<[SideIndex; 2], StoreError> {
        Ok([
            self.side_index(kind, Side::Zoho)?,
            self.side_index(kind, Side::Outlook)?,
        ])
    }
    /// The mappings holding any of these ids on `side`.
    fn mappings_by_ids(
        &self,
        kind: Kind,
        side: Side,
        ids: &[String],
    ) -> Result<Vec<Mapping>, StoreError>;
    /// The mappings with these sync ids.
    fn mappings_by_sync_ids(&self, kind: Kind, ids: &[SyncId]) -> Result<Vec<Mapping>, StoreError>;
    /// Number of active (not dormant) mappings of a kind.
    fn mapping_count(&self, kind: Kind) -> Result<usize, StoreError>;
    /// The cursor of a side and kind, if one was stored for this scope fingerprint.
    fn cursor(
        &self,
        kind: Kind,
        side: Side,
        fingerprint: &str,
    ) -> Result<Option<Cursor>, StoreError>;
    /// Pending create intents of a kind.
    fn intents(&self, kind: Kind) -> Result<Vec<Intent>, StoreError>;
    /// Journals create intents (one transaction).
    fn journal(&self, intents: &[Intent]) -> Result<(), StoreError>;
    /// Applies one batch's results (one transaction).
    fn commit(&self, commit: &Commit) -> Result<(), StoreError>;
    /// Starts a commit and returns at once; the ticket resolves when it is durable. The engine
    /// uses it to write results while it goes on sending batches (a store with its own writer
    /// thread overlaps the two). Contract: commits take effect in the order they were started,
    /// each atomically, and every later call on the store (a read, a [`StateStore::commit`])
    /// sees all of them. The default commits at once, before returning.
    fn commit_in_background(&self, commit: Commit) -> CommitTicket {
        Box::pin(futures::future::ready(self.commit(&commit)))
    }
    /// Called by the engine once a kind's writes are done (its last commit durable): a store
    /// that put work off while a large batch of inserts ran finishes it here (the SQLite store
    /// builds the indexes it set aside to fill an empty table). Nothing depends on it being
    /// called: such a store finishes that work before any read or write that needs it. The
    /// default does nothing.
    fn finish_writes(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Deferred records of a kind.
    fn deferred(&self, kind: Kind) -> Result<Vec<Deferred>, StoreError>;
    /// Queued conflicts (all kinds when `None`).
    fn conflicts(&self, kind: Option<Kind>) -> Result<Vec<QueuedConflict>, StoreError>;
    /// Records the user's choice for a queued conflict.
    fn resolve_conflict(&self, id: i64, winner: Side) -> Result<(), StoreError>;
    /// Appends a finished run to the history.
    fn record_run(&self, report: &SyncReport) -> Result<(), StoreError>;
    /// The latest runs, newest first.
    fn history(&self, limit: usize) -> Result<Vec<SyncReport>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::VersionTag;

    #[test]
    fn version_tags_tell_versions_apart_and_an_empty_version_has_none() {
        assert_eq!(VersionTag::of(""), None);
        assert_eq!(VersionTag::of("v1"), VersionTag::of_bytes(b"v1"));
        assert!(VersionTag::of("v1").is_some());
        assert_ne!(VersionTag::of("v1"), VersionTag::of("v2"));
        assert_ne!(
            VersionTag::of("2026-03-04T10:00:00+01:00"),
            VersionTag::of("2026-03-04T10:00:01+01:00")
        );
    }
}
