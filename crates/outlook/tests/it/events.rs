//! Events: time zones across DST, all-day dates, recurring series, categories.

use chrono::{TimeZone, Utc};
use crmsync_core::{
    ChangeItem, Connector, Event, Frequency, Kind, Operation, Record, Recurrence, RecurrenceEnd,
    SyncId, Weekday,
};

use crate::contacts::round;
use crate::support::{scope, start};

fn event(title: &str, zone: &str, start: chrono::DateTime<Utc>, hours: i64) -> Event {
    Event {
        title: title.into(),
        notes: "议程 🗓".into(),
        start,
        end: start + chrono::Duration::hours(hours),
        time_zone: zone.into(),
        location: "Room 1".into(),
        reminder_minutes: Some(15),
        categories: vec!["Zoho".into()],
        ..Default::default()
    }
}

async fn create_and_read(t: &crate::support::T, e: Event) -> Event {
    let sc = scope(Kind::Event, None);
    let out = t
        .conn
        .apply(
            &sc,
            vec![Operation::Create {
                sync_id: SyncId(e.title.clone()),
                record: Record::Event(e.clone()).into(),
            }],
        )
        .await
        .unwrap();
    let w = out[0].as_ref().unwrap();
    let f = t
        .conn
        .fetch(&sc, std::slice::from_ref(&w.id))
        .await
        .unwrap();
    let ChangeItem::Upsert(r) = &f[0] else {
        panic!("{f:?}")
    };
    assert_eq!(r.sync_id, Some(SyncId(e.title.clone())));
    let Record::Event(back) = (*r.record).clone() else {
        panic!()
    };
    back
}

#[tokio::test]
async fn time_zones_round_trip() {
    let t = start().await;
    for (zone, start) in [
        (
            "Asia/Shanghai",
            Utc.with_ymd_and_hms(2026, 3, 2, 1, 30, 0).unwrap(),
        ),
        // Across the DST change (8 March 2026 in New York).
        (
            "America/New_York",
            Utc.with_ymd_and_hms(2026, 3, 8, 6, 0, 0).unwrap(),
        ),
        ("UTC", Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap()),
    ] {
        let e = event(&format!("tz {zone}"), zone, start, 3);
        let back = create_and_read(&t, e.clone()).await;
        assert_eq!(back, e, "{zone}");
    }
}

#[tokio::test]
async fn all_day_events_keep_their_dates() {
    let t = start().await;
    let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
    let start = tz
        .with_ymd_and_hms(2026, 5, 1, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let mut e = event("all day", "Asia/Shanghai", start, 48);
    e.all_day = true;
    let back = create_and_read(&t, e.clone()).await;
    assert_eq!(
        crmsync_core::field::all_day_dates(&back),
        ("2026-05-01".into(), "2026-05-03".into())
    );
    assert_eq!(back, e);
}

#[tokio::test]
async fn recurring_series_round_trip_through_delta() {
    let t = start().await;
    let start = Utc.with_ymd_and_hms(2026, 2, 2, 9, 0, 0).unwrap();
    let mut e = event("weekly", "Asia/Shanghai", start, 1);
    e.recurrence = Some(Recurrence {
        frequency: Frequency::Weekly,
        interval: 1,
        weekdays: vec![Weekday::Mo, Weekday::Th],
        month_day: None,
        nth: None,
        month: None,
        end: RecurrenceEnd::Count(6),
    });
    let back = create_and_read(&t, e.clone()).await;
    assert_eq!(back, e);
    // Delta shows occurrences: the connector reports the series master once.
    let sc = scope(Kind::Event, None);
    let (items, _, _) = round(t.conn.as_ref(), &sc, None).await.unwrap();
    let masters: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            ChangeItem::Upsert(r) => Some(r),
            _ => None,
        })
        .collect();
    let ids: std::collections::BTreeSet<_> = masters.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 1, "{items:?}");
    let Record::Event(m) = (*masters[0].record).clone() else {
        panic!()
    };
    assert_eq!(m.recurrence, e.recurrence);
}

#[tokio::test]
async fn categories_are_ensured_once() {
    let t = start().await;
    t.conn.ensure_category("Zoho").await.unwrap();
    t.conn.ensure_category("Zoho").await.unwrap();
    let cats = t.conn.categories().await.unwrap();
    assert_eq!(cats.iter().filter(|c| *c == "Zoho").count(), 1);
}

#[tokio::test]
async fn skeletal_occurrences_without_a_master_row_still_give_the_series() {
    let t = crate::support::start_with(
        crmsync_emulator::graph::GraphConfig {
            calendar_delta_includes_master: false,
            ..Default::default()
        },
        crmsync_outlook::OutlookOptions::default(),
    )
    .await;
    let cal = t.emu.default_calendar();
    t.emu
        .insert_event(&cal, serde_json::json!({
            "subject": "daily standup", "categories": ["Zoho"],
            "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "Eastern Standard Time"},
            "end": {"dateTime": "2026-03-02T09:15:00", "timeZone": "Eastern Standard Time"},
            "recurrence": {"pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 10}}
        }))
        .unwrap();
    let (items, _, _) = round(t.conn.as_ref(), &scope(Kind::Event, None), None)
        .await
        .unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    let ChangeItem::Upsert(r) = &items[0] else {
        panic!()
    };
    let Record::Event(e) = (*r.record).clone() else {
        panic!()
    };
    assert_eq!(e.title, "daily standup");
    assert_eq!(e.time_zone, "America/New_York");
    assert_eq!(e.start, Utc.with_ymd_and_hms(2026, 3, 2, 14, 0, 0).unwrap());
    assert_eq!(
        e.recurrence.as_ref().map(|r| r.end),
        Some(RecurrenceEnd::Count(10))
    );
}

fn unsupported(items: &[ChangeItem]) -> Vec<(&str, &str, &str)> {
    items
        .iter()
        .filter_map(|i| match i {
            ChangeItem::Unsupported { id, title, reason } => {
                Some((id.as_str(), title.as_str(), reason.as_str()))
            }
            _ => None,
        })
        .collect()
}

fn upserted(items: &[ChangeItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match i {
            ChangeItem::Upsert(r) => Some(r.record.title()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_edited_occurrence_is_reported_once_as_not_synced_and_the_series_still_reads() {
    let t = start().await;
    let cal = t.emu.default_calendar();
    let series = t
        .emu
        .insert_event(&cal, serde_json::json!({
            "subject": "Standup", "categories": ["Zoho"],
            "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "Eastern Standard Time"},
            "end": {"dateTime": "2026-03-02T09:15:00", "timeZone": "Eastern Standard Time"},
            "recurrence": {"pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 10}}
        }))
        .unwrap();
    let sid = series["id"].as_str().unwrap();
    let sc = scope(Kind::Event, None);
    let (items, cursor, _) = round(t.conn.as_ref(), &sc, None).await.unwrap();
    assert!(unsupported(&items).is_empty());
    assert_eq!(upserted(&items), ["Standup"]);

    // The user moves one occurrence and renames it: an exception.
    t.emu
        .edit_occurrence(
            sid,
            "2026-03-04",
            serde_json::json!({"subject": "Standup (late)",
                "start": {"dateTime": "2026-03-04T16:00:00", "timeZone": "Eastern Standard Time"},
                "end": {"dateTime": "2026-03-04T16:15:00", "timeZone": "Eastern Standard Time"}}),
        )
        .unwrap();
    // Delta repeats items within a round: the exception is still reported once.
    t.emu.set_faults(crmsync_emulator::graph::GraphFaults {
        delta_replay_rate: 1.0,
        ..t.emu.faults()
    });
    let reason = "an edited occurrence (2026-03-04) of the recurring series \"Standup\": \
                  Zoho CRM has no per-occurrence edits";
    let (items, _, _) = round(t.conn.as_ref(), &sc, Some(&cursor)).await.unwrap();
    let odd = unsupported(&items);
    assert_eq!(odd.len(), 1, "{items:#?}");
    let (ex_id, title, why) = odd[0];
    assert_eq!((title, why), ("Standup (late)", reason));
    assert_ne!(ex_id, sid);
    assert!(
        upserted(&items).iter().all(|t| t == "Standup"),
        "{items:#?}"
    );
    assert!(
        !upserted(&items).is_empty(),
        "the series itself still reads"
    );

    // A full listing reports it as present but not synced, next to the series.
    let (items, _, _) = round(t.conn.as_ref(), &sc, None).await.unwrap();
    assert_eq!(unsupported(&items), [(ex_id, "Standup (late)", reason)]);
    assert_eq!(upserted(&items), ["Standup"]);

    // Fetched by id (a deferred record, say), it is the same.
    let ex_id = ex_id.to_string();
    let got = t
        .conn
        .fetch(&sc, std::slice::from_ref(&ex_id))
        .await
        .unwrap();
    assert_eq!(
        unsupported(&got),
        [(ex_id.as_str(), "Standup (late)", reason)]
    );

    // Outside the category filter, the series and its exception are not this sync's business.
    let mut zoho_only = sc.clone();
    zoho_only.categories = crmsync_core::CategoryFilter::ZohoOnly;
    zoho_only.zoho_category = "Not this one".into();
    let (items, _, _) = round(t.conn.as_ref(), &zoho_only, None).await.unwrap();
    assert!(unsupported(&items).is_empty(), "{items:#?}");
}
