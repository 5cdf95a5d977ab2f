//! Pure mapping between Graph JSON (contact, todoTask, event) and the canonical model.
//!
//! Only this crate knows Graph's JSON. Reading ignores unknown keys and tolerates `null`s; writing
//! sends only what the canonical model holds, with unused recurrence fields stripped (Graph
//! rejects the zeros its own responses carry).
//!
//! Lossy on purpose:
//! - Task priority: Graph has three importance levels. Lowest/Low → `low`, Normal → `normal`,
//!   High/Highest → `high`; reading gives Low/Normal/High. The field stays in the schema (writing
//!   a priority is worth more than never writing one); a Zoho "Highest" reads back as "High",
//!   which the engine takes as Outlook's baseline and does not propagate back unless edited.
//! - Phones: Graph v1.0 holds 2 business, 2 home and 1 mobile number and no "other" number.
//! - Attendees are not written to Outlook unless enabled (Graph would send invitations); they go
//!   into the notes after a marker line, which is stripped again when reading.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use crmsync_core::field::{LengthUnit, TextField, TextLimit};
use crmsync_core::{
    Address, Attendee, AttendeeKind, Contact, Event, Field, FieldSchema, FieldSet, Frequency, Kind,
    Phone, PhoneKind, Priority, Recurrence, RecurrenceEnd, Sensitivity, SyncId, Task, TaskStatus,
    Weekday,
};
use serde_json::{json, Map, Value};

/// The single-value extended property that carries the sync id on contacts and events
/// (fixed in ARCHITECTURE.md).
pub const SYNC_ID_PROPERTY: &str = "String {3d0c8d3a-5e0b-4c1e-9f2b-7a6c1e2d9b40} Name CrmSyncId";

/// The `applicationName` of the linkedResource that carries the sync id on To Do tasks.
pub const LINKED_APP: &str = "crmsync";

/// The line that starts the attendee list written into an event's notes.
pub const ATTENDEES_MARKER: &str = "\n\n--- Attendees (crmsync) ---\n";

/// Options of the mapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MappingOptions {
    /// Write attendees to Outlook (Graph sends invitations). Off by default: attendees go into
    /// the notes.
    pub write_attendees: bool,
}

fn s(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn strs(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Parses Graph's offset-less `dateTime` (`2017-09-04T12:00:00.0000000`).
pub fn parse_local(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim().trim_end_matches('Z');
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)
        })
}

fn fmt_local(n: NaiveDateTime) -> String {
    // Graph writes 7 fractional digits (100 ns ticks); chrono has no `%.7f`.
    format!(
        "{}.{:07}",
        n.format("%Y-%m-%dT%H:%M:%S"),
        n.and_utc().timestamp_subsec_nanos() / 100
    )
}

/// An IANA zone for a Graph `timeZone` (Windows name, IANA name or `UTC`), via CLDR's
/// windowsZones data.
pub fn zone(name: &str) -> Option<chrono_tz::Tz> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("utc") || name.is_empty() {
        return Some(chrono_tz::UTC);
    }
    if let Ok(tz) = name.parse::<chrono_tz::Tz>() {
        return Some(tz);
    }
    let iana = localzone::win_zone_to_iana(name, Some("001"))
        .or_else(|| localzone::win_zone_to_iana(name, None))?;
    // CLDR still names some zones by their deprecated aliases: answer the current name.
    let iana = CLDR_ALIASES
        .iter()
        .take(DEPRECATED_ALIASES)
        .find(|(_, old)| *old == iana)
        .map_or(iana, |(modern, _)| *modern);
    iana.parse().ok()
}

/// How many of the first [`CLDR_ALIASES`] are renames (old name deprecated), mapped back to the
/// current name when reading.
const DEPRECATED_ALIASES: usize = 8;

/// Modern IANA names that CLDR's windowsZones lists under an older alias (renames first).
const CLDR_ALIASES: &[(&str, &str)] = &[
    ("Europe/Kyiv", "Europe/Kiev"),
    ("America/Nuuk", "America/Godthab"),
    ("Atlantic/Faroe", "Atlantic/Faeroe"),
    ("Pacific/Kanton", "Pacific/Enderbury"),
    ("Asia/Kolkata", "Asia/Calcutta"),
    ("Asia/Kathmandu", "Asia/Katmandu"),
    ("Asia/Yangon", "Asia/Rangoon"),
    ("Asia/Ho_Chi_Minh", "Asia/Saigon"),
    ("Asia/Chongqing", "Asia/Shanghai"),
    ("Asia/Istanbul", "Europe/Istanbul"),
    ("Asia/Ulan_Bator", "Asia/Ulaanbaatar"),
    ("Asia/Dacca", "Asia/Dhaka"),
    ("Asia/Macao", "Asia/Macau"),
    ("Asia/Tel_Aviv", "Asia/Jerusalem"),
    ("Europe/Nicosia", "Asia/Nicosia"),
    ("Europe/Belfast", "Europe/London"),
    ("America/Argentina/Buenos_Aires", "America/Buenos_Aires"),
    ("America/Indiana/Indianapolis", "America/Indianapolis"),
    ("America/Kentucky/Louisville", "America/Louisville"),
    ("America/Montreal", "America/Toronto"),
    ("Australia/Canberra", "Australia/Sydney"),
    ("Australia/ACT", "Australia/Sydney"),
    ("Australia/NSW", "Australia/Sydney"),
];

/// The Windows zone name Graph answers with, for an IANA name (`UTC` for UTC); `None` when
/// CLDR has no Windows zone for it (the caller then writes the instant in UTC).
pub fn windows_zone(iana: &str) -> Option<String> {
    if matches!(iana, "UTC" | "Etc/UTC" | "Etc/GMT" | "GMT" | "") {
        return Some("UTC".into());
    }
    let alias = CLDR_ALIASES
        .iter()
        .find(|(modern, _)| *modern == iana)
        .map(|(_, old)| *old);
    localzone::iana_to_win_zone(iana)
        .or_else(|| alias.and_then(localzone::iana_to_win_zone))
        .map(|(w, _)| w.to_string())
}

fn dtz_instant(v: &Value) -> Option<DateTime<Utc>> {
    let local = parse_local(v.get("dateTime")?.as_str()?)?;
    let tz = zone(v.get("timeZone").and_then(Value::as_str).unwrap_or("UTC"))?;
    tz.from_local_datetime(&local)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

fn dtz_date(v: &Value) -> Option<NaiveDate> {
    // To Do dates are calendar dates; the time part is noise (see graph-api.md §2).
    Some(parse_local(v.get("dateTime")?.as_str()?)?.date())
}

fn date_dtz(d: NaiveDate) -> Value {
    json!({"dateTime": fmt_local(d.and_time(NaiveTime::MIN)), "timeZone": "UTC"})
}

fn utc_dtz(t: DateTime<Utc>) -> Value {
    json!({"dateTime": fmt_local(t.naive_utc()), "timeZone": "UTC"})
}

/// The version of a Graph item: its `@odata.etag`, else `W/"changeKey"`.
pub fn version(v: &Value) -> String {
    match v.get("@odata.etag").and_then(Value::as_str) {
        Some(e) => e.to_string(),
        None => match v.get("changeKey").and_then(Value::as_str) {
            Some(k) => format!("W/\"{k}\""),
            None => String::new(),
        },
    }
}

/// `lastModifiedDateTime`, whole seconds.
pub fn modified_at(v: &Value) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(v.get("lastModifiedDateTime")?.as_str()?).ok()?;
    t.with_timezone(&Utc).with_nanosecond(0)
}

/// The sync id stamped on a contact or event (when read with the property expanded), or on a
/// task's linkedResources.
pub fn sync_id(v: &Value) -> Option<SyncId> {
    if let Some(props) = v
        .get("singleValueExtendedProperties")
        .and_then(Value::as_array)
    {
        for p in props {
            if p.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.eq_ignore_ascii_case(SYNC_ID_PROPERTY))
            {
                if let Some(val) = p.get("value").and_then(Value::as_str) {
                    return Some(SyncId(val.to_string()));
                }
            }
        }
    }
    if let Some(links) = v.get("linkedResources").and_then(Value::as_array) {
        for l in links {
            if l.get("applicationName").and_then(Value::as_str) == Some(LINKED_APP) {
                if let Some(id) = l.get("externalId").and_then(Value::as_str) {
                    return Some(SyncId(id.to_string()));
                }
            }
        }
    }
    None
}

/// The JSON that stamps a sync id on a contact or event.
pub fn sync_id_property(id: &SyncId) -> Value {
    json!([{"id": SYNC_ID_PROPERTY, "value": id.0}])
}

/// The JSON linkedResource that stamps a sync id on a task.
pub fn sync_id_link(id: &SyncId) -> Value {
    json!({"applicationName": LINKED_APP, "displayName": "Zoho CRM", "externalId": id.0})
}

// ---------------------------------------------------------------------------------------------
// Contacts

fn address_from(v: &Value) -> Option<Box<Address>> {
    let a = v.as_object()?;
    let get = |k: &str| {
        a.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let addr = Address {
        street: get("street"),
        city: get("city"),
        state: get("state"),
        postal_code: get("postalCode"),
        country: get("countryOrRegion"),
    };
    (!addr.is_empty()).then(|| Box::new(addr))
}

fn address_to(a: &Option<Box<Address>>) -> Value {
    match a {
        Some(a) if !a.is_empty() => json!({
            "street": a.street, "city": a.city, "state": a.state,
            "postalCode": a.postal_code, "countryOrRegion": a.country,
        }),
        _ => json!({}),
    }
}

/// A Graph contact → canonical.
pub fn contact_from_graph(v: &Value) -> Contact {
    let mut phones = Vec::new();
    for n in strs(v, "businessPhones") {
        phones.push(Phone {
            kind: PhoneKind::Business,
            number: n,
        });
    }
    for n in strs(v, "homePhones") {
        phones.push(Phone {
            kind: PhoneKind::Home,
            number: n,
        });
    }
    let mobile = s(v, "mobilePhone");
    if !mobile.trim().is_empty() {
        phones.push(Phone {
            kind: PhoneKind::Mobile,
            number: mobile,
        });
    }
    let emails = v
        .get("emailAddresses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| e.get("address").and_then(Value::as_str))
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let birthday = v
        .get("birthday")
        .and_then(Value::as_str)
        .and_then(|b| DateTime::parse_from_rfc3339(b).ok())
        // Round to the nearest midnight: clients store birthdays at local midnight or noon.
        .map(|t| (t.with_timezone(&Utc) + Duration::hours(12)).date_naive());
    let mut c = Contact {
        given_name: s(v, "givenName"),
        middle_name: s(v, "middleName"),
        family_name: s(v, "surname"),
        display_name: s(v, "displayName"),
        emails,
        phones,
        company: s(v, "companyName"),
        job_title: s(v, "jobTitle"),
        department: s(v, "department"),
        business_address: v.get("businessAddress").and_then(address_from),
        home_address: v.get("homeAddress").and_then(address_from),
        other_address: v.get("otherAddress").and_then(address_from),
        birthday,
        notes: s(v, "personalNotes"),
        categories: strs(v, "categories"),
    };
    // A display name that is just the parts joined is the derived one: keep it empty so the
    // canonical "derive from the parts" round-trips.
    let display = std::mem::take(&mut c.display_name);
    if display.trim() != c.display() {
        c.display_name = display;
    }
    c
}

/// Canonical → the Graph contact properties of the given fields.
pub fn contact_to_graph(c: &Contact, fields: FieldSet) -> Value {
    let mut m = Map::new();
    for f in fields.iter() {
        match f {
            Field::Name => {
                m.insert("givenName".into(), json!(c.given_name));
                m.insert("middleName".into(), json!(c.middle_name));
                m.insert("surname".into(), json!(c.family_name));
                // An empty display name means "derive from the parts" (Outlook does).
                m.insert("displayName".into(), json!(c.display()));
            }
            Field::Emails => {
                let e: Vec<Value> = c
                    .emails
                    .iter()
                    .take(3)
                    .map(|a| json!({"name": a, "address": a}))
                    .collect();
                m.insert("emailAddresses".into(), Value::Array(e));
            }
            Field::Phones => {
                let of = |k: PhoneKind, max: usize| -> Vec<String> {
                    c.phones
                        .iter()
                        .filter(|p| p.kind == k)
                        .take(max)
                        .map(|p| p.number.clone())
                        .collect()
                };
                m.insert("businessPhones".into(), json!(of(PhoneKind::Business, 2)));
                m.insert("homePhones".into(), json!(of(PhoneKind::Home, 2)));
                let mobile = of(PhoneKind::Mobile, 1).into_iter().next();
                m.insert("mobilePhone".into(), json!(mobile));
            }
            Field::Company => {
                m.insert("companyName".into(), json!(c.company));
            }
            Field::JobTitle => {
                m.insert("jobTitle".into(), json!(c.job_title));
            }
            Field::Department => {
                m.insert("department".into(), json!(c.department));
            }
            Field::BusinessAddress => {
                m.insert("businessAddress".into(), address_to(&c.business_address));
            }
            Field::HomeAddress => {
                m.insert("homeAddress".into(), address_to(&c.home_address));
            }
            Field::OtherAddress => {
                m.insert("otherAddress".into(), address_to(&c.other_address));
            }
            Field::Birthday => {
                let b = c
                    .birthday
                    .and_then(|d| d.and_hms_opt(11, 59, 0))
                    .map(|d| format!("{}Z", d.format("%Y-%m-%dT%H:%M:%S")));
                m.insert("birthday".into(), json!(b));
            }
            Field::ContactNotes => {
                m.insert("personalNotes".into(), json!(c.notes));
            }
            Field::ContactCategories => {
                m.insert("categories".into(), json!(c.categories));
            }
            _ => {}
        }
    }
    Value::Object(m)
}

fn limit(field: TextField, max: usize) -> TextLimit {
    TextLimit {
        field,
        max,
        unit: LengthUnit::Utf16,
    }
}

/// What Outlook contacts hold.
pub fn contact_schema() -> FieldSchema {
    use TextField::*;
    FieldSchema {
        fields: FieldSet::all(Kind::Contact),
        // Graph does not document these limits; 255 UTF-16 units is Exchange's usual cap for
        // short properties (a guess, kept conservative).
        text_limits: [
            GivenName,
            MiddleName,
            FamilyName,
            DisplayName,
            Company,
            JobTitle,
            Department,
        ]
        .into_iter()
        .map(|f| limit(f, 255))
        .collect(),
        max_emails: Some(3),
        max_phones: vec![
            (PhoneKind::Business, 2),
            (PhoneKind::Home, 2),
            (PhoneKind::Mobile, 1),
            (PhoneKind::Other, 0),
        ],
        keeps_event_zone: true,
    }
}

// ---------------------------------------------------------------------------------------------
// Tasks

/// A To Do task → canonical.
pub fn task_from_graph(v: &Value) -> Task {
    let status = match s(v, "status").as_str() {
        "inProgress" => TaskStatus::InProgress,
        "completed" => TaskStatus::Completed,
        "waitingOnOthers" => TaskStatus::WaitingOnOthers,
        "deferred" => TaskStatus::Deferred,
        _ => TaskStatus::NotStarted,
    };
    let priority = match s(v, "importance").as_str() {
        "low" => Priority::Low,
        "high" => Priority::High,
        _ => Priority::Normal,
    };
    let reminder_on = v
        .get("isReminderOn")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let due = v.get("dueDateTime").and_then(dtz_date);
    let start = v.get("startDateTime").and_then(dtz_date);
    let anchor = start.or(due);
    Task {
        title: s(v, "title"),
        notes: v
            .pointer("/body/content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        due,
        start,
        status,
        priority,
        reminder: if reminder_on {
            v.get("reminderDateTime").and_then(dtz_instant)
        } else {
            None
        },
        completed_at: if status == TaskStatus::Completed {
            v.get("completedDateTime").and_then(dtz_instant)
        } else {
            None
        },
        recurrence: v
            .get("recurrence")
            .and_then(|r| recurrence_from_graph(r, anchor)),
    }
}

/// Canonical → the To Do task properties of the given fields.
pub fn task_to_graph(t: &Task, fields: FieldSet) -> Value {
    let mut m = Map::new();
    for f in fields.iter() {
        match f {
            Field::TaskTitle => {
                m.insert("title".into(), json!(t.title));
            }
            Field::TaskNotes => {
                m.insert(
                    "body".into(),
                    json!({"content": t.notes, "contentType": "text"}),
                );
            }
            Field::TaskSchedule => {
                m.insert(
                    "dueDateTime".into(),
                    t.due.map(date_dtz).unwrap_or(Value::Null),
                );
                m.insert(
                    "startDateTime".into(),
                    t.start.map(date_dtz).unwrap_or(Value::Null),
                );
                let anchor = t.start.or(t.due);
                m.insert(
                    "recurrence".into(),
                    match (&t.recurrence, anchor) {
                        (Some(r), Some(a)) => recurrence_to_graph(r, a),
                        _ => Value::Null,
                    },
                );
            }
            Field::TaskStatus => {
                let st = match t.status {
                    TaskStatus::NotStarted => "notStarted",
                    TaskStatus::InProgress => "inProgress",
                    TaskStatus::Completed => "completed",
                    TaskStatus::WaitingOnOthers => "waitingOnOthers",
                    TaskStatus::Deferred => "deferred",
                };
                m.insert("status".into(), json!(st));
                if t.status == TaskStatus::Completed {
                    if let Some(c) = t.completed_at {
                        m.insert("completedDateTime".into(), utc_dtz(c));
                    }
                }
            }
            Field::TaskPriority => {
                let imp = match t.priority {
                    Priority::Lowest | Priority::Low => "low",
                    Priority::Normal => "normal",
                    Priority::High | Priority::Highest => "high",
                };
                m.insert("importance".into(), json!(imp));
            }
            Field::TaskReminder => {
                m.insert("isReminderOn".into(), json!(t.reminder.is_some()));
                m.insert(
                    "reminderDateTime".into(),
                    t.reminder.map(utc_dtz).unwrap_or(Value::Null),
                );
            }
            _ => {}
        }
    }
    Value::Object(m)
}

/// What To Do tasks hold.
pub fn task_schema() -> FieldSchema {
    FieldSchema {
        fields: FieldSet::all(Kind::Task),
        text_limits: vec![limit(TextField::TaskTitle, 255)],
        max_emails: None,
        max_phones: vec![],
        keeps_event_zone: true,
    }
}

// ---------------------------------------------------------------------------------------------
// Recurrence

fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mo => "monday",
        Weekday::Tu => "tuesday",
        Weekday::We => "wednesday",
        Weekday::Th => "thursday",
        Weekday::Fr => "friday",
        Weekday::Sa => "saturday",
        Weekday::Su => "sunday",
    }
}

fn weekday_parse(s: &str) -> Option<Weekday> {
    Weekday::ALL
        .into_iter()
        .find(|d| weekday_name(*d).eq_ignore_ascii_case(s))
}

const INDEXES: [(&str, i8); 5] = [
    ("first", 1),
    ("second", 2),
    ("third", 3),
    ("fourth", 4),
    ("last", -1),
];

/// A patternedRecurrence → canonical. Fields Graph fills with zeros for unused parts are ignored.
pub fn recurrence_from_graph(v: &Value, _anchor: Option<NaiveDate>) -> Option<Recurrence> {
    let p = v.get("pattern")?;
    let r = v.get("range").cloned().unwrap_or(Value::Null);
    let interval = p
        .get("interval")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1) as u32;
    let mut days: Vec<Weekday> = p
        .get("daysOfWeek")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter_map(weekday_parse)
                .collect()
        })
        .unwrap_or_default();
    days.sort();
    days.dedup();
    let day_of_month = p
        .get("dayOfMonth")
        .and_then(Value::as_u64)
        .filter(|d| *d > 0)
        .map(|d| d as u8);
    let month = p
        .get("month")
        .and_then(Value::as_u64)
        .filter(|m| *m > 0)
        .map(|m| m as u8);
    let index = p
        .get("index")
        .and_then(Value::as_str)
        .and_then(|i| INDEXES.iter().find(|(n, _)| *n == i).map(|(_, v)| *v))
        .unwrap_or(1);
    let (frequency, weekdays, month_day, nth, month) =
        match p.get("type").and_then(Value::as_str)? {
            "daily" => (Frequency::Daily, vec![], None, None, None),
            "weekly" => (Frequency::Weekly, days, None, None, None),
            "absoluteMonthly" => (Frequency::Monthly, vec![], day_of_month, None, None),
            "relativeMonthly" => (Frequency::Monthly, days, None, Some(index), None),
            "absoluteYearly" => (Frequency::Yearly, vec![], day_of_month, None, month),
            "relativeYearly" => (Frequency::Yearly, days, None, Some(index), month),
            _ => return None,
        };
    let end = match r.get("type").and_then(Value::as_str) {
        Some("endDate") => r
            .get("endDate")
            .and_then(Value::as_str)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(RecurrenceEnd::Until)
            .unwrap_or_default(),
        Some("numbered") => r
            .get("numberOfOccurrences")
            .and_then(Value::as_u64)
            .filter(|n| *n > 0)
            .map(|n| RecurrenceEnd::Count(n as u32))
            .unwrap_or_default(),
        _ => RecurrenceEnd::Never,
    };
    Some(Recurrence {
        frequency,
        interval,
        weekdays,
        month_day,
        nth,
        month,
        end,
    })
}

/// Canonical → patternedRecurrence with only the fields the pattern type uses.
pub fn recurrence_to_graph(r: &Recurrence, start: NaiveDate) -> Value {
    use chrono::Datelike as _;
    let days: Vec<&str> = r.weekdays.iter().map(|d| weekday_name(*d)).collect();
    let index = r
        .nth
        .and_then(|n| INDEXES.iter().find(|(_, v)| *v == n).map(|(name, _)| *name))
        .unwrap_or("first");
    let mut p = Map::new();
    let relative = r.nth.is_some() && !r.weekdays.is_empty();
    let ty = match r.frequency {
        Frequency::Daily => "daily",
        Frequency::Weekly => {
            let days = if days.is_empty() {
                vec![weekday_name(
                    Weekday::ALL[start.weekday().num_days_from_monday() as usize],
                )]
            } else {
                days.clone()
            };
            p.insert("daysOfWeek".into(), json!(days));
            p.insert("firstDayOfWeek".into(), json!("sunday"));
            "weekly"
        }
        Frequency::Monthly if relative => {
            p.insert("daysOfWeek".into(), json!(days));
            p.insert("index".into(), json!(index));
            "relativeMonthly"
        }
        Frequency::Monthly => {
            p.insert(
                "dayOfMonth".into(),
                json!(r.month_day.unwrap_or(start.day() as u8)),
            );
            "absoluteMonthly"
        }
        Frequency::Yearly if relative => {
            p.insert("daysOfWeek".into(), json!(days));
            p.insert("index".into(), json!(index));
            p.insert(
                "month".into(),
                json!(r.month.unwrap_or(start.month() as u8)),
            );
            "relativeYearly"
        }
        Frequency::Yearly => {
            p.insert(
                "dayOfMonth".into(),
                json!(r.month_day.unwrap_or(start.day() as u8)),
            );
            p.insert(
                "month".into(),
                json!(r.month.unwrap_or(start.month() as u8)),
            );
            "absoluteYearly"
        }
    };
    p.insert("type".into(), json!(ty));
    p.insert("interval".into(), json!(r.interval.max(1)));
    let range = match r.end {
        RecurrenceEnd::Never => json!({"type": "noEnd", "startDate": start.to_string()}),
        RecurrenceEnd::Until(d) => {
            json!({"type": "endDate", "startDate": start.to_string(), "endDate": d.to_string()})
        }
        RecurrenceEnd::Count(n) => {
            json!({"type": "numbered", "startDate": start.to_string(), "numberOfOccurrences": n})
        }
    };
    json!({"pattern": Value::Object(p), "range": range})
}

// ---------------------------------------------------------------------------------------------
// Events

/// The event's IANA zone: its original start zone when readable, else the start's label.
fn event_zone(v: &Value) -> (chrono_tz::Tz, String) {
    for name in [
        v.get("originalStartTimeZone").and_then(Value::as_str),
        v.pointer("/start/timeZone").and_then(Value::as_str),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(tz) = zone(name) {
            let n = if tz == chrono_tz::UTC {
                "UTC".to_string()
            } else {
                tz.name().to_string()
            };
            return (tz, n);
        }
    }
    (chrono_tz::UTC, "UTC".into())
}

/// A Graph event → canonical (for a series master, with its recurrence).
pub fn event_from_graph(v: &Value) -> Event {
    let (tz, zone_name) = event_zone(v);
    let all_day = v.get("isAllDay").and_then(Value::as_bool).unwrap_or(false);
    let (start, end) = if all_day {
        // All-day times are floating dates: take the date and place it in the event's zone.
        let date = |k: &str| {
            v.get(k)
                .and_then(|x| x.get("dateTime"))
                .and_then(Value::as_str)
                .and_then(parse_local)
                .map(|n| n.date())
        };
        let at = |d: Option<NaiveDate>| {
            d.and_then(|d| {
                tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        };
        (at(date("start")), at(date("end")))
    } else {
        (
            v.get("start")
                .and_then(dtz_instant)
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
            v.get("end")
                .and_then(dtz_instant)
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        )
    };
    let mut notes = v
        .pointer("/body/content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .replace("\r\n", "\n");
    if let Some(i) = notes.find(ATTENDEES_MARKER) {
        notes.truncate(i);
    }
    let attendees = v
        .get("attendees")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|x| x.get("type").and_then(Value::as_str) != Some("resource"))
                .map(|x| Attendee {
                    name: x
                        .pointer("/emailAddress/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    email: x
                        .pointer("/emailAddress/address")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    kind: if x.get("type").and_then(Value::as_str) == Some("optional") {
                        AttendeeKind::Optional
                    } else {
                        AttendeeKind::Required
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    let reminder_on = v
        .get("isReminderOn")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let sensitivity = match s(v, "sensitivity").as_str() {
        "personal" => Sensitivity::Personal,
        "private" => Sensitivity::Private,
        "confidential" => Sensitivity::Confidential,
        _ => Sensitivity::Normal,
    };
    let start_date = start.with_timezone(&tz).date_naive();
    Event {
        title: s(v, "subject"),
        notes,
        start,
        end,
        time_zone: zone_name,
        all_day,
        location: v
            .pointer("/location/displayName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
        attendees,
        reminder_minutes: if reminder_on {
            v.get("reminderMinutesBeforeStart")
                .and_then(Value::as_u64)
                .map(|m| m as u32)
        } else {
            None
        },
        recurrence: v
            .get("recurrence")
            .filter(|r| !r.is_null())
            .and_then(|r| recurrence_from_graph(r, Some(start_date))),
        categories: strs(v, "categories"),
        sensitivity,
        is_organizer: v
            .get("isOrganizer")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    }
}

fn event_time(t: DateTime<Utc>, tz: chrono_tz::Tz, all_day: bool, win: &str) -> Value {
    let local = t.with_timezone(&tz).naive_local();
    let local = if all_day {
        local.date().and_time(NaiveTime::MIN)
    } else {
        local
    };
    json!({"dateTime": fmt_local(local), "timeZone": win})
}

/// Canonical → the Graph event properties of the given fields.
pub fn event_to_graph(e: &Event, fields: FieldSet, opts: MappingOptions) -> Value {
    let mut m = Map::new();
    let tz: chrono_tz::Tz = e.time_zone.parse().unwrap_or(chrono_tz::UTC);
    // A zone Graph cannot name is written as UTC: the instant stays right, the zone is lost.
    let (tz, win) = match windows_zone(if tz == chrono_tz::UTC {
        "UTC"
    } else {
        tz.name()
    }) {
        Some(w) => (tz, w),
        None => (chrono_tz::UTC, "UTC".to_string()),
    };
    for f in fields.iter() {
        match f {
            Field::EventTitle => {
                m.insert("subject".into(), json!(e.title));
            }
            Field::EventNotes => {
                let mut notes = e.notes.clone();
                if !opts.write_attendees && !e.attendees.is_empty() {
                    notes.push_str(ATTENDEES_MARKER);
                    let lines: Vec<String> = e
                        .attendees
                        .iter()
                        .map(|a| match (a.name.is_empty(), a.email.is_empty()) {
                            (false, false) => format!("{} <{}>", a.name, a.email),
                            (true, _) => a.email.clone(),
                            (false, true) => a.name.clone(),
                        })
                        .collect();
                    notes.push_str(&lines.join("\n"));
                }
                m.insert(
                    "body".into(),
                    json!({"contentType": "text", "content": notes}),
                );
            }
            Field::EventWhen => {
                m.insert("isAllDay".into(), json!(e.all_day));
                m.insert("start".into(), event_time(e.start, tz, e.all_day, &win));
                m.insert("end".into(), event_time(e.end, tz, e.all_day, &win));
                let start_date = e.start.with_timezone(&tz).date_naive();
                m.insert(
                    "recurrence".into(),
                    e.recurrence
                        .as_ref()
                        .map(|r| recurrence_to_graph(r, start_date))
                        .unwrap_or(Value::Null),
                );
            }
            Field::EventLocation => {
                m.insert("location".into(), json!({"displayName": e.location}));
            }
            Field::EventAttendees if opts.write_attendees => {
                let a: Vec<Value> = e
                    .attendees
                    .iter()
                    .map(|a| {
                        json!({
                            "type": if a.kind == AttendeeKind::Optional { "optional" } else { "required" },
                            "emailAddress": {"name": a.name, "address": a.email},
                        })
                    })
                    .collect();
                m.insert("attendees".into(), Value::Array(a));
            }
            Field::EventReminder => {
                m.insert("isReminderOn".into(), json!(e.reminder_minutes.is_some()));
                if let Some(r) = e.reminder_minutes {
                    m.insert("reminderMinutesBeforeStart".into(), json!(r));
                }
            }
            Field::EventCategories => {
                m.insert("categories".into(), json!(e.categories));
            }
            Field::EventSensitivity => {
                let s = match e.sensitivity {
                    Sensitivity::Normal => "normal",
                    Sensitivity::Personal => "personal",
                    Sensitivity::Private => "private",
                    Sensitivity::Confidential => "confidential",
                };
                m.insert("sensitivity".into(), json!(s));
            }
            _ => {}
        }
    }
    Value::Object(m)
}

/// What Outlook events hold (attendees only when they are written).
pub fn event_schema(opts: MappingOptions) -> FieldSchema {
    let mut fields = FieldSet::all(Kind::Event);
    if !opts.write_attendees {
        fields.remove(Field::EventAttendees);
    }
    FieldSchema {
        fields,
        text_limits: vec![
            limit(TextField::EventTitle, 255),
            limit(TextField::Location, 255),
        ],
        max_emails: None,
        max_phones: vec![],
        keeps_event_zone: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_map_both_ways() {
        assert_eq!(zone("China Standard Time"), Some(chrono_tz::Asia::Shanghai));
        assert_eq!(
            zone("Eastern Standard Time"),
            Some(chrono_tz::America::New_York)
        );
        assert_eq!(zone("UTC"), Some(chrono_tz::UTC));
        assert_eq!(zone("Europe/Berlin"), Some(chrono_tz::Europe::Berlin));
        assert_eq!(
            windows_zone("Asia/Shanghai").as_deref(),
            Some("China Standard Time")
        );
        assert_eq!(
            windows_zone("America/New_York").as_deref(),
            Some("Eastern Standard Time")
        );
        assert_eq!(
            windows_zone("Asia/Kolkata").as_deref(),
            Some("India Standard Time")
        );
        assert_eq!(windows_zone("UTC").as_deref(), Some("UTC"));
    }

    #[test]
    fn contact_sample_from_reference() {
        // Shape of the contact-get.md sample: nulls, empty addresses, whole-second timestamps.
        let v = json!({
            "@odata.etag": "W/\"EQAAABYAAAC\"",
            "id": "AAMkAGI2THk0AAA=",
            "createdDateTime": "2017-09-04T15:54:01Z",
            "lastModifiedDateTime": "2017-09-04T15:54:02Z",
            "changeKey": "EQAAABYAAAC",
            "categories": [],
            "parentFolderId": "AAMkAGI2AAEOAAA=",
            "birthday": null,
            "fileAs": "",
            "displayName": "Pavel Bansky",
            "givenName": "Pavel",
            "middleName": null,
            "surname": "Bansky",
            "jobTitle": null,
            "companyName": null,
            "department": null,
            "businessPhones": ["+1 732 555 0102"],
            "homePhones": [],
            "mobilePhone": null,
            "personalNotes": "",
            "emailAddresses": [{"name": "Pavel Bansky", "address": "pavelb@contoso.onmicrosoft.com"}],
            "businessAddress": {}, "homeAddress": {}, "otherAddress": {},
            "OnlineMeeting": null
        });
        let c = contact_from_graph(&v);
        assert_eq!(c.given_name, "Pavel");
        assert_eq!(c.family_name, "Bansky");
        assert_eq!(c.emails, vec!["pavelb@contoso.onmicrosoft.com"]);
        assert_eq!(c.phones.len(), 1);
        assert!(c.business_address.is_none());
        assert_eq!(version(&v), "W/\"EQAAABYAAAC\"");
        assert_eq!(
            modified_at(&v).map(|t| t.to_rfc3339()),
            Some("2017-09-04T15:54:02+00:00".into())
        );
    }

    #[test]
    fn recurrence_strips_unused_fields() {
        let r = Recurrence {
            frequency: Frequency::Weekly,
            interval: 1,
            weekdays: vec![Weekday::Mo, Weekday::We],
            month_day: None,
            nth: None,
            month: None,
            end: RecurrenceEnd::Count(5),
        };
        let g = recurrence_to_graph(&r, NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default());
        assert!(g["pattern"].get("month").is_none());
        assert!(g["pattern"].get("dayOfMonth").is_none());
        assert!(g["range"].get("endDate").is_none());
        // Graph's filled-in zeros are ignored when reading.
        let mut back = g.clone();
        back["pattern"]["month"] = json!(0);
        back["pattern"]["dayOfMonth"] = json!(0);
        back["pattern"]["index"] = json!("first");
        assert_eq!(recurrence_from_graph(&back, None), Some(r));
    }

    #[test]
    fn task_dates_are_calendar_dates() {
        let v = json!({"title": "t", "dueDateTime": {"dateTime": "2024-10-24T10:00:00.0000000", "timeZone": "UTC"}});
        assert_eq!(
            task_from_graph(&v).due,
            NaiveDate::from_ymd_opt(2024, 10, 24)
        );
    }
}
