//! Plain records and enums of the FFI, mirroring the core's settings, report, containers,
//! progress and conflicts, with the conversions both ways.
//!
//! Mirrored here rather than derived in the core so the core keeps no FFI dependency; names
//! avoid clashing with SwiftUI (`SyncSettings`, not `Settings`). Instants cross as Unix seconds.

use crmsync_core as core;
use crmsync_core::{FieldSet, Record};

use crate::error::CrmSyncError;

/// The three kinds of record crmsync keeps in sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Kind {
    /// Zoho Contacts ↔ Outlook contacts of one folder.
    Contact,
    /// Zoho Tasks ↔ Microsoft To Do tasks of one list.
    Task,
    /// Zoho Events ↔ Outlook calendar events.
    Event,
}

impl From<core::Kind> for Kind {
    fn from(k: core::Kind) -> Self {
        match k {
            core::Kind::Contact => Kind::Contact,
            core::Kind::Task => Kind::Task,
            core::Kind::Event => Kind::Event,
        }
    }
}

impl From<Kind> for core::Kind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Contact => core::Kind::Contact,
            Kind::Task => core::Kind::Task,
            Kind::Event => core::Kind::Event,
        }
    }
}

/// One of the two services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Side {
    /// Zoho CRM.
    Zoho,
    /// Microsoft Outlook (or the host connector standing in its place).
    Outlook,
}

impl From<core::Side> for Side {
    fn from(s: core::Side) -> Self {
        match s {
            core::Side::Zoho => Side::Zoho,
            core::Side::Outlook => Side::Outlook,
        }
    }
}

impl From<Side> for core::Side {
    fn from(s: Side) -> Self {
        match s {
            Side::Zoho => core::Side::Zoho,
            Side::Outlook => core::Side::Outlook,
        }
    }
}

/// Which way records flow for one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Direction {
    /// Both ways (the default).
    TwoWay,
    /// Zoho is pushed to Outlook.
    ZohoToOutlook,
    /// Outlook is pushed to Zoho.
    OutlookToZoho,
}

/// Which Zoho records are in scope.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ZohoScope {
    /// Records owned by the signed-in user (the default).
    OwnedByMe,
    /// Every record the user can see.
    AllVisible,
    /// The records of a custom view.
    CustomView {
        /// The view's numeric id (`cvid`).
        view_id: String,
    },
}

/// Which Outlook events are in scope, by category.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum CategoryFilter {
    /// Only events with the Zoho category (the default).
    ZohoOnly,
    /// All events.
    All,
    /// Events with at least one of these categories.
    Chosen {
        /// Category names.
        names: Vec<String>,
    },
}

/// Who wins fields changed on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Winner {
    /// Zoho wins (the default).
    Zoho,
    /// Outlook wins.
    Outlook,
    /// The side modified most recently wins (ties: Zoho).
    Newest,
    /// Keep the conflict for the user to resolve.
    Manual,
}

/// What happens when one side deleted a record the other side edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeletePolicy {
    /// The edit wins (the default).
    EditWins,
    /// The delete wins.
    DeleteWins,
}

/// The conflict rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct ConflictPolicy {
    /// The rule for fields changed on both sides.
    pub winner: Winner,
    /// Merge fields changed on one side only (on by default).
    pub field_merge: bool,
}

/// The mass-delete guard.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct DeleteGuard {
    /// Whether the guard is on.
    pub enabled: bool,
    /// Stop when deletions exceed this share of the mapped records (0–1]…
    pub max_share: f64,
    /// …and this count.
    pub min_count: u32,
}

/// The event date window around the time of the sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct EventWindow {
    /// Days before now.
    pub days_back: u32,
    /// Days after now.
    pub days_ahead: u32,
}

/// The settings of one kind.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct KindSettings {
    /// Whether this kind syncs at all.
    pub enabled: bool,
    /// Which way.
    pub direction: Direction,
    /// The Outlook contact folder / task list / calendar id; `None` = the default one.
    pub outlook_container: Option<String>,
    /// Which Zoho records.
    pub zoho_scope: ZohoScope,
    /// Events only: the category filter.
    pub category_filter: CategoryFilter,
    /// Events only: the name of the "Zoho" category.
    pub zoho_category: String,
    /// Events only: the date window.
    pub window: EventWindow,
    /// The conflict rule.
    pub conflict: ConflictPolicy,
    /// Delete vs edit.
    pub delete_policy: DeletePolicy,
    /// Deletions are never sent to these sides.
    pub never_delete_on: Vec<Side>,
    /// The mass-delete guard.
    pub guard: DeleteGuard,
    /// Events only: private and confidential Outlook events go to Zoho too.
    pub sync_private_events: bool,
}

/// All settings (the Settings dialog).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncSettings {
    /// Contacts.
    pub contacts: KindSettings,
    /// Tasks.
    pub tasks: KindSettings,
    /// Events.
    pub events: KindSettings,
}

impl From<core::KindSettings> for KindSettings {
    fn from(k: core::KindSettings) -> Self {
        KindSettings {
            enabled: k.enabled,
            direction: match k.direction {
                core::Direction::TwoWay => Direction::TwoWay,
                core::Direction::ZohoToOutlook => Direction::ZohoToOutlook,
                core::Direction::OutlookToZoho => Direction::OutlookToZoho,
            },
            outlook_container: k.outlook_container,
            zoho_scope: match k.zoho_scope {
                core::ZohoScope::OwnedByMe => ZohoScope::OwnedByMe,
                core::ZohoScope::AllVisible => ZohoScope::AllVisible,
                core::ZohoScope::CustomView(view_id) => ZohoScope::CustomView { view_id },
            },
            category_filter: match k.category_filter {
                core::CategoryFilter::ZohoOnly => CategoryFilter::ZohoOnly,
                core::CategoryFilter::All => CategoryFilter::All,
                core::CategoryFilter::Chosen(names) => CategoryFilter::Chosen { names },
            },
            zoho_category: k.zoho_category,
            window: EventWindow {
                days_back: k.window.days_back,
                days_ahead: k.window.days_ahead,
            },
            conflict: ConflictPolicy {
                winner: winner_from_core(k.conflict.winner),
                field_merge: k.conflict.field_merge,
            },
            delete_policy: match k.delete_policy {
                core::DeletePolicy::EditWins => DeletePolicy::EditWins,
                core::DeletePolicy::DeleteWins => DeletePolicy::DeleteWins,
            },
            never_delete_on: k.never_delete_on.into_iter().map(Side::from).collect(),
            guard: DeleteGuard {
                enabled: k.guard.enabled,
                max_share: k.guard.max_share,
                min_count: k.guard.min_count,
            },
            sync_private_events: k.sync_private_events,
        }
    }
}

impl From<KindSettings> for core::KindSettings {
    fn from(k: KindSettings) -> Self {
        core::KindSettings {
            enabled: k.enabled,
            direction: match k.direction {
                Direction::TwoWay => core::Direction::TwoWay,
                Direction::ZohoToOutlook => core::Direction::ZohoToOutlook,
                Direction::OutlookToZoho => core::Direction::OutlookToZoho,
            },
            outlook_container: k.outlook_container,
            zoho_scope: match k.zoho_scope {
                ZohoScope::OwnedByMe => core::ZohoScope::OwnedByMe,
                ZohoScope::AllVisible => core::ZohoScope::AllVisible,
                ZohoScope::CustomView { view_id } => core::ZohoScope::CustomView(view_id),
            },
            category_filter: match k.category_filter {
                CategoryFilter::ZohoOnly => core::CategoryFilter::ZohoOnly,
                CategoryFilter::All => core::CategoryFilter::All,
                CategoryFilter::Chosen { names } => core::CategoryFilter::Chosen(names),
            },
            zoho_category: k.zoho_category,
            window: core::EventWindow {
                days_back: k.window.days_back,
                days_ahead: k.window.days_ahead,
            },
            conflict: core::ConflictPolicy {
                winner: match k.conflict.winner {
                    Winner::Zoho => core::Winner::Zoho,
                    Winner::Outlook => core::Winner::Outlook,
                    Winner::Newest => core::Winner::Newest,
                    Winner::Manual => core::Winner::Manual,
                },
                field_merge: k.conflict.field_merge,
            },
            delete_policy: match k.delete_policy {
                DeletePolicy::EditWins => core::DeletePolicy::EditWins,
                DeletePolicy::DeleteWins => core::DeletePolicy::DeleteWins,
            },
            never_delete_on: k.never_delete_on.into_iter().map(Into::into).collect(),
            guard: core::DeleteGuard {
                enabled: k.guard.enabled,
                max_share: k.guard.max_share,
                min_count: k.guard.min_count,
            },
            sync_private_events: k.sync_private_events,
        }
    }
}

fn winner_from_core(w: core::Winner) -> Winner {
    match w {
        core::Winner::Zoho => Winner::Zoho,
        core::Winner::Outlook => Winner::Outlook,
        core::Winner::Newest => Winner::Newest,
        core::Winner::Manual => Winner::Manual,
    }
}

impl From<core::Settings> for SyncSettings {
    fn from(s: core::Settings) -> Self {
        SyncSettings {
            contacts: s.contacts.into(),
            tasks: s.tasks.into(),
            events: s.events.into(),
        }
    }
}

impl From<SyncSettings> for core::Settings {
    fn from(s: SyncSettings) -> Self {
        core::Settings {
            contacts: s.contacts.into(),
            tasks: s.tasks.into(),
            events: s.events.into(),
        }
    }
}

/// A contact folder, task list or calendar the user can choose ("Change…").
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Container {
    /// Its id (what goes into `KindSettings::outlook_container`).
    pub id: String,
    /// Its display name (with the path for nested folders).
    pub name: String,
    /// Whether it is the default one.
    pub is_default: bool,
    /// The parent, for nested folders.
    pub parent_id: Option<String>,
}

impl From<core::Container> for Container {
    fn from(c: core::Container) -> Self {
        Container {
            id: c.id,
            name: c.name,
            is_default: c.is_default,
            parent_id: c.parent_id,
        }
    }
}

impl From<Container> for core::Container {
    fn from(c: Container) -> Self {
        core::Container {
            id: c.id,
            name: c.name,
            is_default: c.is_default,
            parent_id: c.parent_id,
        }
    }
}

/// What one run should do.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncRequest {
    /// One kind, or every enabled kind when `None`.
    pub kind: Option<Kind>,
    /// Plan only; write nothing.
    pub dry_run: bool,
    /// Proceed even when the mass-delete guard would stop.
    pub force: bool,
}

/// Progress of a running sync, in order.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ProgressEvent {
    /// A kind starts.
    KindStarted {
        /// The kind.
        kind: Kind,
    },
    /// Items read so far from one side.
    Reading {
        /// The kind.
        kind: Kind,
        /// The side.
        side: Side,
        /// Items so far.
        items: u64,
        /// Whether this is a full listing.
        full: bool,
    },
    /// The plan is ready.
    Planned {
        /// The kind.
        kind: Kind,
        /// Steps planned.
        steps: u64,
        /// Remote writes to make.
        writes: u64,
    },
    /// Writes done so far.
    Writing {
        /// The kind.
        kind: Kind,
        /// Done.
        done: u64,
        /// Total.
        total: u64,
    },
    /// A kind is finished.
    KindFinished {
        /// The kind.
        kind: Kind,
    },
}

impl From<&core::Progress> for ProgressEvent {
    fn from(p: &core::Progress) -> Self {
        match *p {
            core::Progress::KindStarted { kind } => {
                ProgressEvent::KindStarted { kind: kind.into() }
            }
            core::Progress::Reading {
                kind,
                side,
                items,
                full,
            } => ProgressEvent::Reading {
                kind: kind.into(),
                side: side.into(),
                items,
                full,
            },
            core::Progress::Planned {
                kind,
                steps,
                writes,
            } => ProgressEvent::Planned {
                kind: kind.into(),
                steps,
                writes,
            },
            core::Progress::Writing { kind, done, total } => ProgressEvent::Writing {
                kind: kind.into(),
                done,
                total,
            },
            core::Progress::KindFinished { kind } => {
                ProgressEvent::KindFinished { kind: kind.into() }
            }
        }
    }
}

/// How important a log event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    /// Worth showing.
    Info,
    /// Something the user may want to act on.
    Warning,
    /// A failure.
    Error,
}

/// A log line for the UI (no personal data, no secrets).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogEvent {
    /// Level.
    pub level: LogLevel,
    /// The sentence.
    pub message: String,
}

/// Counts of what a sync did for one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
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
    /// Records whose edits on both sides were merged.
    pub merged: u64,
    /// First-sync twins linked instead of duplicated.
    pub linked: u64,
    /// Pairs unlinked because a record left the scope.
    pub unlinked: u64,
    /// Pairs linked again.
    pub relinked: u64,
    /// Deleted records restored because the other side edited them.
    pub restored: u64,
    /// Conflicts decided by the rule.
    pub conflicts_resolved: u64,
    /// Conflicts queued for the user.
    pub conflicts_queued: u64,
    /// Records skipped.
    pub skipped: u64,
    /// Records that failed.
    pub errors: u64,
    /// Create intents recovered after an interrupted run.
    pub recovered: u64,
    /// Remote writes sent.
    pub writes: u64,
}

/// A conflict in a report and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConflictReport {
    /// The Zoho id.
    pub zoho_id: String,
    /// The Outlook id.
    pub outlook_id: String,
    /// A title for the UI.
    pub title: String,
    /// The fields changed on both sides.
    pub fields: Vec<String>,
    /// The rule that applied.
    pub rule: Winner,
    /// The side whose values were kept; `None` = queued for the user.
    pub winner: Option<Side>,
}

/// A record left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
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
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ErrorReport {
    /// The side the write went to.
    pub side: Side,
    /// The record's id there (empty for a failed create).
    pub id: String,
    /// The source record's id.
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

/// A delete, with the record's before-image.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeleteReport {
    /// Where it was deleted.
    pub side: Side,
    /// Its id there.
    pub id: String,
    /// The record as last known, as canonical JSON (see `HostConnector`).
    pub before_json: Option<String>,
}

/// Why the mass-delete guard stopped a kind.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GuardStop {
    /// Deletions the sync would have made.
    pub deletions: u64,
    /// Mapped records of the kind.
    pub mapped: u64,
    /// What to do.
    pub message: String,
}

/// What happened to one kind.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct KindReport {
    /// The kind.
    pub kind: Kind,
    /// Sides read in full.
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
    /// Set when the kind stopped on an error.
    pub failure: Option<String>,
    /// Warnings.
    pub warnings: Vec<String>,
}

/// The report of one run (the "last report" screen).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// When the run started, Unix seconds.
    pub started_at: i64,
    /// A dry run writes nothing.
    pub dry_run: bool,
    /// The run was cancelled; what completed before is committed.
    pub cancelled: bool,
    /// Every kind finished without a stop.
    pub completed: bool,
    /// Total remote writes.
    pub writes: u64,
    /// Total per-record errors.
    pub errors: u64,
    /// Per kind.
    pub kinds: Vec<KindReport>,
}

pub(crate) fn field_names(fields: FieldSet) -> Vec<String> {
    fields.iter().map(|f| f.name().to_string()).collect()
}

pub(crate) fn record_json(r: &Record) -> String {
    serde_json::to_string(r).unwrap_or_default()
}

impl From<core::Counts> for Counts {
    fn from(c: core::Counts) -> Self {
        Counts {
            created_in_zoho: c.created_in_zoho,
            created_in_outlook: c.created_in_outlook,
            updated_in_zoho: c.updated_in_zoho,
            updated_in_outlook: c.updated_in_outlook,
            deleted_in_zoho: c.deleted_in_zoho,
            deleted_in_outlook: c.deleted_in_outlook,
            merged: c.merged,
            linked: c.linked,
            unlinked: c.unlinked,
            relinked: c.relinked,
            restored: c.restored,
            conflicts_resolved: c.conflicts_resolved,
            conflicts_queued: c.conflicts_queued,
            skipped: c.skipped,
            errors: c.errors,
            recovered: c.recovered,
            writes: c.writes,
        }
    }
}

impl From<core::KindReport> for KindReport {
    fn from(k: core::KindReport) -> Self {
        KindReport {
            kind: k.kind.into(),
            full_listing: k.full_listing.into_iter().map(Side::from).collect(),
            counts: k.counts.into(),
            conflicts: k
                .conflicts
                .into_iter()
                .map(|c| ConflictReport {
                    zoho_id: c.zoho_id,
                    outlook_id: c.outlook_id,
                    title: c.title,
                    fields: field_names(c.fields),
                    rule: winner_from_core(c.rule),
                    winner: c.winner.map(Side::from),
                })
                .collect(),
            skipped: k
                .skipped
                .into_iter()
                .map(|s| SkipReport {
                    side: s.side.into(),
                    id: s.id,
                    title: s.title,
                    reason: s.reason,
                })
                .collect(),
            errors: k
                .errors
                .into_iter()
                .map(|e| ErrorReport {
                    side: e.side.into(),
                    id: e.id,
                    source_id: e.source_id,
                    title: e.title,
                    field: e.field,
                    reason: e.reason,
                    will_retry: e.will_retry,
                })
                .collect(),
            deletes: k
                .deletes
                .into_iter()
                .map(|d| DeleteReport {
                    side: d.side.into(),
                    id: d.id,
                    before_json: d.before.as_ref().map(record_json),
                })
                .collect(),
            guard: k.guard.map(|g| GuardStop {
                deletions: g.deletions,
                mapped: g.mapped,
                message: g.message,
            }),
            failure: k.failure,
            warnings: k.warnings,
        }
    }
}

impl From<core::SyncReport> for SyncReport {
    fn from(r: core::SyncReport) -> Self {
        SyncReport {
            started_at: r.started_at.timestamp(),
            dry_run: r.dry_run,
            cancelled: r.cancelled,
            completed: r.completed(),
            writes: r.writes(),
            errors: r.errors(),
            kinds: r.kinds.into_iter().map(KindReport::from).collect(),
        }
    }
}

/// A conflict kept for the user (rule "ask me").
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QueuedConflict {
    /// The id to resolve it by.
    pub id: i64,
    /// The kind.
    pub kind: Kind,
    /// A title for the UI.
    pub title: String,
    /// The fields changed on both sides.
    pub fields: Vec<String>,
    /// Zoho's record, canonical JSON (only `fields` matter).
    pub zoho_json: String,
    /// Outlook's record, canonical JSON.
    pub outlook_json: String,
    /// When it was queued, Unix seconds.
    pub queued_at: i64,
    /// The user's choice, applied at the next sync.
    pub resolution: Option<Side>,
}

impl From<core::QueuedConflict> for QueuedConflict {
    fn from(q: core::QueuedConflict) -> Self {
        QueuedConflict {
            id: q.id,
            kind: q.kind.into(),
            title: q.zoho.title(),
            fields: field_names(q.fields),
            zoho_json: record_json(&q.zoho),
            outlook_json: record_json(&q.outlook),
            queued_at: q.queued_at.timestamp(),
            resolution: q.resolution.map(Side::from),
        }
    }
}

/// Checks settings the way the core does, for the Settings dialog's "OK" button.
pub(crate) fn validated(s: SyncSettings) -> Result<core::Settings, CrmSyncError> {
    let s: core::Settings = s.into();
    s.validate()?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_through_the_mirror() {
        let mut s = core::Settings::default();
        s.events.category_filter = core::CategoryFilter::Chosen(vec!["Clients".into()]);
        s.contacts.zoho_scope = core::ZohoScope::CustomView("42".into());
        s.tasks.never_delete_on = vec![core::Side::Zoho];
        let back: core::Settings = SyncSettings::from(s.clone()).into();
        assert_eq!(back, s);
    }

    #[test]
    fn defaults_are_the_seeds() {
        let s = SyncSettings::from(core::Settings::default());
        assert_eq!(s.events.category_filter, CategoryFilter::ZohoOnly);
        assert_eq!(s.contacts.conflict.winner, Winner::Zoho);
        assert_eq!(s.events.window.days_ahead, 365);
    }
}
