//! Quick start: a two-way sync between two in-memory services over the SQLite state store.
//!
//! `cargo run --release --example quickstart`
//!
//! Zoho and Outlook each start with a few contacts (one person is on both sides and gets linked,
//! not duplicated); the first sync makes both sides agree, then both sides are edited (including
//! the same record on both sides) and a second sync merges the edits. A third sync writes nothing.

use std::sync::Arc;

use chrono::Duration;
use crmsync::core::memory::{fixed_now, MemoryConnector};
use crmsync::core::{Contact, Engine, Kind, Record, Settings, SyncOptions, SyncReport};
use crmsync::store::SqliteStore;

fn contact(given: &str, family: &str, email: &str) -> Record {
    Record::Contact(Contact {
        given_name: given.into(),
        family_name: family.into(),
        emails: vec![email.into()],
        ..Default::default()
    })
}

fn print(title: &str, r: &SyncReport) {
    println!("== {title}");
    for k in r.kinds.iter().filter(|k| k.kind == Kind::Contact) {
        let c = &k.counts;
        println!(
            "  {:<8} created zoho/outlook {}/{}  updated {}/{}  deleted {}/{}  linked {}  merged {}  conflicts {}  errors {}  writes {}",
            k.kind.as_str(),
            c.created_in_zoho,
            c.created_in_outlook,
            c.updated_in_zoho,
            c.updated_in_outlook,
            c.deleted_in_zoho,
            c.deleted_in_outlook,
            c.linked,
            c.merged,
            c.conflicts_resolved + c.conflicts_queued,
            c.errors,
            c.writes
        );
        for conflict in &k.conflicts {
            println!(
                "    conflict on {:?} of {:?}: {:?} rule kept {:?}",
                conflict.fields, conflict.title, conflict.rule, conflict.winner
            );
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("state.db"))?);
    let zoho = Arc::new(MemoryConnector::new("zoho", 100).without_containers());
    let outlook = Arc::new(MemoryConnector::new("outlook", 20));

    let zhang = zoho.insert(contact("伟", "张", "zhang.wei@example.cn"), None);
    zoho.insert(contact("Ada", "Lovelace", "ada@example.org"), None);
    outlook.insert(contact("Alan", "Turing", "alan@example.org"), None);
    // The same person on both sides: linked by e-mail, not duplicated.
    outlook.insert(contact("Ada", "Lovelace", "ADA@example.org"), None);

    let settings = Settings::default();
    let engine = Engine::new(zoho.clone(), outlook.clone(), store.clone());
    let mut now = fixed_now();
    let mut run = |title: &str| -> Result<SyncReport, Box<dyn std::error::Error>> {
        now += Duration::minutes(5);
        let out =
            futures::executor::block_on(engine.sync(&settings, &SyncOptions::default(), now))?;
        print(title, &out.report);
        Ok(out.report)
    };

    run("first sync")?;

    // Both sides edit the same contact: different fields merge, the same field follows the rule
    // (Zoho wins by default).
    let twin = outlook
        .records(Kind::Contact)
        .into_iter()
        .find(|r| r.record.title().contains('张'))
        .ok_or("the contact was not created in Outlook")?;
    zoho.update(&zhang, |r| {
        if let Record::Contact(c) = r {
            c.job_title = "总经理".into();
            c.department = "Sales".into();
        }
    });
    outlook.update(&twin.id, |r| {
        if let Record::Contact(c) = r {
            c.job_title = "CEO".into();
            c.notes = "Met at the Shanghai fair 🎉".into();
        }
    });
    run("second sync (edits on both sides)")?;
    let third = run("third sync (nothing to do)")?;

    let z = zoho.records(Kind::Contact).len();
    let o = outlook.records(Kind::Contact).len();
    println!(
        "zoho has {z} contacts, outlook has {o}; the third sync wrote {}",
        third.writes()
    );
    if z != o || third.writes() != 0 {
        return Err("the two sides do not agree".into());
    }
    Ok(())
}
