//! The core's model-based properties (DESIGN.md's invariants) over SQLite, with the store
//! reopened from its file after every simulated crash. `PROPTEST_CASES=1000` runs more.

use std::sync::Arc;

use crmsync_core::testkit::{check_rounds, config, rounds, Round};
use crmsync_core::{Kind, StateStore, Winner};
use crmsync_store::SqliteStore;
use proptest::prelude::*;

fn run(kind: Kind, winner: Winner, r: &[Round]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path = dir.path().join("state.db");
    let open = Box::new(move || Arc::new(SqliteStore::open(&path).unwrap()) as Arc<dyn StateStore>);
    let out = check_rounds(kind, winner, r, open).map_err(TestCaseError::fail);
    drop(dir);
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn contacts_zoho_wins(r in rounds()) {
        run(Kind::Contact, Winner::Zoho, &r)?;
    }

    #[test]
    fn events_by_category(r in rounds()) {
        run(Kind::Event, Winner::Zoho, &r)?;
    }
}
