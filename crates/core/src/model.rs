//! The canonical model: what a contact, a task and an event are, whichever service holds them.
//!
//! API Boundary: these types are what connectors map to and from, what the planner compares and
//! what the FFI exposes. Every field is optional or has an "empty" value so that a service that
//! cannot hold a field simply leaves it empty.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The three kinds of record crmsync keeps in sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Zoho Contacts ↔ Outlook contacts of one folder.
    Contact,
    /// Zoho Tasks ↔ Microsoft To Do tasks of one list.
    Task,
    /// Zoho Events (Meetings) ↔ Outlook calendar events.
    Event,
}

impl Kind {
    /// All kinds, in the order a full sync handles them.
    pub const ALL: [Kind; 3] = [Kind::Contact, Kind::Task, Kind::Event];

    /// The position of a kind in [`Kind::ALL`] (for per-kind arrays).
    pub fn index(self) -> usize {
        match self {
            Kind::Contact => 0,
            Kind::Task => 1,
            Kind::Event => 2,
        }
    }

    /// A stable lower-case name, used in the state store, cursors and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Contact => "contact",
            Kind::Task => "task",
            Kind::Event => "event",
        }
    }

    /// Parses [`Kind::as_str`] (also accepts the plural).
    pub fn parse(s: &str) -> Option<Kind> {
        match s.trim().to_ascii_lowercase().trim_end_matches('s') {
            "contact" => Some(Kind::Contact),
            "task" => Some(Kind::Task),
            "event" => Some(Kind::Event),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the two services being synced. The engine holds one connector per side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Zoho CRM.
    Zoho,
    /// Microsoft Outlook (Graph), or a host connector standing in its place.
    Outlook,
}

impl Side {
    /// Both sides.
    pub const BOTH: [Side; 2] = [Side::Zoho, Side::Outlook];

    /// `0` for Zoho, `1` for Outlook: the position of a side in `[zoho, outlook]` pairs.
    pub fn index(self) -> usize {
        match self {
            Side::Zoho => 0,
            Side::Outlook => 1,
        }
    }

    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Zoho => Side::Outlook,
            Side::Outlook => Side::Zoho,
        }
    }

    /// A stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Zoho => "zoho",
            Side::Outlook => "outlook",
        }
    }

    /// Parses [`Side::as_str`].
    pub fn parse(s: &str) -> Option<Side> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zoho" => Some(Side::Zoho),
            "outlook" => Some(Side::Outlook),
            _ => None,
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record of any kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// A contact.
    Contact(Contact),
    /// A task.
    Task(Task),
    /// A calendar event.
    Event(Event),
}

impl Record {
    /// The kind of this record.
    pub fn kind(&self) -> Kind {
        match self {
            Record::Contact(_) => Kind::Contact,
            Record::Task(_) => Kind::Task,
            Record::Event(_) => Kind::Event,
        }
    }

    /// An empty record of the given kind.
    pub fn empty(kind: Kind) -> Record {
        match kind {
            Kind::Contact => Record::Contact(Contact::default()),
            Kind::Task => Record::Task(Task::default()),
            Kind::Event => Record::Event(Event::default()),
        }
    }

    /// A short, non-personal label for logs and reports: the kind only. Personal data (names,
    /// e-mails) never goes into logs or errors; reports carry ids.
    pub fn label(&self) -> &'static str {
        self.kind().as_str()
    }

    /// A human title for the UI's report (the contact's display name, the task or event title).
    pub fn title(&self) -> String {
        match self {
            Record::Contact(c) => c.display(),
            Record::Task(t) => t.title.clone(),
            Record::Event(e) => e.title.clone(),
        }
    }
}

/// Kind of a telephone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    /// Work phone.
    Business,
    /// Home phone.
    Home,
    /// Mobile phone.
    Mobile,
    /// Any other phone (fax, assistant…).
    Other,
}

impl PhoneKind {
    /// All phone kinds, in canonical order.
    pub const ALL: [PhoneKind; 4] = [
        PhoneKind::Business,
        PhoneKind::Home,
        PhoneKind::Mobile,
        PhoneKind::Other,
    ];
}

/// A telephone number with its kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Phone {
    /// Business, home, mobile or other.
    pub kind: PhoneKind,
    /// The number as the user typed it.
    pub number: String,
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    /// Street lines, newline separated.
    pub street: String,
    /// City.
    pub city: String,
    /// State or province.
    pub state: String,
    /// Postal code.
    pub postal_code: String,
    /// Country or region.
    pub country: String,
}

impl Address {
    /// True when every part is blank.
    pub fn is_empty(&self) -> bool {
        [
            &self.street,
            &self.city,
            &self.state,
            &self.postal_code,
            &self.country,
        ]
        .iter()
        .all(|s| s.trim().is_empty())
    }
}

/// A person in the CRM / address book.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Contact {
    /// Given (first) name.
    pub given_name: String,
    /// Middle name.
    pub middle_name: String,
    /// Family (last) name.
    pub family_name: String,
    /// Display name ("File as"); empty means "derive from the parts".
    pub display_name: String,
    /// Up to three e-mail addresses, the primary first.
    pub emails: Vec<String>,
    /// Telephone numbers by kind.
    pub phones: Vec<Phone>,
    /// Company (Zoho: the Account_Name lookup, by name).
    pub company: String,
    /// Job title.
    pub job_title: String,
    /// Department.
    pub department: String,
    /// Business (Zoho: mailing) address.
    pub business_address: Option<Box<Address>>,
    /// Home address.
    pub home_address: Option<Box<Address>>,
    /// Other address.
    pub other_address: Option<Box<Address>>,
    /// Birthday, a calendar date.
    pub birthday: Option<NaiveDate>,
    /// Free-text notes.
    pub notes: String,
    /// Categories (Outlook) / tags.
    pub categories: Vec<String>,
}

impl Contact {
    /// The display name, or one made from the name parts.
    pub fn display(&self) -> String {
        if !self.display_name.trim().is_empty() {
            return self.display_name.trim().to_string();
        }
        [&self.given_name, &self.middle_name, &self.family_name]
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Status of a task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Not started.
    #[default]
    NotStarted,
    /// In progress.
    InProgress,
    /// Completed.
    Completed,
    /// Waiting on someone else.
    WaitingOnOthers,
    /// Deferred.
    Deferred,
}

/// Priority of a task: five levels, so Zoho's five values round-trip.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Lowest.
    Lowest,
    /// Low.
    Low,
    /// Normal.
    #[default]
    Normal,
    /// High.
    High,
    /// Highest.
    Highest,
}

/// A to-do item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Task {
    /// Title (Zoho: Subject).
    pub title: String,
    /// Notes.
    pub notes: String,
    /// Due date: a calendar date, never an instant.
    pub due: Option<NaiveDate>,
    /// Start date.
    pub start: Option<NaiveDate>,
    /// Status.
    pub status: TaskStatus,
    /// Priority.
    pub priority: Priority,
    /// Reminder instant.
    pub reminder: Option<DateTime<Utc>>,
    /// When the task was completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Recurrence.
    pub recurrence: Option<Recurrence>,
}

/// Whether an attendee is required.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttendeeKind {
    /// Required attendee.
    #[default]
    Required,
    /// Optional attendee.
    Optional,
}

/// An invitee of an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Attendee {
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Required or optional.
    pub kind: AttendeeKind,
}

/// Sensitivity of an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Normal.
    #[default]
    Normal,
    /// Personal.
    Personal,
    /// Private.
    Private,
    /// Confidential.
    Confidential,
}

/// A calendar event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Event {
    /// Title (Zoho: Event_Title, Graph: subject).
    pub title: String,
    /// Notes / body as plain text.
    pub notes: String,
    /// Start instant.
    pub start: DateTime<Utc>,
    /// End instant.
    pub end: DateTime<Utc>,
    /// IANA zone the event was scheduled in ("UTC" when unknown).
    pub time_zone: String,
    /// All-day event: start and end are midnights in `time_zone`.
    pub all_day: bool,
    /// Location (Zoho: Venue).
    pub location: String,
    /// Attendees.
    pub attendees: Vec<Attendee>,
    /// Reminder, minutes before the start.
    pub reminder_minutes: Option<u32>,
    /// Recurrence of a series master.
    pub recurrence: Option<Recurrence>,
    /// Outlook categories.
    pub categories: Vec<String>,
    /// Sensitivity (private and confidential events stay out of Zoho by default).
    pub sensitivity: Sensitivity,
    /// False when the mailbox owner is not the organiser (such events sync Outlook → Zoho only).
    pub is_organizer: bool,
}

impl Default for Event {
    fn default() -> Self {
        Event {
            title: String::new(),
            notes: String::new(),
            start: DateTime::<Utc>::UNIX_EPOCH,
            end: DateTime::<Utc>::UNIX_EPOCH,
            time_zone: "UTC".into(),
            all_day: false,
            location: String::new(),
            attendees: Vec::new(),
            reminder_minutes: None,
            recurrence: None,
            categories: Vec::new(),
            sensitivity: Sensitivity::Normal,
            is_organizer: true,
        }
    }
}

/// Frequency of a recurrence (the canonical RRULE subset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// Every `interval` days.
    Daily,
    /// Every `interval` weeks on `weekdays`.
    Weekly,
    /// Every `interval` months on `month_day`, or on the `nth` `weekdays`.
    Monthly,
    /// Every `interval` years on `month` / `month_day`.
    Yearly,
}

/// Day of the week, Monday first as in ISO 8601.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    /// Monday (RRULE `MO`).
    Mo,
    /// Tuesday.
    Tu,
    /// Wednesday.
    We,
    /// Thursday.
    Th,
    /// Friday.
    Fr,
    /// Saturday.
    Sa,
    /// Sunday.
    Su,
}

impl Weekday {
    /// All weekdays, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mo,
        Weekday::Tu,
        Weekday::We,
        Weekday::Th,
        Weekday::Fr,
        Weekday::Sa,
        Weekday::Su,
    ];

    /// The RRULE two-letter code.
    pub fn code(self) -> &'static str {
        match self {
            Weekday::Mo => "MO",
            Weekday::Tu => "TU",
            Weekday::We => "WE",
            Weekday::Th => "TH",
            Weekday::Fr => "FR",
            Weekday::Sa => "SA",
            Weekday::Su => "SU",
        }
    }
}

/// When a recurrence stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum RecurrenceEnd {
    /// Never.
    #[default]
    Never,
    /// On this date (inclusive).
    Until(NaiveDate),
    /// After this many occurrences.
    Count(u32),
}

/// A recurrence rule: the subset of RFC 5545 RRULE that both Zoho and Graph can express.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Recurrence {
    /// Frequency.
    pub frequency: Frequency,
    /// Every n-th day/week/month/year (≥ 1).
    pub interval: u32,
    /// Days of the week (weekly; monthly/yearly by nth weekday).
    #[serde(default)]
    pub weekdays: Vec<Weekday>,
    /// Day of the month (monthly/yearly by day).
    #[serde(default)]
    pub month_day: Option<u8>,
    /// Which week of the month (1–4, or -1 for the last) for "the 2nd Tuesday".
    #[serde(default)]
    pub nth: Option<i8>,
    /// Month of the year (yearly).
    #[serde(default)]
    pub month: Option<u8>,
    /// End of the series.
    #[serde(default)]
    pub end: RecurrenceEnd,
}

impl Recurrence {
    /// Renders the rule as an RRULE value (`FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE`).
    pub fn to_rrule(&self) -> String {
        let freq = match self.frequency {
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
            Frequency::Yearly => "YEARLY",
        };
        let mut parts = vec![
            format!("FREQ={freq}"),
            format!("INTERVAL={}", self.interval),
        ];
        if !self.weekdays.is_empty() {
            let mut days: Vec<_> = self.weekdays.clone();
            days.sort();
            days.dedup();
            let days: Vec<_> = days.iter().map(|d| d.code()).collect();
            parts.push(format!("BYDAY={}", days.join(",")));
        }
        if let Some(n) = self.nth {
            parts.push(format!("BYSETPOS={n}"));
        }
        if let Some(d) = self.month_day {
            parts.push(format!("BYMONTHDAY={d}"));
        }
        if let Some(m) = self.month {
            parts.push(format!("BYMONTH={m}"));
        }
        match self.end {
            RecurrenceEnd::Never => {}
            RecurrenceEnd::Until(d) => parts.push(format!("UNTIL={}", d.format("%Y%m%d"))),
            RecurrenceEnd::Count(c) => parts.push(format!("COUNT={c}")),
        }
        parts.join(";")
    }

    /// Parses the canonical subset of an RRULE value (with or without the `RRULE:` prefix).
    ///
    /// Hand-written rather than using the `rrule` crate because we need the *subset* check
    /// (anything outside it is an error the caller reports) and a lossless mapping to our fields,
    /// not occurrence expansion; the `rrule` crate is used in tests to check occurrences.
    pub fn parse_rrule(s: &str) -> Result<Recurrence, String> {
        let s = s.trim();
        let s = s.strip_prefix("RRULE:").unwrap_or(s);
        let mut rec = Recurrence {
            frequency: Frequency::Daily,
            interval: 1,
            weekdays: vec![],
            month_day: None,
            nth: None,
            month: None,
            end: RecurrenceEnd::Never,
        };
        let mut freq = None;
        for part in s.split(';').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("malformed RRULE part {part:?}"))?;
            match k.to_ascii_uppercase().as_str() {
                "FREQ" => {
                    freq = Some(match v.to_ascii_uppercase().as_str() {
                        "DAILY" => Frequency::Daily,
                        "WEEKLY" => Frequency::Weekly,
                        "MONTHLY" => Frequency::Monthly,
                        "YEARLY" => Frequency::Yearly,
                        other => return Err(format!("unsupported FREQ {other}")),
                    })
                }
                "INTERVAL" => {
                    rec.interval = v.parse().map_err(|_| format!("bad INTERVAL {v:?}"))?;
                    if rec.interval == 0 {
                        return Err("INTERVAL must be at least 1".into());
                    }
                }
                "BYDAY" => {
                    for d in v.split(',') {
                        let d = d.trim().to_ascii_uppercase();
                        // "2TU" / "-1FR": an nth weekday written inline.
                        let (num, code) = d.split_at(d.len().saturating_sub(2));
                        if !num.is_empty() {
                            rec.nth = Some(num.parse().map_err(|_| format!("bad BYDAY {d:?}"))?);
                        }
                        let day = Weekday::ALL
                            .into_iter()
                            .find(|w| w.code() == code)
                            .ok_or_else(|| format!("bad BYDAY {d:?}"))?;
                        rec.weekdays.push(day);
                    }
                }
                "BYSETPOS" => rec.nth = Some(v.parse().map_err(|_| format!("bad BYSETPOS {v:?}"))?),
                "BYMONTHDAY" => {
                    rec.month_day = Some(v.parse().map_err(|_| format!("bad BYMONTHDAY {v:?}"))?)
                }
                "BYMONTH" => rec.month = Some(v.parse().map_err(|_| format!("bad BYMONTH {v:?}"))?),
                "COUNT" => {
                    rec.end =
                        RecurrenceEnd::Count(v.parse().map_err(|_| format!("bad COUNT {v:?}"))?)
                }
                "UNTIL" => {
                    let date = v.get(..8).unwrap_or(v);
                    let d = NaiveDate::parse_from_str(date, "%Y%m%d")
                        .or_else(|_| NaiveDate::parse_from_str(v, "%Y-%m-%d"))
                        .map_err(|_| format!("bad UNTIL {v:?}"))?;
                    rec.end = RecurrenceEnd::Until(d);
                }
                "WKST" | "DTSTART" => {}
                other => return Err(format!("unsupported RRULE part {other}")),
            }
        }
        rec.frequency = freq.ok_or("RRULE without FREQ")?;
        rec.weekdays.sort();
        rec.weekdays.dedup();
        Ok(rec)
    }
}

/// A hash map with a fast hasher (foldhash): SipHash's resistance to chosen keys buys nothing
/// for ids and sync ids a signed-in service hands out, and the engine hashes every listed id.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A hash set with the hasher of [`FastMap`].
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// A map keyed by record id.
pub type IdMap<V> = FastMap<String, V>;

/// A set of record ids.
pub type IdSet<'a> = FastSet<&'a str>;

/// Positions of entries in a list, found by the id each entry holds: 4 bytes an entry, where a
/// map keyed by a copy of the id takes a slot of key and value and leaves a quarter of them
/// empty. The list is the caller's; every call is given a way to read the id at a position
/// (`None` for a position that holds nothing).
#[derive(Debug, Clone, Default)]
pub struct IdPositions {
    table: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl IdPositions {
    /// Room for `n` positions.
    pub fn with_capacity(n: usize) -> Self {
        IdPositions {
            table: hashbrown::HashTable::with_capacity(n),
            hasher: Default::default(),
        }
    }

    fn hash(&self, id: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(id)
    }

    /// The position holding `id`.
    pub fn find<'a>(&self, id: &str, id_at: impl Fn(usize) -> Option<&'a str>) -> Option<usize> {
        self.table
            .find(self.hash(id), |&k| id_at(k as usize) == Some(id))
            .map(|&k| k as usize)
    }

    /// Records that position `n` holds `id` (not held at any other position).
    pub fn insert<'a>(&mut self, id: &str, n: usize, id_at: impl Fn(usize) -> Option<&'a str>) {
        let h = self.hash(id);
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let hasher = &self.hasher;
        self.table.insert_unique(h, n, |&k| {
            use std::hash::BuildHasher;
            hasher.hash_one(id_at(k as usize).unwrap_or_default())
        });
    }

    /// The position holding `id`; when none does, records that position `n` now holds it and
    /// answers `None` (one hash of `id` for both).
    pub fn find_or_insert<'a>(
        &mut self,
        id: &str,
        n: usize,
        id_at: impl Fn(usize) -> Option<&'a str>,
    ) -> Option<usize> {
        use std::hash::BuildHasher;
        let h = self.hash(id);
        let hasher = &self.hasher;
        match self.table.entry(
            h,
            |&k| id_at(k as usize) == Some(id),
            |&k| hasher.hash_one(id_at(k as usize).unwrap_or_default()),
        ) {
            hashbrown::hash_table::Entry::Occupied(e) => Some(*e.get() as usize),
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(u32::try_from(n).unwrap_or(u32::MAX));
                None
            }
        }
    }

    /// Forgets the position holding `id`, returning it.
    pub fn remove<'a>(
        &mut self,
        id: &str,
        id_at: impl Fn(usize) -> Option<&'a str>,
    ) -> Option<usize> {
        let entry = self
            .table
            .find_entry(self.hash(id), |&k| id_at(k as usize) == Some(id))
            .ok()?;
        let (n, _) = entry.remove();
        Some(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrule_round_trips() {
        for s in [
            "FREQ=DAILY;INTERVAL=2;COUNT=5",
            "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE,FR;UNTIL=20271231",
            "FREQ=MONTHLY;INTERVAL=1;BYDAY=TU;BYSETPOS=2",
            "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15",
            "FREQ=YEARLY;INTERVAL=1;BYMONTHDAY=1;BYMONTH=4",
        ] {
            let r = Recurrence::parse_rrule(s).unwrap();
            assert_eq!(r.to_rrule(), s);
        }
    }

    #[test]
    fn rrule_inline_nth_weekday() {
        let r = Recurrence::parse_rrule("RRULE:FREQ=MONTHLY;BYDAY=-1FR").unwrap();
        assert_eq!(r.nth, Some(-1));
        assert_eq!(r.weekdays, vec![Weekday::Fr]);
    }

    #[test]
    fn rrule_rejects_outside_subset() {
        assert!(Recurrence::parse_rrule("FREQ=HOURLY").is_err());
        assert!(Recurrence::parse_rrule("FREQ=DAILY;BYHOUR=3").is_err());
        assert!(Recurrence::parse_rrule("INTERVAL=2").is_err());
    }

    #[test]
    fn kind_parse() {
        assert_eq!(Kind::parse("contacts"), Some(Kind::Contact));
        assert_eq!(Kind::parse("Event"), Some(Kind::Event));
        assert_eq!(Kind::parse("x"), None);
    }
}
