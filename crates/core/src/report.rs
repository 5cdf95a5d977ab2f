//! What a sync did: counts per kind and action, conflicts and how each was decided, per-record
//! errors with reasons, and why a run stopped early.
//!
//! API Boundary: shown by the CLI, returned through the FFI and stored in the run history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::field::FieldSet;
use crate::model::{Kind, Record, Side};
use crate::settings::Winner;

/// Counts of what a sync did (or, in a dry run, would do) for one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    /// Records created in Zoho.
    pub created_in_zoho: u64,
    /// Records created in Outlook.
    pub created_in_outlook: u64,
    /// Records updated in Zoho.
    pub updated_in_zoho: u64,
    /// Records updated in Outlook.
    pub updated_in_outlook: u64,
    /// Records deleted in Zoho.
    pub deleted_in_zoho: u64,
    /// Records deleted in Outlook.
    pub deleted_in_outlook: u64,
    /// Records changed on both sides whose changes were merged.
    pub merged: u64,
    /// First-sync twins linked instead of duplicated.
    pub linked: u64,
    /// Pairs unlinked because one record left the scope.
    pub unlinked: u64,
    /// Pairs linked again because a record came back into scope.
    pub relinked: u64,
    /// Records deleted on one side and edited on the other, restored.
    pub restored: u64,
    /// Conflicts decided by the rule.
    pub conflicts_resolved: u64,
    /// Conflicts queued for the user.
    pub conflicts_queued: u64,
    /// Records skipped (see `skipped`).
    pub skipped: u64,
    /// Records that failed (see `errors`).
    pub errors: u64,
    /// Create intents recovered after an interrupted run.
    pub recovered: u64,
    /// Remote write operations sent.
    pub writes: u64,
}

/// A conflict and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictReport {
    /// The Zoho id.
    pub zoho_id: String,
    /// The Outlook id.
    pub outlook_id: String,
    /// A title for the UI.
    pub title: String,
    /// The fields changed on both sides (differently).
    pub fields: FieldSet,
    /// The rule that applied.
    pub rule: Winner,
    /// The side whose values were kept; `None` = queued for the user.
    pub winner: Option<Side>,
}

/// A record left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipReport {
    /// The side holding the record.
    pub side: Side,
    /// Its id.
    pub id: String,
    /// A title for the UI.
    pub title: String,
    /// Why.
    pub reason: String,
}

/// A record that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// The side the write went to.
    pub side: Side,
    /// The record's id on that side (empty for a failed create) …
    pub id: String,
    /// … and on the source side.
    pub source_id: String,
    /// A title for the UI.
    pub title: String,
    /// The field at fault, when known.
    pub field: Option<String>,
    /// Why.
    pub reason: String,
    /// Whether the next run retries it.
    pub will_retry: bool,
}

/// A delete, with the record's before-image so nothing is lost without trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteReport {
    /// Where it was deleted.
    pub side: Side,
    /// Its id there.
    pub id: String,
    /// The record as last known (from this run's read, when it had one).
    pub before: Option<Record>,
}

/// Why the mass-delete guard stopped a kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardStop {
    /// Deletions the sync would have made.
    pub deletions: u64,
    /// Mapped records of the kind.
    pub mapped: u64,
    /// What to do.
    pub message: String,
}

/// What happened to one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindReport {
    /// The kind.
    pub kind: Kind,
    /// Whether each side was read in full (no cursor, expired cursor, changed scope).
    pub full_listing: Vec<Side>,
    /// Counts.
    pub counts: Counts,
    /// Conflicts.
    pub conflicts: Vec<ConflictReport>,
    /// Skipped records.
    pub skipped: Vec<SkipReport>,
    /// Failed records.
    pub errors: Vec<ErrorReport>,
    /// Deletes.
    pub deletes: Vec<DeleteReport>,
    /// Set when the guard stopped this kind before any write.
    pub guard: Option<GuardStop>,
    /// Set when the kind stopped on an error (sign-in needed, a call that kept failing).
    pub failure: Option<String>,
    /// Warnings (at-least-once creates, values cut to fit).
    pub warnings: Vec<String>,
}

impl KindReport {
    /// An empty report of a kind.
    pub fn new(kind: Kind) -> Self {
        KindReport {
            kind,
            full_listing: vec![],
            counts: Counts::default(),
            conflicts: vec![],
            skipped: vec![],
            errors: vec![],
            deletes: vec![],
            guard: None,
            failure: None,
            warnings: vec![],
        }
    }
}

/// The report of one sync run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    /// When the run started (the `now` it was given).
    pub started_at: DateTime<Utc>,
    /// A dry run writes nothing.
    pub dry_run: bool,
    /// The run was cancelled; what completed before is committed.
    pub cancelled: bool,
    /// Per kind.
    pub kinds: Vec<KindReport>,
}

impl SyncReport {
    /// Total remote writes.
    pub fn writes(&self) -> u64 {
        self.kinds.iter().map(|k| k.counts.writes).sum()
    }

    /// Whether every kind finished without a stop (guard, failure or cancellation).
    pub fn completed(&self) -> bool {
        !self.cancelled
            && self
                .kinds
                .iter()
                .all(|k| k.guard.is_none() && k.failure.is_none())
    }

    /// Total per-record errors.
    pub fn errors(&self) -> u64 {
        self.kinds.iter().map(|k| k.counts.errors).sum()
    }
}
