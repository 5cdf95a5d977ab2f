//! Property tests: canonical → Graph JSON → canonical is lossless for what Graph holds.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use crmsync_core::{
    Address, Contact, Event, FieldSet, Frequency, Kind, Phone, PhoneKind, Priority, Recurrence,
    RecurrenceEnd, Sensitivity, Task, TaskStatus, Weekday,
};
use crmsync_outlook::mapping::*;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z0-9 .,'-]{1,20}".prop_map(|s| s.trim().to_string()),
        Just("王小明".to_string()),
        Just("Zoë 😀👍🏽 تجربة".to_string()),
    ]
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (1950i32..2060, 1u32..13, 1u32..29)
        .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (1_600_000_000i64..2_000_000_000).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
}

fn address() -> impl Strategy<Value = Option<Box<Address>>> {
    prop::option::of((text(), text(), text(), text(), text()).prop_map(
        |(street, city, state, postal_code, country)| Address {
            street,
            city,
            state,
            postal_code,
            country,
        },
    ))
    .prop_map(|a| a.filter(|a| !a.is_empty()).map(Box::new))
}

fn nonempty() -> impl Strategy<Value = String> {
    text().prop_filter("non-empty", |s| !s.is_empty())
}

fn contact() -> BoxedStrategy<Contact> {
    // Grouped and boxed: one flat 16-tuple strategy overflows the test thread's stack in debug.
    let names = (text(), text(), text(), text(), text(), text()).boxed();
    let lists = (
        prop::collection::vec("[a-z]{1,8}@example\\.com", 0..=3),
        prop::collection::vec("\\+1 [0-9]{3} [0-9]{4}", 0..=2),
        prop::collection::vec("\\+1 [0-9]{3} [0-9]{4}", 0..=2),
        prop::option::of("\\+1 [0-9]{3} [0-9]{4}"),
        prop::collection::vec(nonempty(), 0..3),
    )
        .boxed();
    let rest = (
        address(),
        address(),
        address(),
        prop::option::of(date()),
        text(),
    )
        .boxed();
    (names, lists, rest)
        .prop_map(
            |(
                (given_name, middle_name, family_name, company, job_title, department),
                (emails, business, home, mobile, categories),
                (business_address, home_address, other_address, birthday, notes),
            )| {
                let mut phones: Vec<Phone> = business
                    .into_iter()
                    .map(|number| Phone {
                        kind: PhoneKind::Business,
                        number,
                    })
                    .collect();
                phones.extend(home.into_iter().map(|number| Phone {
                    kind: PhoneKind::Home,
                    number,
                }));
                phones.extend(mobile.map(|number| Phone {
                    kind: PhoneKind::Mobile,
                    number,
                }));
                Contact {
                    given_name,
                    middle_name,
                    family_name,
                    display_name: String::new(),
                    emails,
                    phones,
                    company,
                    job_title,
                    department,
                    business_address,
                    home_address,
                    other_address,
                    birthday,
                    notes,
                    categories,
                }
            },
        )
        .boxed()
}

fn recurrence() -> impl Strategy<Value = Recurrence> {
    let days = prop::collection::btree_set(prop::sample::select(Weekday::ALL.to_vec()), 1..4)
        .prop_map(|s| s.into_iter().collect::<Vec<_>>());
    let end = prop_oneof![
        Just(RecurrenceEnd::Never),
        date().prop_map(RecurrenceEnd::Until),
        (1u32..50).prop_map(RecurrenceEnd::Count),
    ];
    let nth = prop::sample::select(vec![1i8, 2, 3, 4, -1]);
    (0usize..6, 1u32..5, days, 1u8..29, nth, 1u8..13, end).prop_map(
        |(shape, interval, days, md, nth, month, end)| {
            let base = Recurrence {
                frequency: Frequency::Daily,
                interval,
                weekdays: vec![],
                month_day: None,
                nth: None,
                month: None,
                end,
            };
            match shape {
                0 => base,
                1 => Recurrence {
                    frequency: Frequency::Weekly,
                    weekdays: days,
                    ..base
                },
                2 => Recurrence {
                    frequency: Frequency::Monthly,
                    month_day: Some(md),
                    ..base
                },
                3 => Recurrence {
                    frequency: Frequency::Monthly,
                    weekdays: days,
                    nth: Some(nth),
                    ..base
                },
                4 => Recurrence {
                    frequency: Frequency::Yearly,
                    month_day: Some(md),
                    month: Some(month),
                    ..base
                },
                _ => Recurrence {
                    frequency: Frequency::Yearly,
                    weekdays: days,
                    nth: Some(nth),
                    month: Some(month),
                    ..base
                },
            }
        },
    )
}

prop_compose! {
    fn task()(
        title in text(), notes in text(), due in prop::option::of(date()), start in prop::option::of(date()),
        status in prop::sample::select(vec![TaskStatus::NotStarted, TaskStatus::InProgress, TaskStatus::Completed, TaskStatus::WaitingOnOthers, TaskStatus::Deferred]),
        priority in prop::sample::select(vec![Priority::Low, Priority::Normal, Priority::High]),
        reminder in prop::option::of(instant()), completed in instant(), recurrence in prop::option::of(recurrence()),
    ) -> Task {
        let recurrence = if due.or(start).is_some() { recurrence } else { None };
        let completed_at = (status == TaskStatus::Completed).then_some(completed);
        Task { title, notes, due, start, status, priority, reminder, completed_at, recurrence }
    }
}

const ZONES: &[&str] = &[
    "UTC",
    "Asia/Shanghai",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Sydney",
];

prop_compose! {
    fn event()(
        title in text(), notes in text(), start in instant(), minutes in 0i64..3000,
        zone in prop::sample::select(ZONES.to_vec()), all_day in any::<bool>(), days in 1i64..4,
        location in text(), reminder_minutes in prop::option::of(0u32..2000),
        recurrence in prop::option::of(recurrence()), categories in prop::collection::vec(nonempty(), 0..3),
        sensitivity in prop::sample::select(vec![Sensitivity::Normal, Sensitivity::Personal, Sensitivity::Private, Sensitivity::Confidential]),
    ) -> Event {
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        let (start, end) = if all_day {
            let d = start.with_timezone(&tz).date_naive();
            let at = |d: NaiveDate| tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap()).earliest().unwrap().with_timezone(&Utc);
            (at(d), at(d + chrono::Duration::days(days)))
        } else {
            (start, start + chrono::Duration::minutes(minutes))
        };
        Event { title, notes, start, end, time_zone: zone.to_string(), all_day, location, attendees: vec![],
            reminder_minutes, recurrence, categories, sensitivity, is_organizer: true }
    }
}

/// Whether a local time is ambiguous (the repeated hour at the end of DST): Graph's
/// offset-less `dateTime` cannot say which one is meant.
fn ambiguous(e: &Event) -> bool {
    let tz: chrono_tz::Tz = e.time_zone.parse().unwrap();
    [e.start, e.end].iter().any(|t| {
        let local = t.with_timezone(&tz).naive_local();
        !matches!(
            tz.from_local_datetime(&local),
            chrono::LocalResult::Single(_)
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn contacts_round_trip(c in contact()) {
        let json = contact_to_graph(&c, FieldSet::all(Kind::Contact));
        prop_assert_eq!(contact_from_graph(&json), c);
    }

    #[test]
    fn tasks_round_trip(t in task()) {
        let json = task_to_graph(&t, FieldSet::all(Kind::Task));
        prop_assert_eq!(task_from_graph(&json), t);
    }

    #[test]
    fn events_round_trip(e in event()) {
        prop_assume!(!ambiguous(&e));
        let json = event_to_graph(&e, FieldSet::all(Kind::Event), MappingOptions::default());
        prop_assert_eq!(event_from_graph(&json), e);
    }
}

#[test]
fn attendees_go_into_the_notes_by_default_and_come_back_out() {
    let e = Event {
        notes: "agenda".into(),
        attendees: vec![crmsync_core::Attendee {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let json = event_to_graph(&e, FieldSet::all(Kind::Event), MappingOptions::default());
    assert!(json.get("attendees").is_none(), "no invitations by default");
    assert!(json["body"]["content"]
        .as_str()
        .unwrap()
        .contains("Ada <ada@example.com>"));
    assert_eq!(event_from_graph(&json).notes, "agenda");
    let json = event_to_graph(
        &e,
        FieldSet::all(Kind::Event),
        MappingOptions {
            write_attendees: true,
        },
    );
    assert_eq!(
        json["attendees"][0]["emailAddress"]["address"],
        "ada@example.com"
    );
}

#[test]
fn event_sample_with_windows_zone_and_fractional_seconds() {
    // Shape of the event samples in the docs: UTC start/end with 7 fractional digits and the
    // original zone as a Windows name.
    let v = serde_json::json!({
        "@odata.etag": "W/\"ZlnW4RIAV06KYYwlrfNZvQAAKGWwbw==\"",
        "id": "AAMkAGIAAAoZDOFAAA=",
        "subject": "Let's go for lunch",
        "body": {"contentType": "text", "content": "Does late morning work for you?"},
        "start": {"dateTime": "2017-04-15T19:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2017-04-15T21:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "Pacific Standard Time",
        "originalEndTimeZone": "Pacific Standard Time",
        "location": {"displayName": "Harry's Bar", "locationType": "default"},
        "isAllDay": false, "isReminderOn": true, "reminderMinutesBeforeStart": 15,
        "sensitivity": "normal", "isOrganizer": true, "type": "singleInstance",
        "recurrence": null, "categories": [], "attendees": []
    });
    let e = event_from_graph(&v);
    assert_eq!(e.time_zone, "America/Los_Angeles");
    assert_eq!(e.start.to_rfc3339(), "2017-04-15T19:00:00+00:00");
    assert_eq!(e.location, "Harry's Bar");
    assert_eq!(e.reminder_minutes, Some(15));
}
