//! The mapping between Zoho CRM's JSON records and the canonical model (pure: no IO).
//!
//! Read from Zoho's docs and payload samples (`zoho-api.md` §3–4): date-times carry offsets but no
//! zone name (the Zoho user's zone fills the canonical `time_zone`), dates are `yyyy-MM-dd`,
//! lookups are `{name, id}`, unknown `$` keys are ignored.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use crmsync_core::field::{LengthUnit, TextField, TextLimit};
use crmsync_core::{
    Address, Attendee, AttendeeKind, Contact, Event, Field, FieldSchema, FieldSet, Kind, Phone,
    PhoneKind, Priority, Record, RecordError, Recurrence, RecurrenceEnd, RemoteRecord, SyncId,
    Task, TaskStatus,
};
use serde_json::{json, Map, Value};

/// What the mapping needs to know about the account.
#[derive(Debug, Clone)]
pub struct MapContext {
    /// The Zoho user's time zone (from the users API).
    pub tz: Tz,
    /// The API name of the sync-id field, when the org has it.
    pub sync_field: Option<String>,
}

impl Default for MapContext {
    fn default() -> Self {
        MapContext {
            tz: chrono_tz::UTC,
            sync_field: Some("CRMSync_Id".into()),
        }
    }
}

/// The field API names listed when reading a kind (Zoho requires `fields`, at most 50).
pub fn read_fields(kind: Kind, ctx: &MapContext) -> Vec<String> {
    let base: &[&str] = match kind {
        Kind::Contact => &[
            "First_Name",
            "Last_Name",
            "Email",
            "Secondary_Email",
            "Phone",
            "Home_Phone",
            "Mobile",
            "Other_Phone",
            "Account_Name",
            "Title",
            "Department",
            "Mailing_Street",
            "Mailing_City",
            "Mailing_State",
            "Mailing_Zip",
            "Mailing_Country",
            "Other_Street",
            "Other_City",
            "Other_State",
            "Other_Zip",
            "Other_Country",
            "Date_of_Birth",
            "Description",
        ],
        Kind::Task => &[
            "Subject",
            "Description",
            "Due_Date",
            "Status",
            "Priority",
            "Remind_At",
            "Recurring_Activity",
        ],
        Kind::Event => &[
            "Event_Title",
            "Start_DateTime",
            "End_DateTime",
            "All_day",
            "Venue",
            "Participants",
            "Remind_At",
            "Description",
            "Recurring_Activity",
        ],
    };
    let mut v: Vec<String> = ["id", "Owner", "Modified_Time"]
        .iter()
        .chain(base)
        .map(|s| s.to_string())
        .collect();
    if let Some(f) = &ctx.sync_field {
        v.push(f.clone());
    }
    v
}

/// The mandatory fields of a kind's create body.
pub fn mandatory_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Contact => &["Last_Name"],
        Kind::Task => &["Subject"],
        Kind::Event => &["Event_Title", "Start_DateTime", "End_DateTime"],
    }
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn opt(s: &str) -> Value {
    if s.trim().is_empty() {
        Value::Null
    } else {
        Value::String(s.to_string())
    }
}

/// Parses a Zoho date-time (any offset or `Z`).
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Renders an instant in the user's zone with an explicit offset, whole seconds.
pub fn render_datetime(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").ok()
}

/// Reads a record of `kind` as Zoho returns it.
pub fn from_zoho(kind: Kind, v: &Value, ctx: &MapContext) -> Result<RemoteRecord, String> {
    let id = s(v, "id");
    if id.is_empty() {
        return Err("a Zoho record without id".into());
    }
    let version = s(v, "Modified_Time");
    let modified_at = parse_datetime(&version);
    let sync_id = ctx
        .sync_field
        .as_deref()
        .map(|f| s(v, f))
        .filter(|x| !x.trim().is_empty())
        .map(SyncId);
    let record = match kind {
        Kind::Contact => Record::Contact(contact_from(v)),
        Kind::Task => Record::Task(task_from(v)),
        Kind::Event => Record::Event(event_from(v, ctx)),
    };
    Ok(RemoteRecord {
        id,
        version,
        modified_at,
        sync_id,
        record: record.into(),
    })
}

fn address(v: &Value, prefix: &str) -> Option<Box<Address>> {
    let a = Address {
        street: s(v, &format!("{prefix}_Street")),
        city: s(v, &format!("{prefix}_City")),
        state: s(v, &format!("{prefix}_State")),
        postal_code: s(v, &format!("{prefix}_Zip")),
        country: s(v, &format!("{prefix}_Country")),
    };
    (!a.is_empty()).then(|| Box::new(a))
}

fn contact_from(v: &Value) -> Contact {
    let emails = ["Email", "Secondary_Email"]
        .iter()
        .map(|k| s(v, k))
        .filter(|e| !e.trim().is_empty())
        .collect();
    let phones = [
        ("Phone", PhoneKind::Business),
        ("Home_Phone", PhoneKind::Home),
        ("Mobile", PhoneKind::Mobile),
        ("Other_Phone", PhoneKind::Other),
    ]
    .iter()
    .filter_map(|(k, kind)| {
        let n = s(v, k);
        (!n.trim().is_empty()).then_some(Phone {
            kind: *kind,
            number: n,
        })
    })
    .collect();
    let company = match v.get("Account_Name") {
        Some(Value::Object(o)) => o
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        Some(Value::String(x)) => x.clone(),
        _ => String::new(),
    };
    Contact {
        given_name: s(v, "First_Name"),
        middle_name: String::new(),
        family_name: s(v, "Last_Name"),
        display_name: String::new(),
        emails,
        phones,
        company,
        job_title: s(v, "Title"),
        department: s(v, "Department"),
        business_address: address(v, "Mailing"),
        home_address: None,
        other_address: address(v, "Other"),
        birthday: parse_date(&s(v, "Date_of_Birth")),
        notes: s(v, "Description"),
        categories: vec![],
    }
}

/// Zoho's task status picklist value ↔ canonical.
pub fn status_from(s: &str) -> TaskStatus {
    match s.trim().to_ascii_lowercase().as_str() {
        "in progress" => TaskStatus::InProgress,
        "completed" => TaskStatus::Completed,
        "waiting on someone else" | "waiting for input" => TaskStatus::WaitingOnOthers,
        "deferred" => TaskStatus::Deferred,
        _ => TaskStatus::NotStarted,
    }
}

/// Canonical status → Zoho's picklist value.
pub fn status_to(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::NotStarted => "Not Started",
        TaskStatus::InProgress => "In Progress",
        TaskStatus::Completed => "Completed",
        TaskStatus::WaitingOnOthers => "Waiting on someone else",
        TaskStatus::Deferred => "Deferred",
    }
}

/// Zoho's priority picklist value ↔ canonical (five levels each).
pub fn priority_from(s: &str) -> Priority {
    match s.trim().to_ascii_lowercase().as_str() {
        "highest" => Priority::Highest,
        "high" => Priority::High,
        "low" => Priority::Low,
        "lowest" => Priority::Lowest,
        _ => Priority::Normal,
    }
}

/// Canonical priority → Zoho's picklist value.
pub fn priority_to(p: Priority) -> &'static str {
    match p {
        Priority::Highest => "Highest",
        Priority::High => "High",
        Priority::Normal => "Normal",
        Priority::Low => "Low",
        Priority::Lowest => "Lowest",
    }
}

/// Reads the `TRIGGER=DATE-TIME:` instant of a Tasks `Remind_At` `{"ALARM": "..."}`.
pub fn alarm_instant(v: &Value) -> Option<DateTime<Utc>> {
    let alarm = match v {
        Value::Object(o) => o.get("ALARM")?.as_str()?.to_string(),
        Value::String(x) => x.clone(),
        _ => return None,
    };
    let i = alarm.find("TRIGGER=DATE-TIME:")?;
    let rest = &alarm[i + "TRIGGER=DATE-TIME:".len()..];
    let end = rest.find(';').unwrap_or(rest.len());
    parse_datetime(&rest[..end])
}

fn rrule_from(v: &Value) -> Option<Recurrence> {
    let r = match v.get("Recurring_Activity") {
        Some(Value::Object(o)) => o.get("RRULE")?.as_str()?.to_string(),
        Some(Value::String(x)) => x.clone(),
        _ => return None,
    };
    Recurrence::parse_rrule(&r).ok()
}

/// Renders a recurrence the way Zoho's samples write it: `UNTIL` as a `yyyy-MM-dd` date and,
/// for tasks, `DTSTART` inside the rule.
pub fn rrule_to(r: &Recurrence, dtstart: Option<NaiveDate>) -> String {
    let mut out = Recurrence {
        end: RecurrenceEnd::Never,
        ..r.clone()
    }
    .to_rrule();
    match r.end {
        RecurrenceEnd::Never => {}
        RecurrenceEnd::Until(d) => out.push_str(&format!(";UNTIL={}", d.format("%Y-%m-%d"))),
        RecurrenceEnd::Count(c) => out.push_str(&format!(";COUNT={c}")),
    }
    if let Some(d) = dtstart {
        out.push_str(&format!(";DTSTART={}", d.format("%Y-%m-%d")));
    }
    out
}

/// The `DTSTART` date inside a Tasks `Recurring_Activity` rule.
fn rrule_dtstart(v: &Value) -> Option<NaiveDate> {
    let r = match v.get("Recurring_Activity") {
        Some(Value::Object(o)) => o.get("RRULE")?.as_str()?.to_string(),
        Some(Value::String(x)) => x.clone(),
        _ => return None,
    };
    r.split(';').find_map(|part| {
        let (k, val) = part.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("DTSTART")).then(|| parse_date(val.trim()))?
    })
}

fn task_from(v: &Value) -> Task {
    let due = parse_date(&s(v, "Due_Date"));
    let recurrence = rrule_from(v);
    // Zoho tasks have no start date; a recurring task's rule carries a DTSTART, which is where
    // a start date is kept. One equal to the due date is what we write when there is no start.
    let start = recurrence
        .as_ref()
        .and_then(|_| rrule_dtstart(v))
        .filter(|d| Some(*d) != due);
    Task {
        title: s(v, "Subject"),
        notes: s(v, "Description"),
        due,
        start,
        status: status_from(&s(v, "Status")),
        priority: priority_from(&s(v, "Priority")),
        reminder: v.get("Remind_At").and_then(alarm_instant),
        // Not held: Zoho's `Closed_Time` is read-only and set by Zoho at its own time.
        completed_at: None,
        recurrence,
    }
}

fn midnight(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

fn event_from(v: &Value, ctx: &MapContext) -> Event {
    let start_s = s(v, "Start_DateTime");
    let end_s = s(v, "End_DateTime");
    let all_day = v
        .get("All_day")
        .or_else(|| v.get("All_Day"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (start, end) = if all_day {
        // All-day values come back as midnights with some offset: the date is the written one.
        let sd = parse_date(&start_s).unwrap_or_default();
        let ed = parse_date(&end_s)
            .filter(|e| *e > sd)
            .unwrap_or(sd + Duration::days(1));
        (midnight(sd, ctx.tz), midnight(ed, ctx.tz))
    } else {
        let st = parse_datetime(&start_s).unwrap_or_default();
        (st, parse_datetime(&end_s).unwrap_or(st))
    };
    let attendees = v
        .get("Participants")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let email = p
                        .get("Email")
                        .and_then(Value::as_str)
                        .or_else(|| {
                            (p.get("type").and_then(Value::as_str) == Some("email"))
                                .then(|| p.get("participant").and_then(Value::as_str))
                                .flatten()
                        })
                        .unwrap_or_default()
                        .to_string();
                    let name = p
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    (!email.is_empty() || !name.is_empty()).then_some(Attendee {
                        name: if name == email { String::new() } else { name },
                        email,
                        kind: AttendeeKind::Required,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let reminder_minutes = match v.get("Remind_At") {
        Some(Value::String(x)) => {
            parse_datetime(x).map(|r| (start - r).num_minutes().max(0) as u32)
        }
        Some(Value::Array(a)) => a.first().and_then(|r| {
            let unit = r.get("unit").and_then(Value::as_u64)? as u32;
            let mult = match r.get("period").and_then(Value::as_str)? {
                "minutes" => 1,
                "hours" => 60,
                "days" => 1440,
                "weeks" => 10080,
                _ => return None,
            };
            Some(unit * mult)
        }),
        _ => None,
    };
    Event {
        title: s(v, "Event_Title"),
        notes: s(v, "Description"),
        start,
        end,
        time_zone: ctx.tz.name().to_string(),
        all_day,
        location: s(v, "Venue"),
        attendees,
        reminder_minutes,
        recurrence: rrule_from(v),
        categories: vec![],
        sensitivity: Default::default(),
        is_organizer: true,
    }
}

/// The last word of a display name, or the local part of an e-mail: Zoho needs a Last_Name.
pub fn derive_last_name(c: &Contact) -> Option<String> {
    let d = c.display();
    if let Some(w) = d.split_whitespace().last() {
        return Some(w.to_string());
    }
    c.emails
        .iter()
        .find_map(|e| e.split('@').next().filter(|l| !l.trim().is_empty()))
        .map(str::to_string)
}

/// Writes the given fields of a canonical record as a Zoho record body (without `id`).
/// `account_id` is the resolved Account for the company (`None` with a company = leave the
/// lookup alone). Returns the body and notes for the report (no personal data).
pub fn to_zoho(
    record: &Record,
    fields: FieldSet,
    ctx: &MapContext,
    account_id: Option<&str>,
) -> (Map<String, Value>, Vec<String>) {
    let mut m = Map::new();
    let mut notes = vec![];
    match record {
        Record::Contact(c) => {
            if fields.contains(Field::Name) {
                let given = [c.given_name.trim(), c.middle_name.trim()]
                    .iter()
                    .filter(|x| !x.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ");
                m.insert("First_Name".into(), opt(&given));
                let mut last = c.family_name.trim().to_string();
                if last.is_empty() {
                    if let Some(d) = derive_last_name(c) {
                        notes.push("Last_Name derived from the display name or e-mail".into());
                        last = d;
                    }
                }
                m.insert("Last_Name".into(), opt(&last));
            }
            if fields.contains(Field::Emails) {
                let e: Vec<&String> = c.emails.iter().filter(|e| !e.trim().is_empty()).collect();
                m.insert(
                    "Email".into(),
                    e.first().map(|x| opt(x)).unwrap_or(Value::Null),
                );
                m.insert(
                    "Secondary_Email".into(),
                    e.get(1).map(|x| opt(x)).unwrap_or(Value::Null),
                );
            }
            if fields.contains(Field::Phones) {
                for (k, kind) in [
                    ("Phone", PhoneKind::Business),
                    ("Home_Phone", PhoneKind::Home),
                    ("Mobile", PhoneKind::Mobile),
                    ("Other_Phone", PhoneKind::Other),
                ] {
                    let n = c.phones.iter().find(|p| p.kind == kind);
                    m.insert(k.into(), n.map(|p| opt(&p.number)).unwrap_or(Value::Null));
                }
            }
            if fields.contains(Field::Company) {
                match account_id {
                    Some(id) => {
                        m.insert("Account_Name".into(), json!({"id": id}));
                    }
                    None if c.company.trim().is_empty() => {
                        m.insert("Account_Name".into(), Value::Null);
                    }
                    None => {}
                }
            }
            if fields.contains(Field::JobTitle) {
                m.insert("Title".into(), opt(&c.job_title));
            }
            if fields.contains(Field::Department) {
                m.insert("Department".into(), opt(&c.department));
            }
            for (f, prefix, a) in [
                (Field::BusinessAddress, "Mailing", &c.business_address),
                (Field::OtherAddress, "Other", &c.other_address),
            ] {
                if fields.contains(f) {
                    let a = a.clone().unwrap_or_default();
                    m.insert(format!("{prefix}_Street"), opt(&a.street));
                    m.insert(format!("{prefix}_City"), opt(&a.city));
                    m.insert(format!("{prefix}_State"), opt(&a.state));
                    m.insert(format!("{prefix}_Zip"), opt(&a.postal_code));
                    m.insert(format!("{prefix}_Country"), opt(&a.country));
                }
            }
            if fields.contains(Field::Birthday) {
                m.insert(
                    "Date_of_Birth".into(),
                    c.birthday
                        .map(|d| json!(d.format("%Y-%m-%d").to_string()))
                        .unwrap_or(Value::Null),
                );
            }
            if fields.contains(Field::ContactNotes) {
                m.insert("Description".into(), opt(&c.notes));
            }
        }
        Record::Task(t) => {
            if fields.contains(Field::TaskTitle) {
                m.insert("Subject".into(), opt(&t.title));
            }
            if fields.contains(Field::TaskNotes) {
                m.insert("Description".into(), opt(&t.notes));
            }
            if fields.contains(Field::TaskSchedule) {
                m.insert(
                    "Due_Date".into(),
                    t.due
                        .map(|d| json!(d.format("%Y-%m-%d").to_string()))
                        .unwrap_or(Value::Null),
                );
                m.insert(
                    "Recurring_Activity".into(),
                    t.recurrence
                        .as_ref()
                        .map(|r| json!({"RRULE": rrule_to(r, t.start.or(t.due))}))
                        .unwrap_or(Value::Null),
                );
            }
            if fields.contains(Field::TaskStatus) {
                m.insert("Status".into(), json!(status_to(t.status)));
            }
            if fields.contains(Field::TaskPriority) {
                m.insert("Priority".into(), json!(priority_to(t.priority)));
            }
            if fields.contains(Field::TaskReminder) {
                m.insert(
                    "Remind_At".into(),
                    t.reminder
                        .map(|r| {
                            json!({"ALARM": format!(
                                "FREQ=NONE;ACTION=POPUP;TRIGGER=DATE-TIME:{}",
                                render_datetime(r, ctx.tz)
                            )})
                        })
                        .unwrap_or(Value::Null),
                );
            }
        }
        Record::Event(e) => {
            if fields.contains(Field::EventTitle) {
                m.insert("Event_Title".into(), opt(&e.title));
            }
            if fields.contains(Field::EventNotes) {
                m.insert("Description".into(), opt(&e.notes));
            }
            if fields.contains(Field::EventWhen) {
                let (start, end) = if e.all_day {
                    // Midnights in the user's zone: Zoho renders all-day events that way.
                    let ez: Tz = e.time_zone.parse().unwrap_or(ctx.tz);
                    let sd = e.start.with_timezone(&ez).date_naive();
                    let ed = e
                        .end
                        .with_timezone(&ez)
                        .date_naive()
                        .max(sd + Duration::days(1));
                    (midnight(sd, ctx.tz), midnight(ed, ctx.tz))
                } else {
                    (e.start, e.end)
                };
                m.insert(
                    "Start_DateTime".into(),
                    json!(render_datetime(start, ctx.tz)),
                );
                m.insert("End_DateTime".into(), json!(render_datetime(end, ctx.tz)));
                m.insert("All_day".into(), json!(e.all_day));
                m.insert(
                    "Recurring_Activity".into(),
                    e.recurrence
                        .as_ref()
                        .map(|r| json!({"RRULE": rrule_to(r, None)}))
                        .unwrap_or(Value::Null),
                );
            }
            if fields.contains(Field::EventLocation) {
                m.insert("Venue".into(), opt(&e.location));
            }
            if fields.contains(Field::EventAttendees) {
                let p: Vec<Value> = e
                    .attendees
                    .iter()
                    .filter(|a| !a.email.trim().is_empty())
                    .map(|a| json!({"type": "email", "participant": a.email}))
                    .collect();
                if p.len() < e.attendees.len() {
                    notes.push("attendees without an e-mail address are not written".into());
                }
                m.insert("Participants".into(), Value::Array(p));
            }
            if fields.contains(Field::EventReminder) || fields.contains(Field::EventWhen) {
                m.insert(
                    "Remind_At".into(),
                    e.reminder_minutes
                        .map(|mins| {
                            json!(render_datetime(
                                e.start - Duration::minutes(i64::from(mins)),
                                ctx.tz
                            ))
                        })
                        .unwrap_or(Value::Null),
                );
            }
        }
    }
    (m, notes)
}

/// The fields metadata of one module that the connector uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldsMeta {
    /// Max length per field API name (text fields).
    pub lengths: HashMap<String, usize>,
    /// Every field API name the module has.
    pub names: Vec<String>,
}

impl FieldsMeta {
    /// Reads `GET /settings/fields?module=` (`{"fields": [{api_name, length, …}]}`).
    pub fn parse(v: &Value) -> FieldsMeta {
        let mut meta = FieldsMeta::default();
        for f in v
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = f.get("api_name").and_then(Value::as_str) else {
                continue;
            };
            meta.names.push(name.to_string());
            let ty = f.get("data_type").and_then(Value::as_str).unwrap_or("text");
            if matches!(ty, "text" | "textarea" | "email" | "phone" | "website") {
                if let Some(l) = f.get("length").and_then(Value::as_u64) {
                    meta.lengths.insert(name.to_string(), l as usize);
                }
            }
        }
        meta
    }

    /// Whether the module has this field.
    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }
}

/// The canonical schema of what Zoho holds for a kind, with the org's text limits.
pub fn schema(kind: Kind, meta: &FieldsMeta) -> FieldSchema {
    let mut fields = FieldSet::all(kind);
    let limits: &[(&str, TextField)] = match kind {
        Kind::Contact => {
            fields.remove(Field::HomeAddress);
            fields.remove(Field::ContactCategories);
            &[
                ("First_Name", TextField::GivenName),
                ("Last_Name", TextField::FamilyName),
                ("Email", TextField::Email),
                ("Phone", TextField::Phone),
                ("Title", TextField::JobTitle),
                ("Department", TextField::Department),
                ("Mailing_Street", TextField::Street),
                ("Mailing_City", TextField::City),
                ("Mailing_State", TextField::State),
                ("Mailing_Zip", TextField::PostalCode),
                ("Mailing_Country", TextField::Country),
                ("Description", TextField::ContactNotes),
            ]
        }
        Kind::Task => &[
            ("Subject", TextField::TaskTitle),
            ("Description", TextField::TaskNotes),
        ],
        Kind::Event => {
            fields.remove(Field::EventCategories);
            fields.remove(Field::EventSensitivity);
            &[
                ("Event_Title", TextField::EventTitle),
                ("Description", TextField::EventNotes),
                ("Venue", TextField::Location),
            ]
        }
    };
    let text_limits = limits
        .iter()
        .filter_map(|(api, tf)| {
            meta.lengths.get(*api).map(|max| TextLimit {
                field: *tf,
                max: *max,
                unit: LengthUnit::Chars,
            })
        })
        .collect();
    FieldSchema {
        fields,
        text_limits,
        max_emails: (kind == Kind::Contact).then_some(2),
        max_phones: if kind == Kind::Contact {
            PhoneKind::ALL.iter().map(|k| (*k, 1)).collect()
        } else {
            vec![]
        },
        keeps_event_zone: kind != Kind::Event,
    }
}

/// Checks a body before sending: mandatory fields (creates) and lengths in characters.
pub fn validate(
    kind: Kind,
    body: &Map<String, Value>,
    meta: &FieldsMeta,
    create: bool,
) -> Result<(), RecordError> {
    for f in mandatory_fields(kind) {
        let present = body
            .get(*f)
            .is_some_and(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()));
        if !present && (create || body.contains_key(*f)) {
            return Err(RecordError::invalid(
                *f,
                format!("Zoho requires {f}; the record has none"),
            ));
        }
    }
    for (k, v) in body {
        if let (Some(text), Some(max)) = (v.as_str(), meta.lengths.get(k)) {
            let n = text.chars().count();
            if n > *max {
                return Err(RecordError::invalid(
                    k.clone(),
                    format!("{k} is {n} characters long; Zoho allows {max}"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> MapContext {
        MapContext {
            tz: "Asia/Kolkata".parse().unwrap(),
            sync_field: Some("CRMSync_Id".into()),
        }
    }

    #[test]
    fn contact_fixture_reads() {
        let v = json!({
            "id": "4876876000000333001", "Owner": {"name": "Olivia", "id": "1", "email": "o@x"},
            "First_Name": "Ada", "Last_Name": "Lovelace", "Email": "ada@example.com",
            "Secondary_Email": "ada@home.example", "Phone": "+44 1", "Mobile": "+44 2",
            "Account_Name": {"name": "Analytical Engines", "id": "77"},
            "Mailing_City": "London", "Date_of_Birth": "1815-12-10",
            "Modified_Time": "2021-05-02T11:17:33+05:30", "CRMSync_Id": "abc",
            "$approval_state": "approved", "$editable": true, "$zia_visions": null
        });
        let r = from_zoho(Kind::Contact, &v, &ctx()).unwrap();
        assert_eq!(r.version, "2021-05-02T11:17:33+05:30");
        assert_eq!(
            r.modified_at.unwrap().to_rfc3339(),
            "2021-05-02T05:47:33+00:00"
        );
        assert_eq!(r.sync_id, Some(SyncId("abc".into())));
        let Record::Contact(c) = (*r.record).clone() else {
            panic!()
        };
        assert_eq!(c.emails.len(), 2);
        assert_eq!(c.company, "Analytical Engines");
        assert_eq!(c.business_address.unwrap().city, "London");
        assert_eq!(c.birthday, NaiveDate::from_ymd_opt(1815, 12, 10));
    }

    #[test]
    fn last_name_is_derived() {
        let c = Contact {
            emails: vec!["grace@example.com".into()],
            ..Default::default()
        };
        let (m, notes) = to_zoho(
            &Record::Contact(c),
            FieldSet::all(Kind::Contact),
            &ctx(),
            None,
        );
        assert_eq!(m["Last_Name"], "grace");
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn task_fixture_reads_alarm_and_rrule() {
        let v = json!({"id": "1", "Subject": "Call", "Due_Date": "2020-05-02", "Status": "Waiting on someone else",
            "Priority": "Lowest", "Modified_Time": "2020-05-01T10:00:00Z",
            "Remind_At": {"ALARM": "FREQ=NONE;ACTION=EMAILANDPOPUP;TRIGGER=DATE-TIME:2020-05-01T11:00:00+05:30"},
            "Recurring_Activity": {"RRULE": "FREQ=WEEKLY;INTERVAL=1;UNTIL=2020-05-16;BYDAY=SA;DTSTART=2020-05-02"}});
        let Record::Task(t) = (*from_zoho(Kind::Task, &v, &ctx()).unwrap().record).clone() else {
            panic!()
        };
        assert_eq!(t.status, TaskStatus::WaitingOnOthers);
        assert_eq!(t.priority, Priority::Lowest);
        assert_eq!(
            t.reminder.unwrap().to_rfc3339(),
            "2020-05-01T05:30:00+00:00"
        );
        let r = t.recurrence.clone().unwrap();
        assert_eq!(
            r.end,
            RecurrenceEnd::Until(NaiveDate::from_ymd_opt(2020, 5, 16).unwrap())
        );
        let (m, _) = to_zoho(&Record::Task(t), FieldSet::all(Kind::Task), &ctx(), None);
        assert_eq!(
            m["Recurring_Activity"]["RRULE"],
            "FREQ=WEEKLY;INTERVAL=1;BYDAY=SA;UNTIL=2020-05-16;DTSTART=2020-05-02"
        );
    }

    #[test]
    fn event_fixture_reads_offsets_and_participants() {
        let v = json!({"id": "9", "Event_Title": "Demo", "Start_DateTime": "2020-02-01T10:00:00+05:30",
            "End_DateTime": "2020-02-01T04:30:00Z", "All_day": false, "Modified_Time": "2020-02-01T00:00:00+05:30",
            "Remind_At": "2020-02-01T09:45:00+05:30",
            "Participants": [{"Email": "p@example.com", "name": "Pat", "invited": false, "type": "email", "participant": "p@example.com", "status": "not_known"}]});
        let Record::Event(e) = (*from_zoho(Kind::Event, &v, &ctx()).unwrap().record).clone() else {
            panic!()
        };
        assert_eq!(e.start, e.end - Duration::hours(0));
        assert_eq!(e.reminder_minutes, Some(15));
        assert_eq!(e.time_zone, "Asia/Kolkata");
        assert_eq!(e.attendees[0].email, "p@example.com");
        let v2 = json!({"id": "9", "Event_Title": "x", "Start_DateTime": "2020-02-01T10:00:00+05:30", "End_DateTime": "2020-02-01T11:00:00+05:30", "Remind_At": [{"unit": 1, "period": "hours"}]});
        let Record::Event(e2) = (*from_zoho(Kind::Event, &v2, &ctx()).unwrap().record).clone()
        else {
            panic!()
        };
        assert_eq!(e2.reminder_minutes, Some(60));
    }

    #[test]
    fn validation_before_sending() {
        let meta = FieldsMeta::parse(
            &json!({"fields": [{"api_name": "Last_Name", "data_type": "text", "length": 5}]}),
        );
        let mut m = Map::new();
        assert_eq!(
            validate(Kind::Contact, &m, &meta, true)
                .unwrap_err()
                .field
                .as_deref(),
            Some("Last_Name")
        );
        m.insert("Last_Name".into(), json!("漢字漢字漢"));
        assert!(validate(Kind::Contact, &m, &meta, true).is_ok());
        m.insert("Last_Name".into(), json!("漢字漢字漢字"));
        assert!(validate(Kind::Contact, &m, &meta, true).is_err());
        let s = schema(Kind::Contact, &meta);
        assert_eq!(s.max_emails, Some(2));
        assert!(!s.fields.contains(Field::HomeAddress));
        assert_eq!(s.text_limits[0].unit, LengthUnit::Chars);
    }

    proptest::proptest! {
        #[test]
        fn contact_round_trips_what_zoho_holds(
            given in "[a-zA-Z漢字😀]{0,8}",
            family in "[a-zA-Z漢字😀]{1,8}",
            emails in proptest::collection::vec("[a-z]{1,6}@example\\.com", 0..3),
            mobile in proptest::option::of("\\+[0-9]{4,10}"),
            title in "[a-zA-Z漢字😀]{0,8}",
            notes in "([a-zA-Z漢字😀][a-zA-Z漢字😀\n]{0,19})?",
            city in "[a-zA-Z漢字]{0,8}",
        ) {
            let c = Contact {
                given_name: given,
                family_name: family,
                emails,
                phones: mobile.into_iter().map(|n| Phone { kind: PhoneKind::Mobile, number: n }).collect(),
                job_title: title,
                notes,
                other_address: (!city.is_empty()).then(|| Box::new(Address { city, ..Default::default() })),
                ..Default::default()
            };
            let rec = Record::Contact(c);
            let sch = schema(Kind::Contact, &FieldsMeta::default());
            let (expected, _) = sch.project(&rec);
            let (mut body, _) = to_zoho(&rec, sch.fields, &ctx(), None);
            body.insert("id".into(), json!("1"));
            let back = from_zoho(Kind::Contact, &Value::Object(body), &ctx()).unwrap().record;
            proptest::prop_assert_eq!(&*back, &expected);
        }

        #[test]
        fn task_round_trips_what_zoho_holds(
            title in "[a-zA-Z漢字😀][a-zA-Z漢字😀 ]{0,10}",
            notes in "([a-zA-Z漢字😀][a-zA-Z漢字😀\n]{0,19})?",
            due_days in proptest::option::of(0i64..800),
            status in 0usize..5,
            priority in 0usize..5,
            reminder_min in proptest::option::of(0i64..500_000),
        ) {
            use crmsync_core::{Priority, TaskStatus};
            let statuses = [TaskStatus::NotStarted, TaskStatus::InProgress, TaskStatus::Completed,
                TaskStatus::WaitingOnOthers, TaskStatus::Deferred];
            let priorities = [Priority::Lowest, Priority::Low, Priority::Normal, Priority::High,
                Priority::Highest];
            let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
            let t = crmsync_core::Task {
                title: title.trim().to_string(),
                notes,
                due: due_days.map(|d| base + Duration::days(d)),
                status: statuses[status],
                priority: priorities[priority],
                reminder: reminder_min.map(|m| Utc.timestamp_opt(1_767_225_600 + m * 60, 0).unwrap()),
                ..Default::default()
            };
            let rec = Record::Task(t);
            let sch = schema(Kind::Task, &FieldsMeta::default());
            let (expected, _) = sch.project(&rec);
            let (mut body, _) = to_zoho(&rec, sch.fields, &ctx(), None);
            body.insert("id".into(), json!("1"));
            let back = from_zoho(Kind::Task, &Value::Object(body), &ctx()).unwrap().record;
            proptest::prop_assert_eq!(&*back, &expected);
        }

        #[test]
        fn event_round_trips_what_zoho_holds(
            title in "[a-zA-Z漢字😀][a-zA-Z漢字😀 ]{0,10}",
            notes in "([a-zA-Z漢字😀][a-zA-Z漢字😀\n]{0,19})?",
            location in "[a-zA-Z漢字]{0,8}",
            start_min in 0i64..500_000,
            length_min in 1i64..600,
            reminder in proptest::option::of(0u32..2880),
            weekly in proptest::bool::ANY,
        ) {
            let start = Utc.timestamp_opt(1_767_225_600 + start_min * 60, 0).unwrap();
            let e = crmsync_core::Event {
                title: title.trim().to_string(),
                notes,
                location,
                start,
                end: start + Duration::minutes(length_min),
                time_zone: "Asia/Kolkata".into(),
                reminder_minutes: reminder,
                recurrence: weekly.then(|| crmsync_core::Recurrence::parse_rrule("FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TH;COUNT=6").unwrap()),
                ..Default::default()
            };
            let rec = Record::Event(e);
            let sch = schema(Kind::Event, &FieldsMeta::default());
            let (expected, _) = sch.project(&rec);
            let (mut body, _) = to_zoho(&rec, sch.fields, &ctx(), None);
            body.insert("id".into(), json!("1"));
            let back = from_zoho(Kind::Event, &Value::Object(body), &ctx()).unwrap().record;
            // Zoho keeps offsets, not zone names: the zone read back is the Zoho user's.
            let mut expected = expected;
            if let Record::Event(x) = &mut expected {
                x.time_zone = "Asia/Kolkata".into();
            }
            proptest::prop_assert_eq!(&*back, &expected);
        }
    }
}
