//! Property tests of DESIGN.md's invariants over the in-memory store (the same properties run
//! over SQLite in crmsync-store). `PROPTEST_CASES=10000` runs the heavy version.

use std::sync::Arc;

use crmsync_core::memory::MemoryStore;
use crmsync_core::testkit::{check_rounds, config, rounds};
use crmsync_core::{Kind, StateStore, Winner};
use proptest::prelude::*;

fn memory() -> Box<dyn Fn() -> Arc<dyn StateStore>> {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    Box::new(move || store.clone())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn contacts_zoho_wins(r in rounds()) {
        check_rounds(Kind::Contact, Winner::Zoho, &r, memory()).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn contacts_outlook_wins(r in rounds()) {
        check_rounds(Kind::Contact, Winner::Outlook, &r, memory()).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn events_by_category(r in rounds()) {
        check_rounds(Kind::Event, Winner::Zoho, &r, memory()).map_err(TestCaseError::fail)?;
    }
}
