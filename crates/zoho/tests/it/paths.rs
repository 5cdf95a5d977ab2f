//! Paths beyond the basics: scopes (custom view, owner), at-least-once creates, Accounts,
//! events and tasks end to end, the legacy token shape, throttling with `Retry-After`, dropped
//! connections, and CJK + emoji text.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use crmsync_core::secret::MemorySecretStore;
use crmsync_core::{
    Attendee, AttendeeKind, ChangeItem, Connector, Contact, CreateMode, Cursor, Event, Frequency,
    Kind, Next, Operation, PageRequest, Priority, Record, RecordErrorKind, Recurrence,
    RecurrenceEnd, Scope, SecretStore, SyncId, Task, TaskStatus, Vanish, Weekday, ZohoScope,
};
use crmsync_emulator::zoho::{Faults, UserSpec, ViewFilter, ZohoConfig, ZohoEmulator};
use crmsync_zoho::auth::ZohoAuth;
use crmsync_zoho::client::{ApiRequest, ClientOptions, ZohoClient};
use crmsync_zoho::{ZohoConnector, ZohoOptions};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{config, fast, scope, scope_in, setup, setup_opts, setup_with};

async fn list_in(z: &ZohoConnector, s: &Scope) -> (Vec<ChangeItem>, Cursor) {
    let mut page = None;
    let mut items = vec![];
    loop {
        let p = z
            .list(&PageRequest {
                scope: s.clone(),
                page,
            })
            .await
            .unwrap();
        items.extend(p.items);
        match p.next {
            Next::Page(t) => page = Some(t),
            Next::Done(c) => return (items, c),
        }
    }
}

async fn changes_in(z: &ZohoConnector, s: &Scope, c: &Cursor) -> (Vec<ChangeItem>, Cursor) {
    let mut page = None;
    let mut items = vec![];
    loop {
        let p = z
            .changes(
                c,
                &PageRequest {
                    scope: s.clone(),
                    page,
                },
            )
            .await
            .unwrap();
        items.extend(p.items);
        match p.next {
            Next::Page(t) => page = Some(t),
            Next::Done(c) => return (items, c),
        }
    }
}

fn ids(items: &[ChangeItem]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|i| i.id().to_string()).collect();
    v.sort();
    v
}

/// Creates one record through `apply` and reads it back through `fetch`.
async fn round_trip(z: &ZohoConnector, kind: Kind, record: Record, sid: &str) -> Record {
    let res = z
        .apply(
            &scope(kind),
            vec![Operation::Create {
                sync_id: SyncId(sid.into()),
                record: record.into(),
            }],
        )
        .await
        .unwrap();
    let id = res[0].as_ref().unwrap().id.clone();
    match z.fetch(&scope(kind), &[id]).await.unwrap().pop() {
        Some(ChangeItem::Upsert(r)) => (*r.record).clone(),
        other => panic!("{other:?}"),
    }
}

fn person(last: &str, company: &str) -> Record {
    Record::Contact(Contact {
        family_name: last.into(),
        company: company.into(),
        ..Default::default()
    })
}

#[tokio::test]
async fn custom_view_scope_lists_the_view_and_sees_records_leave_it() {
    let (emu, zoho) = setup().await;
    let cvid = emu
        .add_custom_view(
            "Contacts",
            "Sales",
            ViewFilter::FieldEquals {
                field: "Department".into(),
                value: json!("Sales"),
            },
        )
        .unwrap();
    let a = emu
        .insert_record("Contacts", json!({"Last_Name": "A", "Department": "Sales"}))
        .unwrap();
    let b = emu
        .insert_record(
            "Contacts",
            json!({"Last_Name": "B", "Department": "Support"}),
        )
        .unwrap();
    let view = scope_in(Kind::Contact, ZohoScope::CustomView(cvid));
    let (items, cur) = list_in(&zoho, &view).await;
    assert_eq!(ids(&items), vec![a.clone()]);
    assert!(emu
        .counters()
        .keys()
        .any(|k| k.starts_with("GET /Contacts")));
    // a leaves the view, b enters it.
    emu.update_record("Contacts", &a, json!({"Department": "Support"}))
        .unwrap();
    emu.update_record("Contacts", &b, json!({"Department": "Sales"}))
        .unwrap();
    emu.advance_clock(5);
    let (items, _) = changes_in(&zoho, &view, &cur).await;
    assert!(
        items
            .iter()
            .any(|i| matches!(i, ChangeItem::Upsert(r) if r.id == b)),
        "{items:?}"
    );
    assert!(
        items
            .iter()
            .any(|i| matches!(i, ChangeItem::Vanished { id } if *id == a)),
        "{items:?}"
    );
    assert_eq!(items.len(), 2, "{items:?}");
    let v = zoho
        .classify_vanished(&view, std::slice::from_ref(&a))
        .await
        .unwrap();
    assert_eq!(v, vec![(a, Vanish::OutOfScope)]);
}

#[tokio::test]
async fn owned_by_me_leaves_out_others_records_and_an_owner_change_is_leaving_scope() {
    let (emu, zoho) = setup().await;
    let other = emu.seed_user(UserSpec {
        email: "colleague@example.com".into(),
        full_name: "Colin League".into(),
        ..Default::default()
    });
    let mine = emu
        .insert_record("Contacts", json!({"Last_Name": "Mine"}))
        .unwrap();
    let theirs = emu
        .insert_record(
            "Contacts",
            json!({"Last_Name": "Theirs", "Owner": {"id": other}}),
        )
        .unwrap();
    let me = scope(Kind::Contact);
    let all = scope_in(Kind::Contact, ZohoScope::AllVisible);
    let (items, cur_me) = list_in(&zoho, &me).await;
    assert_eq!(ids(&items), vec![mine.clone()]);
    let (items, cur_all) = list_in(&zoho, &all).await;
    let mut both = vec![mine.clone(), theirs.clone()];
    both.sort();
    assert_eq!(ids(&items), both);
    // Mine is handed to the colleague: it vanishes from "owned by me" (out of scope, not
    // deleted) and stays an ordinary change in "all visible".
    emu.update_record("Contacts", &mine, json!({"Owner": {"id": other}}))
        .unwrap();
    emu.advance_clock(5);
    let (items, _) = changes_in(&zoho, &me, &cur_me).await;
    assert_eq!(
        items,
        vec![ChangeItem::Vanished { id: mine.clone() }],
        "{items:?}"
    );
    assert_eq!(
        zoho.classify_vanished(&me, std::slice::from_ref(&mine))
            .await
            .unwrap(),
        vec![(mine.clone(), Vanish::OutOfScope)]
    );
    let (items, _) = changes_in(&zoho, &all, &cur_all).await;
    assert!(matches!(items.as_slice(), [ChangeItem::Upsert(r)] if r.id == mine));
    // fetch tells the same.
    assert_eq!(
        zoho.fetch(&me, std::slice::from_ref(&mine)).await.unwrap(),
        vec![ChangeItem::Vanished { id: mine }]
    );
}

#[tokio::test]
async fn without_a_sync_id_field_creates_are_at_least_once_and_still_work() {
    let (emu, zoho) = setup_with(ZohoConfig {
        sync_id_field: None,
        ..Default::default()
    })
    .await;
    assert_eq!(zoho.capabilities().create_mode, CreateMode::AtLeastOnce);
    let res = zoho
        .apply(
            &scope(Kind::Contact),
            vec![Operation::Create {
                sync_id: SyncId("s-1".into()),
                record: person("Plain", "").into(),
            }],
        )
        .await
        .unwrap();
    let w = res[0].as_ref().unwrap();
    assert!(!w.id.is_empty() && !w.version.is_empty());
    assert_eq!(emu.counter("POST /Contacts"), 1);
    assert_eq!(emu.counter("POST /Contacts/upsert"), 0);
    assert_eq!(emu.records("Contacts").len(), 1);
    // Nothing to find by: journal recovery gets an empty answer, not an error.
    assert!(zoho
        .find_by_sync_id(&scope(Kind::Contact), &[SyncId("s-1".into())])
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn companies_link_to_accounts_found_or_created_once() {
    let (emu, zoho) = setup().await;
    let existing = emu
        .insert_record("Accounts", json!({"Account_Name": "Globex"}))
        .unwrap();
    let ops = vec![
        Operation::Create {
            sync_id: SyncId("c1".into()),
            record: person("One", "Acme").into(),
        },
        Operation::Create {
            sync_id: SyncId("c2".into()),
            record: person("Two", " Acme ").into(),
        },
        Operation::Create {
            sync_id: SyncId("c3".into()),
            record: person("Three", "Globex").into(),
        },
    ];
    let res = zoho.apply(&scope(Kind::Contact), ops).await.unwrap();
    assert!(res.iter().all(Result::is_ok), "{res:?}");
    let accounts = emu.records("Accounts");
    assert_eq!(accounts.len(), 2, "{accounts:?}");
    let three = emu
        .record("Contacts", &res[2].as_ref().unwrap().id)
        .unwrap();
    assert_eq!(three["Account_Name"]["id"], json!(existing));
    let (items, _) = list_in(&zoho, &scope(Kind::Contact)).await;
    for i in &items {
        let ChangeItem::Upsert(r) = i else { panic!() };
        let Record::Contact(c) = (*r.record).clone() else {
            panic!()
        };
        assert!(["Acme", "Globex"].contains(&c.company.as_str()), "{c:?}");
    }
    // The stored record the write returns holds the company too.
    assert!(matches!(
        res[0].as_ref().unwrap().stored.as_deref(),
        Some(Record::Contact(c)) if c.company == "Acme"
    ));
}

#[tokio::test]
async fn account_creation_can_be_turned_off() {
    let opts = ZohoOptions {
        create_accounts: false,
        ..fast()
    };
    let (emu, zoho) = setup_opts(ZohoConfig::default(), opts).await;
    emu.insert_record("Accounts", json!({"Account_Name": "Globex"}))
        .unwrap();
    let res = zoho
        .apply(
            &scope(Kind::Contact),
            vec![
                Operation::Create {
                    sync_id: SyncId("n1".into()),
                    record: person("New", "Initech").into(),
                },
                Operation::Create {
                    sync_id: SyncId("n2".into()),
                    record: person("Known", "Globex").into(),
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(emu.records("Accounts").len(), 1);
    assert_eq!(emu.counter("POST /Accounts"), 0);
    // What Zoho holds: no company for the first, Globex for the second.
    assert!(matches!(
        res[0].as_ref().unwrap().stored.as_deref(),
        Some(Record::Contact(c)) if c.company.is_empty()
    ));
    assert!(matches!(
        res[1].as_ref().unwrap().stored.as_deref(),
        Some(Record::Contact(c)) if c.company == "Globex"
    ));
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn events_round_trip_timed_all_day_recurring_and_participants() {
    let (_emu, zoho) = setup().await;
    let tz: chrono_tz::Tz = "Asia/Singapore".parse().unwrap();
    assert_eq!(zoho.time_zone(), tz);
    // Timed, written from a zone with another offset: the instants survive.
    let timed = Event {
        title: "Kick-off".into(),
        notes: "Agenda".into(),
        start: at("2026-03-02T09:30:00-05:00"),
        end: at("2026-03-02T11:00:00-05:00"),
        time_zone: "America/New_York".into(),
        location: "Room 1".into(),
        reminder_minutes: Some(15),
        attendees: vec![
            Attendee {
                name: String::new(),
                email: "ada@example.com".into(),
                kind: AttendeeKind::Required,
            },
            Attendee {
                name: String::new(),
                email: "grace@example.com".into(),
                kind: AttendeeKind::Required,
            },
        ],
        recurrence: Some(Recurrence {
            frequency: Frequency::Weekly,
            interval: 2,
            weekdays: vec![Weekday::Mo, Weekday::We],
            month_day: None,
            nth: None,
            month: None,
            end: RecurrenceEnd::Until(NaiveDate::from_ymd_opt(2026, 6, 30).unwrap()),
        }),
        ..Default::default()
    };
    let Record::Event(back) =
        round_trip(&zoho, Kind::Event, Record::Event(timed.clone()), "e1").await
    else {
        panic!()
    };
    assert_eq!((back.start, back.end), (timed.start, timed.end));
    assert!(!back.all_day);
    assert_eq!(back.title, timed.title);
    assert_eq!(back.notes, timed.notes);
    assert_eq!(back.location, timed.location);
    assert_eq!(back.reminder_minutes, Some(15));
    assert_eq!(back.recurrence, timed.recurrence);
    let mut emails: Vec<_> = back.attendees.iter().map(|a| a.email.clone()).collect();
    emails.sort();
    assert_eq!(emails, vec!["ada@example.com", "grace@example.com"]);
    // Zoho keeps no zone name: the Zoho user's zone comes back.
    assert_eq!(back.time_zone, "Asia/Singapore");

    // All-day: calendar dates in the user's zone, two days long.
    let day = |d: u32| {
        tz.with_ymd_and_hms(2026, 4, d, 0, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    let all_day = Event {
        title: "Offsite".into(),
        start: day(10),
        end: day(12),
        time_zone: "Asia/Singapore".into(),
        all_day: true,
        recurrence: Some(Recurrence {
            frequency: Frequency::Monthly,
            interval: 1,
            weekdays: vec![],
            month_day: Some(10),
            nth: None,
            month: None,
            end: RecurrenceEnd::Count(6),
        }),
        ..Default::default()
    };
    let Record::Event(back) =
        round_trip(&zoho, Kind::Event, Record::Event(all_day.clone()), "e2").await
    else {
        panic!()
    };
    assert!(back.all_day);
    assert_eq!((back.start, back.end), (all_day.start, all_day.end));
    assert_eq!(back.recurrence, all_day.recurrence);
}

#[tokio::test]
async fn tasks_round_trip_every_status_and_priority() {
    let (emu, zoho) = setup().await;
    let statuses = [
        TaskStatus::NotStarted,
        TaskStatus::InProgress,
        TaskStatus::Completed,
        TaskStatus::WaitingOnOthers,
        TaskStatus::Deferred,
    ];
    let priorities = [
        Priority::Highest,
        Priority::High,
        Priority::Normal,
        Priority::Low,
        Priority::Lowest,
    ];
    let mut ops = vec![];
    let mut want = vec![];
    for (i, s) in statuses.iter().enumerate() {
        for (j, p) in priorities.iter().enumerate() {
            let t = Task {
                title: format!("Task {i}.{j}"),
                due: NaiveDate::from_ymd_opt(2026, 5, 1 + (i * 5 + j) as u32),
                status: *s,
                priority: *p,
                ..Default::default()
            };
            ops.push(Operation::Create {
                sync_id: SyncId(format!("t{i}{j}")),
                record: Record::Task(t.clone()).into(),
            });
            want.push(t);
        }
    }
    let res = zoho.apply(&scope(Kind::Task), ops).await.unwrap();
    assert!(res.iter().all(Result::is_ok), "{res:?}");
    assert_eq!(emu.records("Tasks").len(), 25);
    let (items, _) = list_in(&zoho, &scope(Kind::Task)).await;
    let mut got: Vec<Task> = items
        .into_iter()
        .map(|i| match i {
            ChangeItem::Upsert(r) => match (*r.record).clone() {
                Record::Task(t) => t,
                _ => panic!(),
            },
            _ => panic!(),
        })
        .collect();
    got.sort_by(|a, b| a.title.cmp(&b.title));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            (&g.title, g.due, g.status, g.priority),
            (&w.title, w.due, w.status, w.priority)
        );
    }
}

#[tokio::test]
async fn legacy_token_shape_gives_an_hour_not_a_thousand_hours() {
    let emu = ZohoEmulator::start(ZohoConfig {
        legacy_expires_shape: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let code = emu
        .issue_grant_code(
            "owner@example.com",
            crmsync_emulator::zoho::DEFAULT_CLIENT_ID,
            None,
            None,
        )
        .unwrap();
    let store = Arc::new(MemorySecretStore::default());
    let auth = ZohoAuth::from_grant_code(
        config(&emu),
        store.clone(),
        &emu.accounts_url(),
        &crmsync_core::Secret::new(code),
    )
    .await
    .unwrap();
    let stored = store.get("crmsync.zoho.access_token").unwrap().unwrap();
    let expires_at: i64 = stored.expose().split(' ').next().unwrap().parse().unwrap();
    let left = expires_at - Utc::now().timestamp();
    assert!((3500..=3600).contains(&left), "{left}");
    // And the connector works with it.
    let zoho = ZohoConnector::connect(Arc::new(auth), fast())
        .await
        .unwrap();
    zoho.list(&PageRequest {
        scope: scope(Kind::Contact),
        page: None,
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn bursts_of_429_and_5xx_are_retried_without_duplicates() {
    let (emu, zoho) = setup().await;
    emu.set_faults(Faults {
        rate_429: 0.3,
        rate_5xx: 0.2,
        seed: 11,
        max_concurrency: 0,
        ..Default::default()
    });
    let ops: Vec<Operation> = (0..250)
        .map(|i| Operation::Create {
            sync_id: SyncId(format!("burst-{i}")),
            record: person(&format!("Burst {i}"), "").into(),
        })
        .collect();
    for chunk in ops.chunks(100) {
        let res = zoho
            .apply(&scope(Kind::Contact), chunk.to_vec())
            .await
            .unwrap();
        assert!(res.iter().all(Result::is_ok), "{res:?}");
    }
    emu.set_faults(Faults::default());
    assert_eq!(emu.records("Contacts").len(), 250);
    let (items, _) = list_in(&zoho, &scope(Kind::Contact)).await;
    assert_eq!(items.len(), 250);
}

/// A one-endpoint HTTP stub: answers 429 with `Retry-After: 1` first, then an empty 204.
async fn retry_after_stub() -> (String, Arc<std::sync::Mutex<Vec<Instant>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(std::sync::Mutex::new(vec![]));
    let h = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let h = h.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let n = {
                    let mut g = h.lock().unwrap();
                    g.push(Instant::now());
                    g.len()
                };
                let resp = if n == 1 {
                    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: 29\r\nConnection: close\r\n\r\n{\"code\":\"TOO_MANY_REQUESTS\"}\n"
                } else {
                    "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
                };
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (url, hits)
}

#[tokio::test]
async fn a_retry_after_header_is_honoured() {
    // The emulator sends no Retry-After (Zoho documents none); a stub API server does.
    let emu = ZohoEmulator::start(ZohoConfig::default()).await.unwrap();
    let refresh = emu.issue_refresh_token("owner@example.com").unwrap();
    let (api, hits) = retry_after_stub().await;
    let auth = ZohoAuth::from_refresh_token(
        config(&emu),
        Arc::new(MemorySecretStore::default()),
        &emu.accounts_url(),
        crmsync_core::Secret::new(refresh),
        Some(&api),
    )
    .unwrap();
    let client = ZohoClient::new(
        Arc::new(auth),
        ClientOptions {
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(3),
            ..Default::default()
        },
    );
    let resp = client.send(&ApiRequest::get("Contacts")).await.unwrap();
    assert_eq!(resp.status, 204);
    let h = hits.lock().unwrap().clone();
    assert_eq!(h.len(), 2);
    assert!(
        h[1] - h[0] >= Duration::from_millis(950),
        "{:?}",
        h[1] - h[0]
    );
}

#[tokio::test]
async fn a_dropped_upsert_is_retried_without_a_duplicate() {
    let (emu, zoho) = setup().await;
    emu.set_faults(Faults {
        rate_drop: 1.0,
        ..Default::default()
    });
    let op = || Operation::Create {
        sync_id: SyncId("drop-1".into()),
        record: person("Dropped", "").into(),
    };
    let res = zoho.apply(&scope(Kind::Contact), vec![op()]).await.unwrap();
    // Every answer was lost: the outcome is unknown (transient), the upsert was repeated, and
    // Zoho holds one record.
    assert_eq!(
        res[0].as_ref().unwrap_err().kind,
        RecordErrorKind::Transient
    );
    assert!(emu.counter("POST /Contacts/upsert") > 1);
    assert_eq!(emu.records("Contacts").len(), 1);
    emu.set_faults(Faults::default());
    let found = zoho
        .find_by_sync_id(&scope(Kind::Contact), &[SyncId("drop-1".into())])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let res = zoho.apply(&scope(Kind::Contact), vec![op()]).await.unwrap();
    assert_eq!(res[0].as_ref().unwrap().id, found[0].1.id);
    assert_eq!(emu.records("Contacts").len(), 1);
}

#[tokio::test]
async fn a_dropped_plain_insert_is_not_replayed() {
    let (emu, zoho) = setup_with(ZohoConfig {
        sync_id_field: None,
        ..Default::default()
    })
    .await;
    emu.set_faults(Faults {
        rate_drop: 1.0,
        ..Default::default()
    });
    let res = zoho
        .apply(
            &scope(Kind::Contact),
            vec![Operation::Create {
                sync_id: SyncId("drop-2".into()),
                record: person("Once", "").into(),
            }],
        )
        .await
        .unwrap();
    assert_eq!(
        res[0].as_ref().unwrap_err().kind,
        RecordErrorKind::Transient
    );
    assert_eq!(emu.counter("POST /Contacts"), 1);
    assert_eq!(emu.records("Contacts").len(), 1);
}

#[tokio::test]
async fn cjk_and_emoji_survive_a_full_round_trip() {
    let (_emu, zoho) = setup().await;
    let c = Contact {
        given_name: "太郎".into(),
        family_name: "山田 🍣".into(),
        emails: vec!["taro@example.jp".into()],
        company: "株式会社 🚀".into(),
        job_title: "工程师 👩‍💻".into(),
        department: "영업부".into(),
        notes: "メモ\n😀 二行目 👨‍👩‍👧‍👦".into(),
        business_address: Some(Box::new(crmsync_core::Address {
            street: "丸の内 1-1".into(),
            city: "東京".into(),
            state: String::new(),
            postal_code: "100-0005".into(),
            country: "日本 🇯🇵".into(),
        })),
        ..Default::default()
    };
    let Record::Contact(back) =
        round_trip(&zoho, Kind::Contact, Record::Contact(c.clone()), "u1").await
    else {
        panic!()
    };
    assert_eq!(back.given_name, c.given_name);
    assert_eq!(back.family_name, c.family_name);
    assert_eq!(back.company, c.company);
    assert_eq!(back.job_title, c.job_title);
    assert_eq!(back.department, c.department);
    assert_eq!(back.notes, c.notes);
    assert_eq!(back.business_address, c.business_address);
    let t = Task {
        title: "買い物 🛒".into(),
        notes: "牛乳 🥛".into(),
        ..Default::default()
    };
    let Record::Task(bt) = round_trip(&zoho, Kind::Task, Record::Task(t.clone()), "u2").await
    else {
        panic!()
    };
    assert_eq!((bt.title, bt.notes), (t.title, t.notes));
    let e = Event {
        title: "会議 🗓️".into(),
        location: "会議室 🅰️".into(),
        start: at("2026-07-01T10:00:00+08:00"),
        end: at("2026-07-01T11:00:00+08:00"),
        time_zone: "Asia/Singapore".into(),
        ..Default::default()
    };
    let Record::Event(be) = round_trip(&zoho, Kind::Event, Record::Event(e.clone()), "u3").await
    else {
        panic!()
    };
    assert_eq!((be.title, be.location), (e.title, e.location));
}

#[tokio::test]
async fn what_zoho_holds_comes_back_as_stored_derived_last_name_and_task_start() {
    let (emu, zoho) = setup().await;
    // No family name: Zoho needs a Last_Name, which is derived; the stored record shows it.
    let res = zoho
        .apply(
            &scope(Kind::Contact),
            vec![Operation::Create {
                sync_id: SyncId("n-1".into()),
                record: Record::Contact(Contact {
                    emails: vec!["nobody@example.com".into()],
                    ..Default::default()
                })
                .into(),
            }],
        )
        .await
        .unwrap();
    let w = res[0].as_ref().unwrap();
    let held = emu.record("Contacts", &w.id).unwrap();
    let Some(Record::Contact(c)) = w.stored.as_deref() else {
        panic!("{w:?}")
    };
    assert!(!c.family_name.is_empty());
    assert_eq!(held["Last_Name"], json!(c.family_name));
    // An update clearing the name does the same.
    let mut fields = crmsync_core::FieldSet::EMPTY;
    fields.insert(crmsync_core::Field::Name);
    let res = zoho
        .apply(
            &scope(Kind::Contact),
            vec![Operation::Update {
                id: w.id.clone(),
                if_version: None,
                fields,
                record: Record::Contact(Contact {
                    given_name: "Ann Marie".into(),
                    ..Default::default()
                })
                .into(),
                stamp: None,
            }],
        )
        .await
        .unwrap();
    let u = res[0].as_ref().unwrap();
    let held = emu.record("Contacts", &w.id).unwrap();
    let Some(Record::Contact(c)) = u.stored.as_deref() else {
        panic!("{u:?}")
    };
    assert_eq!(held["Last_Name"], json!(c.family_name));
    assert_eq!(c.family_name, "Marie");

    // A recurring task keeps its start date (in the rule's DTSTART); completed_at is not held.
    let t = Task {
        title: "Weekly report".into(),
        due: NaiveDate::from_ymd_opt(2026, 5, 8),
        start: NaiveDate::from_ymd_opt(2026, 5, 4),
        status: TaskStatus::Completed,
        completed_at: Some(at("2026-05-08T10:00:00Z")),
        recurrence: Some(Recurrence {
            frequency: Frequency::Weekly,
            interval: 1,
            weekdays: vec![Weekday::Fr],
            month_day: None,
            nth: None,
            month: None,
            end: RecurrenceEnd::Count(4),
        }),
        ..Default::default()
    };
    let Record::Task(back) = round_trip(&zoho, Kind::Task, Record::Task(t.clone()), "t-s").await
    else {
        panic!()
    };
    assert_eq!(
        (back.due, back.start, &back.recurrence, back.status),
        (t.due, t.start, &t.recurrence, t.status)
    );
    assert_eq!(back.completed_at, None);
    // Without a recurrence Zoho has nowhere to keep the start.
    let once = Task {
        recurrence: None,
        ..t
    };
    let Record::Task(back) = round_trip(&zoho, Kind::Task, Record::Task(once), "t-o").await else {
        panic!()
    };
    assert_eq!(back.start, None);
}
