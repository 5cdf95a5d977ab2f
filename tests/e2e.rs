//! End to end: the real Zoho and Outlook connectors, signed in through their refresh-token paths,
//! against both emulators over loopback HTTP, synced by the engine over the SQLite store.
//!
//! The product's promise in one test: first-sync twins are linked, records flow both ways
//! (events from Zoho arrive in Outlook with the Zoho category, Outlook events without it stay
//! out), both-side edits merge by field with Zoho winning shared fields, deletes propagate, an
//! event that loses its category is unlinked (not deleted), and a sync after each round writes
//! nothing.

use std::sync::Arc;

use chrono::{Duration, Utc};
use crmsync::core::secret::MemorySecretStore;
use crmsync::core::{Engine, Kind, Secret, SecretStore, Settings, SyncOptions, SyncReport};
use crmsync::outlook::{Auth, AuthConfig, OutlookConnector, OutlookOptions};
use crmsync::store::SqliteStore;
use crmsync::zoho::auth::{OAuthConfig, ZohoAuth};
use crmsync::zoho::{ZohoConnector, ZohoOptions};
use crmsync_emulator::graph::{GraphConfig, GraphEmulator};
use crmsync_emulator::zoho::{ZohoConfig, ZohoEmulator, DEFAULT_CLIENT_ID};
use serde_json::{json, Value};

struct World {
    zemu: ZohoEmulator,
    gemu: GraphEmulator,
    engine: Engine,
    settings: Settings,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let zemu = ZohoEmulator::start(ZohoConfig::default())
        .await
        .expect("zoho emulator");
    let gemu = GraphEmulator::start(GraphConfig::default())
        .await
        .expect("graph emulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = engine(&zemu, &gemu, &dir).await;
    World {
        zemu,
        gemu,
        engine,
        settings: Settings::default(),
        _dir: dir,
    }
}

/// Both connectors, signed in, over the state database in `dir`: what a (re)started process has.
async fn engine(zemu: &ZohoEmulator, gemu: &GraphEmulator, dir: &tempfile::TempDir) -> Engine {
    // Zoho: the self-client path, starting from a refresh token.
    let mut zcfg = OAuthConfig::new(DEFAULT_CLIENT_ID, 0);
    zcfg.sign_in_accounts = zemu.accounts_url();
    let zrefresh = zemu.issue_refresh_token("owner@example.com").expect("user");
    let zauth = ZohoAuth::from_refresh_token(
        zcfg,
        Arc::new(MemorySecretStore::default()),
        &zemu.accounts_url(),
        Secret::new(zrefresh),
        None,
    )
    .expect("zoho sign-in");
    let zoho = ZohoConnector::connect(Arc::new(zauth), ZohoOptions::default())
        .await
        .expect("zoho connects");

    // Outlook: a refresh token kept in the secret store, as after an earlier sign-in.
    let mut ocfg = AuthConfig::new("crmsync-e2e");
    ocfg.authority = gemu.login_url();
    let secrets = Arc::new(MemorySecretStore::default());
    secrets
        .set(
            &format!("{}.refresh_token", ocfg.key_prefix),
            &Secret::new(gemu.issue_refresh_token("crmsync-e2e")),
        )
        .expect("secret store");
    let oauth = Arc::new(Auth::oauth(ocfg, secrets));
    let outlook = OutlookConnector::new(gemu.graph_url(), oauth, OutlookOptions::default());

    let store = SqliteStore::open(dir.path().join("state.db")).expect("state db");
    Engine::new(Arc::new(zoho), Arc::new(outlook), Arc::new(store))
}

impl World {
    async fn sync(&self) -> SyncReport {
        let out = self
            .engine
            .sync(&self.settings, &SyncOptions::default(), Utc::now())
            .await
            .expect("sync runs");
        for k in &out.report.kinds {
            assert!(k.failure.is_none(), "{:?} failed: {:?}", k.kind, k.failure);
            assert!(k.errors.is_empty(), "{:?} errors: {:#?}", k.kind, k.errors);
        }
        out.report
    }

    fn zoho(&self, module: &str) -> Vec<Value> {
        self.zemu.records(module)
    }

    fn outlook_contacts(&self) -> Vec<Value> {
        self.gemu.contacts(&self.gemu.default_contact_folder())
    }

    fn outlook_events(&self) -> Vec<Value> {
        self.gemu.events(&self.gemu.default_calendar())
    }
}

fn by<'a>(v: &'a [Value], key: &str, value: &str) -> Vec<&'a Value> {
    v.iter()
        .filter(|r| r[key].as_str() == Some(value))
        .collect()
}

fn kind(r: &SyncReport, k: Kind) -> &crmsync::core::KindReport {
    r.kinds
        .iter()
        .find(|x| x.kind == k)
        .expect("kind in report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_and_outlook_stay_in_sync_end_to_end() {
    let w = world().await;
    let soon = Utc::now() + Duration::days(3);
    let at = |h: i64| {
        (soon + Duration::hours(h))
            .format("%Y-%m-%dT%H:%M:%S+00:00")
            .to_string()
    };

    // Zoho side.
    for (first, last, email) in [
        ("伟", "张", "zhang.wei@example.cn"),
        ("Ada", "Lovelace", "ada@example.org"),
        ("Grace", "Hopper", "grace@example.org"),
    ] {
        w.zemu
            .insert_record(
                "Contacts",
                json!({"First_Name": first, "Last_Name": last, "Email": email}),
            )
            .expect("seed zoho contact");
    }
    w.zemu
        .insert_record(
            "Events",
            json!({"Event_Title": "Quarterly review 📈", "Start_DateTime": at(0), "End_DateTime": at(1)}),
        )
        .expect("seed zoho event");
    w.zemu
        .insert_record("Tasks", json!({"Subject": "Send the proposal", "Due_Date": soon.format("%Y-%m-%d").to_string(), "Status": "Not Started", "Priority": "High"}))
        .expect("seed zoho task");

    // Outlook side: Ada is on both sides (a twin), Alan only here.
    let folder = w.gemu.default_contact_folder();
    for (given, surname, email, job) in [
        ("Ada", "Lovelace", "ADA@example.org", "Countess"),
        ("Alan", "Turing", "alan@example.org", ""),
    ] {
        w.gemu
            .insert_contact(
                &folder,
                json!({"givenName": given, "surname": surname, "jobTitle": job,
                       "emailAddresses": [{"address": email, "name": given}]}),
            )
            .expect("seed outlook contact");
    }
    let cal = w.gemu.default_calendar();
    let ev = |subject: &str, cats: &[&str], h: i64| {
        json!({"subject": subject, "categories": cats,
               "start": {"dateTime": (soon + Duration::hours(h)).format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
               "end": {"dateTime": (soon + Duration::hours(h + 1)).format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"}})
    };
    let tagged = w
        .gemu
        .insert_event(&cal, ev("Client lunch", &["Zoho"], 5))
        .expect("event");
    w.gemu
        .insert_event(&cal, ev("Dentist", &["Personal"], 7))
        .expect("event");

    // 1. First sync.
    let r = w.sync().await;
    let c = &kind(&r, Kind::Contact).counts;
    assert_eq!(
        (c.linked, c.created_in_zoho, c.created_in_outlook),
        (1, 1, 2),
        "{c:?}"
    );
    assert_eq!(w.zoho("Contacts").len(), 4);
    assert_eq!(w.outlook_contacts().len(), 4);
    // Ada's empty job title in Zoho was filled from Outlook.
    let ada = by(&w.zoho("Contacts"), "Last_Name", "Lovelace")[0].clone();
    assert_eq!(ada["Title"], "Countess");
    // Events: Zoho's arrives in Outlook with the Zoho category; the personal one stays out.
    let events = w.outlook_events();
    let review = by(&events, "subject", "Quarterly review 📈");
    assert_eq!(review.len(), 1);
    assert!(review[0]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "Zoho"));
    let zevents = w.zoho("Events");
    assert_eq!(by(&zevents, "Event_Title", "Client lunch").len(), 1);
    assert!(by(&zevents, "Event_Title", "Dentist").is_empty());
    assert_eq!(w.gemu.tasks(&w.gemu.default_task_list()).len(), 1);
    assert_eq!(w.sync().await.writes(), 0, "a second sync writes nothing");

    // 2. Edits on both sides.
    let zhang = by(&w.zoho("Contacts"), "Last_Name", "张")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.zemu
        .update_record(
            "Contacts",
            &zhang,
            json!({"Title": "总经理", "Department": "Sales"}),
        )
        .unwrap();
    let zhang_o = by(&w.outlook_contacts(), "surname", "张")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.gemu
        .update_contact(
            &zhang_o,
            json!({"jobTitle": "CEO", "personalNotes": "Met in Shanghai 🎉"}),
        )
        .unwrap();
    let grace = by(&w.zoho("Contacts"), "Last_Name", "Hopper")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(w.zemu.delete_record("Contacts", &grace, false));
    let tagged_id = tagged["id"].as_str().unwrap().to_string();
    w.gemu
        .update_event(&tagged_id, json!({"categories": []}))
        .unwrap();

    let r = w.sync().await;
    let c = &kind(&r, Kind::Contact).counts;
    assert_eq!(c.merged, 1, "{c:?}");
    assert_eq!(c.deleted_in_outlook, 1, "{c:?}");
    let zc = by(&w.zoho("Contacts"), "Last_Name", "张")[0].clone();
    let oc = by(&w.outlook_contacts(), "surname", "张")[0].clone();
    // The shared field follows the rule (Zoho wins); the others merge.
    assert_eq!(
        (zc["Title"].as_str(), oc["jobTitle"].as_str()),
        (Some("总经理"), Some("总经理"))
    );
    assert_eq!(oc["department"], "Sales");
    assert_eq!(zc["Description"], "Met in Shanghai 🎉");
    assert!(by(&w.outlook_contacts(), "surname", "Hopper").is_empty());
    // The event that lost its category is unlinked, not deleted in Zoho.
    assert_eq!(kind(&r, Kind::Event).counts.unlinked, 1);
    assert_eq!(
        by(&w.zoho("Events"), "Event_Title", "Client lunch").len(),
        1
    );

    assert_eq!(
        w.sync().await.writes(),
        0,
        "a sync after the edits writes nothing"
    );
}

/// A To Do task deleted in Outlook is deleted in Zoho even by a new process (To Do gives moved
/// tasks new ids, so telling a delete from a move needs the sync id from the state database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_todo_task_deleted_in_outlook_is_deleted_in_zoho_by_a_new_process() {
    let mut w = world().await;
    let due = (Utc::now() + Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    w.zemu
        .insert_record(
            "Tasks",
            json!({"Subject": "Call back", "Due_Date": due, "Status": "Not Started"}),
        )
        .expect("seed zoho task");
    w.sync().await;
    let list = w.gemu.default_task_list();
    let tasks = w.gemu.tasks(&list);
    assert_eq!(tasks.len(), 1);
    assert_eq!(w.sync().await.writes(), 0);

    // A new process: fresh connectors, the same state database.
    w.engine = engine(&w.zemu, &w.gemu, &w._dir).await;
    w.gemu
        .delete_task(tasks[0]["id"].as_str().unwrap())
        .expect("delete the task in Outlook");
    let r = w.sync().await;
    assert_eq!(
        kind(&r, Kind::Task).counts.deleted_in_zoho,
        1,
        "{:?}",
        kind(&r, Kind::Task)
    );
    assert!(w.zoho("Tasks").is_empty());
}

/// An edited occurrence of a recurring series in Outlook is listed in the report as not synced,
/// with the reason, writes nothing, and does not stop the series itself from syncing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_occurrence_of_a_series_is_reported_as_not_synced_and_the_series_syncs() {
    let mut w = world().await;
    w.settings.contacts.enabled = false;
    w.settings.tasks.enabled = false;
    let day = (Utc::now() + Duration::days(3)).date_naive();
    let at = |d: chrono::NaiveDate, h: u32| format!("{}T{h:02}:00:00", d.format("%Y-%m-%d"));
    let cal = w.gemu.default_calendar();
    let series = w
        .gemu
        .insert_event(
            &cal,
            json!({"subject": "Weekly planning", "categories": ["Zoho"],
                   "start": {"dateTime": at(day, 9), "timeZone": "UTC"},
                   "end": {"dateTime": at(day, 10), "timeZone": "UTC"},
                   "recurrence": {"pattern": {"type": "daily", "interval": 1},
                                  "range": {"type": "numbered", "startDate": day.format("%Y-%m-%d").to_string(),
                                            "numberOfOccurrences": 5}}}),
        )
        .expect("series");
    let sid = series["id"].as_str().expect("id").to_string();
    let r = w.sync().await;
    assert_eq!(kind(&r, Kind::Event).counts.created_in_zoho, 1, "{r:?}");
    assert_eq!(
        by(&w.zoho("Events"), "Event_Title", "Weekly planning").len(),
        1
    );

    // The user moves the third occurrence to the afternoon and renames it.
    let third = day + Duration::days(2);
    w.gemu
        .edit_occurrence(
            &sid,
            &third.format("%Y-%m-%d").to_string(),
            json!({"subject": "Weekly planning (moved)",
                   "start": {"dateTime": at(third, 15), "timeZone": "UTC"},
                   "end": {"dateTime": at(third, 16), "timeZone": "UTC"}}),
        )
        .expect("exception");
    let zoho_before = w.zoho("Events");
    let r = w.sync().await;
    let k = kind(&r, Kind::Event);
    assert_eq!(k.counts.writes, 0, "nothing is written for it: {k:?}");
    assert_eq!(k.counts.skipped, 1, "{k:?}");
    assert_eq!(k.skipped.len(), 1);
    assert_eq!(k.skipped[0].title, "Weekly planning (moved)");
    assert_eq!(
        k.skipped[0].reason,
        format!(
            "not synced: an edited occurrence ({third}) of the recurring series \"Weekly planning\": \
             Zoho CRM has no per-occurrence edits"
        )
    );
    assert_eq!(w.zoho("Events"), zoho_before, "Zoho is untouched");

    // The series itself still syncs: a new title reaches Zoho, and the exception is reported
    // again while it exists (a full listing too).
    w.gemu
        .update_event(&sid, json!({"subject": "Planning"}))
        .expect("edit series");
    let r = w.sync().await;
    let k = kind(&r, Kind::Event);
    assert_eq!(k.counts.updated_in_zoho, 1, "{k:?}");
    let zevents = w.zoho("Events");
    assert_eq!(zevents.len(), 1);
    assert_eq!(zevents[0]["Event_Title"], "Planning");
    w.gemu.expire_delta_tokens();
    let r = w.sync().await;
    let k = kind(&r, Kind::Event);
    assert_eq!((k.counts.writes, k.counts.skipped), (0, 1), "{k:?}");
    assert!(
        k.skipped[0]
            .reason
            .contains("the recurring series \"Planning\""),
        "{k:?}"
    );
    assert_eq!(w.zoho("Events").len(), 1);
}
