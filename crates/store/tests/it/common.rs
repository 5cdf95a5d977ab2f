//! Builders shared by the tests.

use crmsync_core::field::FieldSet;
use crmsync_core::memory::fixed_now;
use crmsync_core::{
    Contact, Deferred, FieldHashes, Intent, Kind, Mapping, QueuedConflict, Record, Side, SideState,
    SyncId,
};

pub fn side(id: &str, version: &str, hashes: Vec<u64>) -> SideState {
    SideState {
        id: id.into(),
        version: version.into(),
        hashes: FieldHashes(hashes),
    }
}

pub fn mapping(kind: Kind, sync_id: &str, zoho: &str, outlook: &str) -> Mapping {
    Mapping {
        kind,
        sync_id: SyncId(sync_id.into()),
        zoho: side(zoho, "zv1", vec![1, u64::MAX, 0x0123_4567_89ab_cdef]),
        outlook: side(outlook, "ov1", vec![42, 7]),
        dormant: None,
    }
}

pub fn intent(kind: Kind, sync_id: &str, target: Side, source: &str) -> Intent {
    Intent {
        kind,
        sync_id: SyncId(sync_id.into()),
        target,
        source: side(source, "v9", vec![9, 8, 7]),
    }
}

pub fn deferred(kind: Kind, side: Side, id: &str, attempts: u32) -> Deferred {
    Deferred {
        kind,
        side,
        id: id.into(),
        attempts,
        parked: attempts > 2,
        reason: format!("failed {attempts} times: ünïcödé"),
        version: format!("v{attempts}"),
    }
}

pub fn contact(name: &str) -> Record {
    Record::Contact(Contact {
        family_name: name.into(),
        emails: vec![format!("{name}@example.org")],
        ..Default::default()
    })
}

pub fn conflict(kind: Kind, sync_id: &str, name: &str, resolution: Option<Side>) -> QueuedConflict {
    QueuedConflict {
        id: 0,
        kind,
        sync_id: SyncId(sync_id.into()),
        fields: FieldSet::all(Kind::Contact),
        zoho: contact(&format!("{name}-z")),
        outlook: contact(&format!("{name}-o")),
        queued_at: fixed_now(),
        resolution,
    }
}
