//! The plug-in's rules, one scenario each, run through the engine with in-memory services.

use std::sync::Arc;

use crmsync_core::memory::{MemoryConnector, ReadGauge};
use crmsync_core::*;

use crate::world::*;

#[test]
fn new_record_on_one_side_is_created_never_a_conflict() {
    let mut w = World::new();
    w.settings.contacts.conflict.winner = Winner::Manual;
    w.zoho.insert(contact("a@x.org", "Zhang"), None);
    w.outlook.insert(contact("b@x.org", "Smith"), None);
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.created_in_outlook, 1);
    assert_eq!(r.counts.created_in_zoho, 1);
    assert_eq!(r.counts.conflicts_queued + r.counts.conflicts_resolved, 0);
    assert!(r.conflicts.is_empty());
    // Echoes of our own writes produce nothing.
    let again = w.sync_kind(Kind::Contact);
    assert_eq!(again.counts.writes, 0, "{again:?}");
}

fn both_edit_same_field(winner: Winner) -> World {
    let mut w = World::new();
    w.settings.contacts.conflict.winner = winner;
    let z = w.zoho.insert(contact("a@x.org", "Zhang"), None);
    w.sync();
    let o = w.twin_of(Side::Zoho, &z).unwrap();
    w.zoho.set_clock(1_800_000_000);
    w.outlook.set_clock(1_800_000_000 + 3600);
    w.zoho.update(&z, set_family("FromZoho"));
    w.outlook.update(&o, set_family("FromOutlook"));
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.conflicts.len(), 1);
    assert_eq!(r.conflicts[0].fields, [Field::Name].into_iter().collect());
    w
}

#[test]
fn zoho_wins() {
    let w = both_edit_same_field(Winner::Zoho);
    assert_eq!(family(&w.only(Side::Outlook, Kind::Contact)), "FromZoho");
    assert_eq!(family(&w.only(Side::Zoho, Kind::Contact)), "FromZoho");
}

#[test]
fn outlook_wins() {
    let w = both_edit_same_field(Winner::Outlook);
    assert_eq!(family(&w.only(Side::Outlook, Kind::Contact)), "FromOutlook");
    assert_eq!(family(&w.only(Side::Zoho, Kind::Contact)), "FromOutlook");
}

#[test]
fn newest_wins_uses_modified_time() {
    // Outlook's edit is made after Zoho's, so Outlook is newer.
    let w = both_edit_same_field(Winner::Newest);
    assert_eq!(family(&w.only(Side::Zoho, Kind::Contact)), "FromOutlook");
}

#[test]
fn field_merge_on_keeps_both_sides_edits_of_different_fields() {
    let mut w = World::new();
    w.settings.contacts.conflict.winner = Winner::Outlook;
    let z = w.zoho.insert(contact("a@x.org", "Zhang"), None);
    w.sync();
    let o = w.twin_of(Side::Zoho, &z).unwrap();
    w.zoho.update(&z, set_family("Wang"));
    w.outlook.update(&o, set_job("CTO"));
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.merged, 1);
    assert!(
        r.conflicts.is_empty(),
        "different fields are not a conflict"
    );
    for side in Side::BOTH {
        let Record::Contact(c) = w.only(side, Kind::Contact) else {
            panic!()
        };
        assert_eq!(
            (c.family_name.as_str(), c.job_title.as_str()),
            ("Wang", "CTO")
        );
    }
    assert_eq!(w.sync_kind(Kind::Contact).counts.writes, 0);
}

#[test]
fn field_merge_off_is_the_plugins_whole_record_rule() {
    let mut w = World::new();
    w.settings.contacts.conflict = ConflictPolicy {
        winner: Winner::Zoho,
        field_merge: false,
    };
    let z = w.zoho.insert(contact("a@x.org", "Zhang"), None);
    w.sync();
    let o = w.twin_of(Side::Zoho, &z).unwrap();
    w.zoho.update(&z, set_family("Wang"));
    w.outlook.update(&o, set_job("CTO"));
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.conflicts.len(), 1);
    assert_eq!(r.conflicts[0].winner, Some(Side::Zoho));
    for side in Side::BOTH {
        let Record::Contact(c) = w.only(side, Kind::Contact) else {
            panic!()
        };
        // Zoho's whole record won: Outlook's job title edit is overwritten.
        assert_eq!((c.family_name.as_str(), c.job_title.as_str()), ("Wang", ""));
    }
}

#[test]
fn field_merge_on_both_sides_same_field_follows_rule_and_other_fields_merge() {
    let mut w = World::new();
    w.settings.contacts.conflict.winner = Winner::Zoho;
    let z = w.zoho.insert(contact("a@x.org", "Zhang"), None);
    w.sync();
    let o = w.twin_of(Side::Zoho, &z).unwrap();
    w.zoho.update(&z, set_family("Wang"));
    w.outlook.update(&o, |r| {
        set_family("Li")(r);
        set_job("CTO")(r);
    });
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.conflicts[0].fields, [Field::Name].into_iter().collect());
    for side in Side::BOTH {
        let Record::Contact(c) = w.only(side, Kind::Contact) else {
            panic!()
        };
        assert_eq!(
            (c.family_name.as_str(), c.job_title.as_str()),
            ("Wang", "CTO")
        );
    }
}

#[test]
fn contacts_only_from_the_chosen_folder() {
    let mut w = World::new();
    w.settings.contacts.outlook_container = Some("clients".into());
    w.outlook.insert(contact("in@x.org", "In"), Some("clients"));
    w.outlook.insert(contact("out@x.org", "Out"), None);
    w.zoho.insert(contact("z@x.org", "Zed"), None);
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.created_in_zoho, 1);
    let zoho: Vec<String> = w
        .zoho
        .records(Kind::Contact)
        .iter()
        .map(|r| family(&r.record))
        .collect();
    assert!(zoho.contains(&"In".to_string()) && !zoho.contains(&"Out".to_string()));
    // Zoho's contact went into the chosen folder.
    let created = w
        .outlook
        .records(Kind::Contact)
        .into_iter()
        .find(|r| family(&r.record) == "Zed")
        .unwrap();
    assert_eq!(created.container.as_deref(), Some("clients"));
}

fn titles(w: &World, side: Side) -> Vec<String> {
    let c = match side {
        Side::Zoho => &w.zoho,
        Side::Outlook => &w.outlook,
    };
    let mut v: Vec<String> = c
        .records(Kind::Event)
        .iter()
        .map(|r| r.record.title())
        .collect();
    v.sort();
    v
}

#[test]
fn events_zoho_category_only_by_default() {
    let mut w = World::new();
    w.outlook.insert(event("tagged", &["zoho"]), None);
    w.outlook.insert(event("personal", &["Family"]), None);
    w.outlook.insert(event("untagged", &[]), None);
    w.zoho.insert(event("from zoho", &[]), None);
    w.sync_kind(Kind::Event);
    assert_eq!(titles(&w, Side::Zoho), vec!["from zoho", "tagged"]);
    // Events created from Zoho carry the Zoho category, so they stay in scope.
    let created = w
        .outlook
        .records(Kind::Event)
        .into_iter()
        .find(|r| r.record.title() == "from zoho")
        .unwrap();
    let Record::Event(e) = (*created.record).clone() else {
        panic!()
    };
    assert_eq!(e.categories, vec!["Zoho".to_string()]);
    assert_eq!(w.sync_kind(Kind::Event).counts.writes, 0);
}

#[test]
fn events_all_categories() {
    let mut w = World::new();
    w.settings.events.category_filter = CategoryFilter::All;
    w.outlook.insert(event("a", &["Family"]), None);
    w.outlook.insert(event("b", &[]), None);
    w.sync_kind(Kind::Event);
    assert_eq!(titles(&w, Side::Zoho), vec!["a", "b"]);
}

#[test]
fn events_chosen_categories() {
    let mut w = World::new();
    w.settings.events.category_filter =
        CategoryFilter::Chosen(vec!["Clients".into(), "Board".into()]);
    w.outlook.insert(event("a", &["clients"]), None);
    w.outlook.insert(event("b", &["Zoho"]), None);
    w.outlook.insert(event("c", &["Board", "Other"]), None);
    w.zoho.insert(event("z", &[]), None);
    w.sync_kind(Kind::Event);
    assert_eq!(titles(&w, Side::Zoho), vec!["a", "c", "z"]);
    let z = w
        .outlook
        .records(Kind::Event)
        .into_iter()
        .find(|r| r.record.title() == "z")
        .unwrap();
    let Record::Event(e) = (*z.record).clone() else {
        panic!()
    };
    assert_eq!(e.categories, vec!["Clients".to_string()]);
}

#[test]
fn private_outlook_events_stay_out_of_zoho() {
    let mut w = World::new();
    w.outlook.insert(event("secret", &["Zoho"]), None);
    let id = w.outlook.records(Kind::Event)[0].id.clone();
    w.outlook.update(&id, |r| {
        if let Record::Event(e) = r {
            e.sensitivity = Sensitivity::Private;
        }
    });
    w.sync_kind(Kind::Event);
    assert!(w.zoho.records(Kind::Event).is_empty());
}

#[test]
fn a_record_moved_out_of_scope_is_unlinked_not_deleted() {
    let mut w = World::new();
    w.settings.contacts.outlook_container = Some("clients".into());
    let o = w
        .outlook
        .insert(contact("a@x.org", "Zhang"), Some("clients"));
    w.sync();
    assert_eq!(w.zoho.records(Kind::Contact).len(), 1);
    w.outlook.move_to(&o, Some("archive"));
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.unlinked, 1);
    assert_eq!(r.counts.deleted_in_zoho, 0);
    assert_eq!(w.zoho.records(Kind::Contact).len(), 1);
    // Moving it back relinks rather than duplicating.
    w.outlook.move_to(&o, Some("clients"));
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(
        r.counts.created_in_zoho + r.counts.created_in_outlook,
        0,
        "{r:?}"
    );
    assert_eq!(w.zoho.records(Kind::Contact).len(), 1);
    assert_eq!(w.outlook.records(Kind::Contact).len(), 1);
}

#[test]
fn an_event_that_loses_its_category_is_unlinked_not_deleted() {
    let mut w = World::new();
    let o = w.outlook.insert(event("meeting", &["Zoho"]), None);
    w.sync();
    w.outlook.update(&o, |r| {
        if let Record::Event(e) = r {
            e.categories.clear();
        }
    });
    let r = w.sync_kind(Kind::Event);
    assert_eq!(r.counts.unlinked, 1);
    assert_eq!(w.zoho.records(Kind::Event).len(), 1);
}

#[test]
fn a_delete_propagates_when_the_other_side_is_unchanged() {
    let mut w = World::new();
    let z = w.zoho.insert(contact("a@x.org", "Zhang"), None);
    w.sync();
    w.zoho.delete(&z);
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.deleted_in_outlook, 1);
    assert!(w.outlook.records(Kind::Contact).is_empty());
    assert_eq!(r.deletes.len(), 1);
    // The report keeps what was deleted, though this run had not read it.
    let before = r.deletes[0].before.as_ref().expect("a before-image");
    assert_eq!(family(before), "Zhang");
}

#[test]
fn delete_vs_edit_the_edit_wins_by_default() {
    let mut w = World::new();
    let z = w.zoho.insert(contact("a@x.org", "Zhang"), None);
    w.sync();
    let o = w.twin_of(Side::Zoho, &z).unwrap();
    w.zoho.delete(&z);
    w.outlook.update(&o, set_job("CTO"));
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.restored, 1);
    let Record::Contact(c) = w.only(Side::Zoho, Kind::Contact) else {
        panic!()
    };
    assert_eq!(c.job_title, "CTO");
    assert_eq!(w.sync_kind(Kind::Contact).counts.writes, 0);
}

#[test]
fn delete_vs_edit_delete_wins_when_chosen() {
    let mut w = World::new();
    w.settings.contacts.delete_policy = DeletePolicy::DeleteWins;
    let z = w.zoho.insert(contact("a@x.org", "Zhang"), None);
    w.sync();
    let o = w.twin_of(Side::Zoho, &z).unwrap();
    w.zoho.delete(&z);
    w.outlook.update(&o, set_job("CTO"));
    w.sync_kind(Kind::Contact);
    assert!(w.outlook.records(Kind::Contact).is_empty());
}

#[test]
fn one_way_zoho_to_outlook_pushes_and_never_pulls() {
    let mut w = World::new();
    w.settings.contacts.direction = Direction::ZohoToOutlook;
    let z = w.zoho.insert(contact("a@x.org", "Zhang"), None);
    w.outlook.insert(contact("b@x.org", "OutlookOnly"), None);
    w.sync();
    assert_eq!(
        w.zoho.records(Kind::Contact).len(),
        1,
        "Outlook's records are not sent"
    );
    assert_eq!(w.outlook.records(Kind::Contact).len(), 2);
    let o = w.twin_of(Side::Zoho, &z).unwrap();
    // The target's own edit stays; it is neither sent back nor reverted…
    w.outlook.update(&o, set_job("Local"));
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.writes, 0);
    let Record::Contact(zc) = (*w.zoho.get(&z).unwrap().record).clone() else {
        panic!()
    };
    assert_eq!(zc.job_title, "");
    // …until the source changes that field.
    w.zoho.update(&z, set_job("Source"));
    w.sync();
    let Record::Contact(oc) = (*w.outlook.get(&o).unwrap().record).clone() else {
        panic!()
    };
    assert_eq!(oc.job_title, "Source");
    // The source's delete reaches the target.
    w.zoho.delete(&z);
    w.sync();
    assert!(w.outlook.get(&o).is_none());
}

#[test]
fn one_way_outlook_to_zoho() {
    let mut w = World::new();
    w.settings.tasks.direction = Direction::OutlookToZoho;
    w.zoho.insert(task("zoho only"), None);
    let o = w.outlook.insert(task("from outlook"), None);
    w.sync();
    assert_eq!(w.outlook.records(Kind::Task).len(), 1);
    assert_eq!(w.zoho.records(Kind::Task).len(), 2);
    // Deleting the copy in Zoho is not carried back, and not re-created either.
    let z = w.twin_of(Side::Outlook, &o).unwrap();
    w.zoho.delete(&z);
    w.sync();
    assert!(w.outlook.get(&o).is_some());
}

#[test]
fn the_mass_delete_guard_stops_and_explains() {
    let mut w = World::new();
    w.settings.contacts.outlook_container = Some("clients".into());
    let ids: Vec<String> = (0..40)
        .map(|i| {
            w.outlook
                .insert(contact(&format!("p{i}@x.org"), "P"), Some("clients"))
        })
        .collect();
    w.sync();
    assert_eq!(w.zoho.records(Kind::Contact).len(), 40);
    for id in &ids[..20] {
        w.outlook.delete(id);
    }
    let r = w.sync_kind(Kind::Contact);
    let g = r.guard.expect("the guard stops");
    assert_eq!((g.deletions, g.mapped), (20, 40));
    assert!(g.message.contains("--yes"), "{}", g.message);
    assert_eq!(r.counts.writes, 0);
    assert_eq!(
        w.zoho.records(Kind::Contact).len(),
        40,
        "nothing was deleted"
    );
    // Forcing proceeds.
    let out = w.run(SyncOptions {
        force: true,
        ..Default::default()
    });
    assert_eq!(out.report.kinds[0].counts.deleted_in_zoho, 20);
    assert_eq!(w.zoho.records(Kind::Contact).len(), 20);
}

#[test]
fn first_sync_links_twins_by_email_instead_of_duplicating() {
    let mut w = World::new();
    w.zoho.insert(contact("Ada@X.org", "Lovelace"), None);
    w.outlook.insert(
        Record::Contact(Contact {
            family_name: "Lovelace".into(),
            given_name: "Test".into(),
            emails: vec!["ada@x.org".into()],
            job_title: "Countess".into(),
            ..Default::default()
        }),
        None,
    );
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.linked, 1);
    assert_eq!(r.counts.created_in_zoho + r.counts.created_in_outlook, 0);
    // The empty job title in Zoho is filled from Outlook.
    let Record::Contact(c) = w.only(Side::Zoho, Kind::Contact) else {
        panic!()
    };
    assert_eq!(c.job_title, "Countess");
    assert_eq!(w.sync_kind(Kind::Contact).counts.writes, 0);
}

#[test]
fn ambiguous_twins_are_reported_not_guessed() {
    let mut w = World::new();
    w.zoho.insert(contact("ada@x.org", "Lovelace"), None);
    w.outlook.insert(contact("ada@x.org", "Byron"), None);
    w.outlook.insert(contact("ada@x.org", "King"), None);
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.created_in_zoho + r.counts.created_in_outlook, 0);
    assert_eq!(r.skipped.len(), 3);
    assert!(r.skipped[0].reason.contains("by hand"));
}

#[test]
fn manual_conflicts_are_queued_then_resolved() {
    let mut w = World::new();
    w.settings.contacts.conflict.winner = Winner::Manual;
    let z = w.zoho.insert(contact("a@x.org", "Zhang"), None);
    w.sync();
    let o = w.twin_of(Side::Zoho, &z).unwrap();
    w.zoho.update(&z, |r| {
        set_family("FromZoho")(r);
    });
    w.outlook.update(&o, |r| {
        set_family("FromOutlook")(r);
        set_job("CTO")(r);
    });
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.conflicts_queued, 1);
    // The non-conflicting field kept syncing.
    let Record::Contact(c) = (*w.zoho.get(&z).unwrap().record).clone() else {
        panic!()
    };
    assert_eq!(
        (c.family_name.as_str(), c.job_title.as_str()),
        ("FromZoho", "CTO")
    );
    let q = w.store.conflicts(None).unwrap();
    assert_eq!(q.len(), 1);
    w.store.resolve_conflict(q[0].id, Side::Outlook).unwrap();
    w.sync();
    for side in Side::BOTH {
        assert_eq!(family(&w.only(side, Kind::Contact)), "FromOutlook");
    }
    assert!(w.store.conflicts(None).unwrap().is_empty());
    assert_eq!(w.sync().writes(), 0);
}

#[test]
fn a_failing_record_is_reported_and_the_rest_sync() {
    let mut w = World::new();
    w.zoho
        .set_fail_rule(Some(std::sync::Arc::new(|op: &Operation| match op {
            Operation::Create { record, .. } if record.title().contains("Bad") => {
                Some(RecordError::invalid("Last_Name", "Last_Name is mandatory"))
            }
            _ => None,
        })));
    w.outlook.insert(contact("a@x.org", "Good"), None);
    w.outlook.insert(contact("b@x.org", "Bad"), None);
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.created_in_zoho, 1);
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].field.as_deref(), Some("Last_Name"));
    assert!(!r.errors[0].will_retry);
    // Parked: not retried until it changes, reported as skipped.
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.writes, 0);
    w.zoho.set_fail_rule(None);
    let bad = w
        .outlook
        .records(Kind::Contact)
        .into_iter()
        .find(|r| family(&r.record) == "Bad")
        .unwrap();
    w.outlook.update(&bad.id, set_family("Bad but fixed"));
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.created_in_zoho, 1);
}

#[test]
fn an_expired_cursor_falls_back_to_a_full_listing_without_duplicates() {
    let mut w = World::new();
    w.zoho.insert(contact("a@x.org", "A"), None);
    w.sync();
    w.zoho.insert(contact("b@x.org", "B"), None);
    w.zoho.expire_cursors();
    w.outlook.expire_cursors();
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.full_listing.len(), 2);
    assert_eq!(r.counts.created_in_outlook, 1);
    assert_eq!(w.outlook.records(Kind::Contact).len(), 2);
}

#[test]
fn a_dry_run_writes_nothing_and_returns_the_plan() {
    let mut w = World::new();
    w.zoho.insert(contact("a@x.org", "A"), None);
    let out = w.run(SyncOptions {
        dry_run: true,
        ..Default::default()
    });
    assert_eq!(out.report.kinds[0].counts.created_in_outlook, 1);
    assert!(w.outlook.records(Kind::Contact).is_empty());
    let json = serde_json::to_value(&out.plans[0]).unwrap();
    assert_eq!(json["steps"][0]["action"]["action"], "create");
    assert!(w.store.history(10).unwrap().is_empty());
}

#[test]
fn cancellation_stops_before_the_next_batch_and_commits_what_ran() {
    let w = World::new();
    for i in 0..50 {
        w.zoho.insert(contact(&format!("p{i}@x.org"), "P"), None);
    }
    let engine = w.engine();
    let token = engine.cancel_token();
    token.cancel();
    let out = futures::executor::block_on(engine.sync(
        &w.settings,
        &SyncOptions::default(),
        crmsync_core::memory::fixed_now(),
    ))
    .unwrap();
    assert!(out.report.cancelled);
    token.reset();
    let mut w = w;
    w.sync();
    assert_eq!(w.outlook.records(Kind::Contact).len(), 50);
}

#[test]
fn a_record_the_connector_cannot_sync_is_reported_and_left_alone() {
    let mut w = World::new();
    let linked = w.outlook.insert(event("weekly", &["Zoho"]), None);
    w.sync();
    assert_eq!(w.zoho.records(Kind::Event).len(), 1);
    // An edited occurrence of a series, say: present, but not syncable.
    let odd = w.outlook.insert(event("moved occurrence", &["Zoho"]), None);
    w.outlook
        .set_unsupported(&odd, Some("an edited occurrence of a recurring series"));
    w.outlook
        .set_unsupported(&linked, Some("an edited occurrence of a recurring series"));
    for full in [false, true] {
        if full {
            w.outlook.expire_cursors();
        }
        let r = w.sync_kind(Kind::Event);
        assert_eq!(r.counts.writes, 0, "full listing {full}: {r:?}");
        assert_eq!(r.counts.unlinked, 0, "{r:?}");
        assert_eq!(r.counts.skipped, 2, "{r:?}");
        let mut reasons: Vec<_> = r
            .skipped
            .iter()
            .map(|s| (s.title.as_str(), s.reason.as_str()))
            .collect();
        reasons.sort();
        assert_eq!(
            reasons,
            [
                (
                    "moved occurrence",
                    "not synced: an edited occurrence of a recurring series"
                ),
                (
                    "weekly",
                    "not synced: an edited occurrence of a recurring series"
                )
            ]
        );
        // Touch both again so the delta round reports them too.
        w.outlook
            .set_unsupported(&odd, Some("an edited occurrence of a recurring series"));
        w.outlook
            .set_unsupported(&linked, Some("an edited occurrence of a recurring series"));
    }
    assert_eq!(w.zoho.records(Kind::Event).len(), 1);
    // Syncable again: the unlinked one is created, the linked one stays linked.
    w.outlook.set_unsupported(&odd, None);
    w.outlook.set_unsupported(&linked, None);
    let r = w.sync_kind(Kind::Event);
    assert_eq!(r.counts.created_in_zoho, 1, "{r:?}");
    assert_eq!(w.zoho.records(Kind::Event).len(), 2);
    assert_eq!(w.sync_kind(Kind::Event).counts.writes, 0);
}

#[test]
fn both_sides_are_read_at_once() {
    let gauge = Arc::new(ReadGauge::default());
    let mut w = World::new();
    w.zoho = Arc::new(
        MemoryConnector::new("z", 100)
            .without_containers()
            .with_read_gauge(gauge.clone()),
    );
    w.outlook = Arc::new(MemoryConnector::new("o", 20).with_read_gauge(gauge.clone()));
    w.zoho.insert(contact("a@x.org", "Zhang"), None);
    w.outlook.insert(contact("b@x.org", "Smith"), None);
    let r = w.sync_kind(Kind::Contact);
    assert_eq!(r.counts.created_in_outlook + r.counts.created_in_zoho, 2);
    assert_eq!(gauge.peak(), 2, "the two reads overlapped");
}
