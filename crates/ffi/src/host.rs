//! `HostConnector`: a whole connector written in the host language (a local Outlook data source
//! in Swift, an in-memory store in Python), adapted to the core's `Connector` trait.
//!
//! Records cross as canonical JSON: the serde form of `crmsync_core::Record`
//! (`{"kind": "contact", "given_name": …}`), the API Boundary that the core snapshot-tests.
//! Every host call is synchronous and runs on the runtime's blocking pool, so a slow host never
//! stalls the engine's other work.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use crmsync_core as core;
use crmsync_core::{ConnectorError, ConnectorErrorKind, Field, FieldSet, Record};

use crate::error::CrmSyncError;
use crate::types::{field_names, Container, Kind};

/// What a host connector can do.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HostCapabilities {
    /// The kinds it syncs.
    pub kinds: Vec<Kind>,
    /// Largest batch `apply` accepts (at least 1).
    pub max_batch: u32,
    /// Whether `changes` works (otherwise every sync lists everything).
    pub change_feed: bool,
    /// Whether `find_by_sync_id` finds what `apply` created (exactly-once creates).
    pub idempotent_creates: bool,
}

/// Which records a call is about.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HostScope {
    /// The kind.
    pub kind: Kind,
    /// The chosen folder / list / calendar id; `None` = the default one.
    pub container: Option<String>,
    /// Events: the start of the date window, Unix seconds.
    pub window_start: Option<i64>,
    /// Events: the end of the date window, Unix seconds.
    pub window_end: Option<i64>,
}

/// A record as the host holds it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HostRecord {
    /// The host's id.
    pub id: String,
    /// An opaque version that changes whenever the record does (compared for equality only).
    pub version: String,
    /// Last modification, Unix seconds (for "newest wins").
    pub modified_at: Option<i64>,
    /// The sync id stamped on the record by an earlier create or link.
    pub sync_id: Option<String>,
    /// The content, canonical JSON.
    pub record_json: String,
}

/// One item of a page of changes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum HostChange {
    /// Created or changed (in a full listing: present).
    Upsert {
        /// The record.
        record: HostRecord,
    },
    /// Deleted for sure.
    Deleted {
        /// Its id.
        id: String,
    },
    /// Left the scope, not known whether deleted.
    Vanished {
        /// Its id.
        id: String,
    },
}

/// One page of changes or of a full listing.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HostPage {
    /// The items.
    pub items: Vec<HostChange>,
    /// A token for the next page; `None` on the last page.
    pub next_page: Option<String>,
    /// On the last page: the cursor later `changes` calls continue from.
    pub cursor: Option<String>,
}

/// Whether a vanished record was deleted or only left the scope.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HostVanish {
    /// Its id.
    pub id: String,
    /// True when deleted, false when it exists outside the scope.
    pub deleted: bool,
}

/// One write.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum HostOperation {
    /// Create a record and stamp `sync_id` on it.
    Create {
        /// The sync id to keep with the record.
        sync_id: String,
        /// The content, canonical JSON.
        record_json: String,
    },
    /// Update some fields of a record.
    Update {
        /// The host's id.
        id: String,
        /// Only if the record still has this version; otherwise fail with `Changed`.
        if_version: Option<String>,
        /// The merge units written (`name`, `emails`, `when`, …).
        fields: Vec<String>,
        /// A JSON object holding exactly the keys to overwrite (the canonical keys of `fields`).
        patch_json: String,
        /// Stamp this sync id too.
        stamp: Option<String>,
    },
    /// Delete a record.
    Delete {
        /// The host's id.
        id: String,
        /// Only if the record still has this version.
        if_version: Option<String>,
    },
}

/// Why one write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum HostRecordErrorKind {
    /// The host cannot hold this record.
    Invalid,
    /// The record changed since it was read.
    Changed,
    /// The record does not exist.
    NotFound,
    /// Try again next run.
    Transient,
    /// Refused for another reason.
    Rejected,
}

/// The result of one write, in the order of the operations.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum HostWriteResult {
    /// Written.
    Written {
        /// The record's id (new for creates).
        id: String,
        /// The version after the write (empty for deletes).
        version: String,
        /// Last modification after the write, Unix seconds.
        modified_at: Option<i64>,
    },
    /// Failed.
    Failed {
        /// Why, as a category.
        kind: HostRecordErrorKind,
        /// The field at fault, when known.
        field: Option<String>,
        /// A human reason (no personal data).
        reason: String,
    },
}

/// A connector written in the host language. Stands in for the Outlook side of the sync.
#[uniffi::export(with_foreign)]
pub trait HostConnector: Send + Sync {
    /// What it can do.
    fn capabilities(&self) -> HostCapabilities;
    /// The folders / lists / calendars of a kind.
    fn containers(&self, kind: Kind) -> Result<Vec<Container>, CrmSyncError>;
    /// The category names it knows.
    fn categories(&self) -> Result<Vec<String>, CrmSyncError>;
    /// Makes sure a category exists.
    fn ensure_category(&self, name: String) -> Result<(), CrmSyncError>;
    /// One page of changes since `cursor`; throw `InvalidInput` for an unknown cursor to get a
    /// full listing instead.
    fn changes(
        &self,
        cursor: String,
        scope: HostScope,
        page: Option<String>,
    ) -> Result<HostPage, CrmSyncError>;
    /// One page of a full listing.
    fn list(&self, scope: HostScope, page: Option<String>) -> Result<HostPage, CrmSyncError>;
    /// Reads records by id (missing ones as `Deleted`).
    fn fetch(&self, scope: HostScope, ids: Vec<String>) -> Result<Vec<HostChange>, CrmSyncError>;
    /// Tells whether records that left the scope were deleted.
    fn classify_vanished(
        &self,
        scope: HostScope,
        ids: Vec<String>,
    ) -> Result<Vec<HostVanish>, CrmSyncError>;
    /// Applies a batch; one result per operation, in order.
    fn apply(
        &self,
        scope: HostScope,
        operations: Vec<HostOperation>,
    ) -> Result<Vec<HostWriteResult>, CrmSyncError>;
    /// Finds records by the sync ids stamped on them.
    fn find_by_sync_id(
        &self,
        scope: HostScope,
        sync_ids: Vec<String>,
    ) -> Result<Vec<HostRecord>, CrmSyncError>;
}

/// The canonical JSON keys a merge unit covers (see `crmsync_core::field::copy_fields`).
pub(crate) fn field_keys(f: Field) -> &'static [&'static str] {
    match f {
        Field::Name => &["given_name", "middle_name", "family_name", "display_name"],
        Field::Emails => &["emails"],
        Field::Phones => &["phones"],
        Field::Company => &["company"],
        Field::JobTitle => &["job_title"],
        Field::Department => &["department"],
        Field::BusinessAddress => &["business_address"],
        Field::HomeAddress => &["home_address"],
        Field::OtherAddress => &["other_address"],
        Field::Birthday => &["birthday"],
        Field::ContactNotes | Field::TaskNotes | Field::EventNotes => &["notes"],
        Field::ContactCategories | Field::EventCategories => &["categories"],
        Field::TaskTitle | Field::EventTitle => &["title"],
        Field::TaskSchedule => &["due", "start", "recurrence"],
        Field::TaskStatus => &["status", "completed_at"],
        Field::TaskPriority => &["priority"],
        Field::TaskReminder => &["reminder"],
        Field::EventWhen => &["start", "end", "time_zone", "all_day", "recurrence"],
        Field::EventLocation => &["location"],
        Field::EventAttendees => &["attendees"],
        Field::EventReminder => &["reminder_minutes"],
        Field::EventSensitivity => &["sensitivity"],
    }
}

/// The JSON object holding exactly the keys of `fields` from `record`.
pub(crate) fn patch_json(record: &Record, fields: FieldSet) -> String {
    let full = serde_json::to_value(record).unwrap_or_default();
    let mut patch = serde_json::Map::new();
    for f in fields.iter() {
        for k in field_keys(f) {
            if let Some(v) = full.get(*k) {
                patch.insert((*k).to_string(), v.clone());
            }
        }
    }
    serde_json::Value::Object(patch).to_string()
}

/// The host connector as the core's `Connector`.
pub(crate) struct HostConnectorAdapter {
    host: Arc<dyn HostConnector>,
    caps: core::Capabilities,
}

impl HostConnectorAdapter {
    /// Reads the host's capabilities once (they do not change during a client's life).
    pub(crate) async fn new(host: Arc<dyn HostConnector>) -> Result<Self, CrmSyncError> {
        let h = Arc::clone(&host);
        let caps = tokio::task::spawn_blocking(move || h.capabilities()).await?;
        let caps = core::Capabilities {
            kinds: caps.kinds.into_iter().map(Into::into).collect(),
            max_batch: caps.max_batch.max(1) as usize,
            max_concurrency: 1,
            create_mode: if caps.idempotent_creates {
                core::CreateMode::Idempotent
            } else {
                core::CreateMode::AtLeastOnce
            },
            change_feed: caps.change_feed,
            schemas: vec![],
        };
        Ok(HostConnectorAdapter { host, caps })
    }

    async fn call<T, F>(&self, f: F) -> Result<T, ConnectorError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn HostConnector) -> Result<T, CrmSyncError> + Send + 'static,
    {
        let host = Arc::clone(&self.host);
        match tokio::task::spawn_blocking(move || f(host.as_ref())).await {
            Ok(r) => r.map_err(|e| e.to_connector_error()),
            Err(e) => Err(CrmSyncError::from(e).to_connector_error()),
        }
    }
}

fn scope_of(s: &core::Scope) -> HostScope {
    HostScope {
        kind: s.kind.into(),
        container: s.container.clone(),
        window_start: s.window.map(|w| w.start.timestamp()),
        window_end: s.window.map(|w| w.end.timestamp()),
    }
}

fn bad(what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::new(
        ConnectorErrorKind::Protocol,
        format!("the host connector returned {what} that cannot be read: {e}"),
    )
}

fn time(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(|s| DateTime::from_timestamp(s, 0))
}

fn record_from(h: HostRecord) -> Result<core::RemoteRecord, ConnectorError> {
    let record: Record = serde_json::from_str(&h.record_json).map_err(|e| bad("a record", e))?;
    Ok(core::RemoteRecord {
        id: h.id,
        version: h.version,
        modified_at: time(h.modified_at),
        sync_id: h.sync_id.map(core::SyncId),
        record: record.into(),
    })
}

fn change_from(c: HostChange) -> Result<core::ChangeItem, ConnectorError> {
    Ok(match c {
        HostChange::Upsert { record } => core::ChangeItem::Upsert(record_from(record)?),
        HostChange::Deleted { id } => core::ChangeItem::Deleted { id },
        HostChange::Vanished { id } => core::ChangeItem::Vanished { id },
    })
}

fn page_from(p: HostPage) -> Result<core::ChangePage, ConnectorError> {
    let items = p
        .items
        .into_iter()
        .map(change_from)
        .collect::<Result<Vec<_>, _>>()?;
    let next = match p.next_page {
        Some(t) => core::Next::Page(t),
        None => core::Next::Done(core::Cursor(p.cursor.unwrap_or_default())),
    };
    Ok(core::ChangePage { items, next })
}

fn operation_to(op: core::Operation) -> HostOperation {
    match op {
        core::Operation::Create { sync_id, record } => HostOperation::Create {
            sync_id: sync_id.0,
            record_json: crate::types::record_json(&record),
        },
        core::Operation::Update {
            id,
            if_version,
            fields,
            record,
            stamp,
        } => HostOperation::Update {
            id,
            if_version,
            fields: field_names(fields),
            patch_json: patch_json(&record, fields),
            stamp: stamp.map(|s| s.0),
        },
        core::Operation::Delete { id, if_version } => HostOperation::Delete { id, if_version },
    }
}

fn result_from(r: HostWriteResult) -> core::OpResult {
    match r {
        HostWriteResult::Written {
            id,
            version,
            modified_at,
        } => Ok(core::Written {
            id,
            version,
            modified_at: time(modified_at),
            stored: None,
        }),
        HostWriteResult::Failed {
            kind,
            field,
            reason,
        } => Err(core::RecordError {
            kind: match kind {
                HostRecordErrorKind::Invalid => core::RecordErrorKind::Invalid,
                HostRecordErrorKind::Changed => core::RecordErrorKind::Changed,
                HostRecordErrorKind::NotFound => core::RecordErrorKind::NotFound,
                HostRecordErrorKind::Transient => core::RecordErrorKind::Transient,
                HostRecordErrorKind::Rejected => core::RecordErrorKind::Rejected,
            },
            field,
            reason,
        }),
    }
}

#[async_trait]
impl core::Connector for HostConnectorAdapter {
    fn capabilities(&self) -> core::Capabilities {
        self.caps.clone()
    }

    async fn containers(&self, kind: core::Kind) -> Result<Vec<core::Container>, ConnectorError> {
        let v = self.call(move |h| h.containers(kind.into())).await?;
        Ok(v.into_iter().map(Into::into).collect())
    }

    async fn categories(&self) -> Result<Vec<String>, ConnectorError> {
        self.call(|h| h.categories()).await
    }

    async fn ensure_category(&self, name: &str) -> Result<(), ConnectorError> {
        let name = name.to_string();
        self.call(move |h| h.ensure_category(name)).await
    }

    async fn changes(
        &self,
        cursor: &core::Cursor,
        req: &core::PageRequest,
    ) -> Result<core::ChangePage, ConnectorError> {
        let (cursor, scope, page) = (cursor.0.clone(), scope_of(&req.scope), req.page.clone());
        match self.call(move |h| h.changes(cursor, scope, page)).await {
            // An unknown or stale cursor: the engine falls back to a full listing.
            Err(e) if e.kind == ConnectorErrorKind::Invalid => {
                Err(ConnectorError::cursor_expired())
            }
            Err(e) => Err(e),
            Ok(p) => page_from(p),
        }
    }

    async fn list(&self, req: &core::PageRequest) -> Result<core::ChangePage, ConnectorError> {
        let (scope, page) = (scope_of(&req.scope), req.page.clone());
        page_from(self.call(move |h| h.list(scope, page)).await?)
    }

    async fn fetch(
        &self,
        scope: &core::Scope,
        ids: &[String],
    ) -> Result<Vec<core::ChangeItem>, ConnectorError> {
        let (scope, ids) = (scope_of(scope), ids.to_vec());
        self.call(move |h| h.fetch(scope, ids))
            .await?
            .into_iter()
            .map(change_from)
            .collect()
    }

    async fn classify_vanished(
        &self,
        scope: &core::Scope,
        ids: &[String],
    ) -> Result<Vec<(String, core::Vanish)>, ConnectorError> {
        let (scope, ids) = (scope_of(scope), ids.to_vec());
        let v = self.call(move |h| h.classify_vanished(scope, ids)).await?;
        Ok(v.into_iter()
            .map(|v| {
                let what = if v.deleted {
                    core::Vanish::Deleted
                } else {
                    core::Vanish::OutOfScope
                };
                (v.id, what)
            })
            .collect())
    }

    async fn apply(
        &self,
        scope: &core::Scope,
        ops: Vec<core::Operation>,
    ) -> Result<Vec<core::OpResult>, ConnectorError> {
        let n = ops.len();
        let scope = scope_of(scope);
        let ops: Vec<HostOperation> = ops.into_iter().map(operation_to).collect();
        let results = self.call(move |h| h.apply(scope, ops)).await?;
        if results.len() != n {
            return Err(bad(
                "a batch result",
                format!("{} results for {n} operations", results.len()),
            ));
        }
        Ok(results.into_iter().map(result_from).collect())
    }

    async fn find_by_sync_id(
        &self,
        scope: &core::Scope,
        ids: &[core::SyncId],
    ) -> Result<Vec<(core::SyncId, core::RemoteRecord)>, ConnectorError> {
        let scope = scope_of(scope);
        let ids: Vec<String> = ids.iter().map(|s| s.0.clone()).collect();
        let found = self.call(move |h| h.find_by_sync_id(scope, ids)).await?;
        found
            .into_iter()
            .map(|r| {
                let rec = record_from(r)?;
                let sid = rec
                    .sync_id
                    .clone()
                    .ok_or_else(|| bad("a record", "a found record without its sync id"))?;
                Ok((sid, rec))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crmsync_core::field::copy_fields;

    fn filled(kind: core::Kind) -> Record {
        let text = "x".to_string();
        match kind {
            core::Kind::Contact => Record::Contact(core::Contact {
                given_name: text.clone(),
                middle_name: text.clone(),
                family_name: text.clone(),
                display_name: text.clone(),
                emails: vec![text.clone()],
                phones: vec![core::Phone {
                    kind: core::PhoneKind::Home,
                    number: "1".into(),
                }],
                company: text.clone(),
                job_title: text.clone(),
                department: text.clone(),
                business_address: Some(Box::new(core::Address {
                    city: text.clone(),
                    ..Default::default()
                })),
                home_address: Some(Box::default()),
                other_address: Some(Box::default()),
                birthday: chrono::NaiveDate::from_ymd_opt(1990, 1, 2),
                notes: text.clone(),
                categories: vec![text],
            }),
            core::Kind::Task => Record::Task(core::Task {
                title: text.clone(),
                notes: text,
                due: chrono::NaiveDate::from_ymd_opt(2026, 1, 2),
                start: chrono::NaiveDate::from_ymd_opt(2026, 1, 1),
                status: core::TaskStatus::Completed,
                priority: core::Priority::High,
                reminder: DateTime::from_timestamp(1_800_000_000, 0),
                completed_at: DateTime::from_timestamp(1_800_000_000, 0),
                recurrence: core::Recurrence::parse_rrule("FREQ=DAILY;INTERVAL=2").ok(),
            }),
            core::Kind::Event => Record::Event(core::Event {
                title: text.clone(),
                notes: text.clone(),
                start: DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
                end: DateTime::from_timestamp(1_800_003_600, 0).unwrap_or_default(),
                time_zone: "Europe/Paris".into(),
                all_day: true,
                location: text.clone(),
                attendees: vec![core::Attendee::default()],
                reminder_minutes: Some(15),
                recurrence: core::Recurrence::parse_rrule("FREQ=DAILY;INTERVAL=2").ok(),
                categories: vec![text],
                sensitivity: core::Sensitivity::Private,
                is_organizer: true,
            }),
        }
    }

    /// The key table says exactly what `copy_fields` copies: for every merge unit, copying it
    /// from a filled record into an empty one changes precisely the unit's keys.
    #[test]
    fn field_keys_match_copy_fields() {
        for kind in core::Kind::ALL {
            let src = filled(kind);
            for f in Field::of(kind) {
                let mut dst = Record::empty(kind);
                let before = serde_json::to_value(&dst).unwrap_or_default();
                copy_fields(&mut dst, &src, [*f].into_iter().collect());
                let after = serde_json::to_value(&dst).unwrap_or_default();
                let mut changed: Vec<&str> = after
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, v)| before.get(k.as_str()) != Some(*v))
                    .map(|(k, _)| k.as_str())
                    .collect();
                changed.sort_unstable();
                let mut want: Vec<&str> = field_keys(*f).to_vec();
                want.sort_unstable();
                assert_eq!(changed, want, "{f:?}");
            }
        }
    }
}
