//! Fields, field sets, normalisation, the stable per-field content hash, and field schemas.
//!
//! A *field* here is a unit of merging: coupled values merge as one (a contact's name parts, an
//! event's start / end / zone / all-day / recurrence). The engine stores, per side, the hash of
//! each field as that side last returned it, and finds a side's edits by comparing against that
//! side's own baseline.
//!
//! The hash is persisted, so its algorithm is fixed: the canonical encoding below (version
//! [`HASH_SCHEME`]) hashed with XXH3-64 (a specified, platform-independent algorithm with a
//! fixed seed of 0). Changing the encoding means bumping `HASH_SCHEME`.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use crate::model::{Address, Contact, Event, Kind, Phone, PhoneKind, Record, Task};

/// Version of the field-hash encoding. Stored with the state so a future change is detected.
pub const HASH_SCHEME: u32 = 1;

macro_rules! fields {
    ($( $(#[$doc:meta])* $name:ident = $idx:literal, $kind:ident, $str:literal; )*) => {
        /// A mergeable unit of a record. The numeric values are persisted: append only.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Field {
            $( $(#[$doc])* $name = $idx, )*
        }

        impl Field {
            /// Every field of every kind.
            pub const ALL: &'static [Field] = &[$(Field::$name),*];

            /// The kind this field belongs to.
            pub fn kind(self) -> Kind {
                match self { $(Field::$name => Kind::$kind,)* }
            }

            /// A stable name, used in plans, reports and settings.
            pub fn name(self) -> &'static str {
                match self { $(Field::$name => $str,)* }
            }

            /// Parses [`Field::name`] for the given kind.
            pub fn parse(kind: Kind, s: &str) -> Option<Field> {
                Field::ALL.iter().copied().find(|f| f.kind() == kind && f.name() == s)
            }
        }
    };
}

fields! {
    /// Contact given, middle, family and display name, merged as one.
    Name = 0, Contact, "name";
    /// Contact e-mail addresses (ordered, primary first).
    Emails = 1, Contact, "emails";
    /// Contact phone numbers.
    Phones = 2, Contact, "phones";
    /// Contact company.
    Company = 3, Contact, "company";
    /// Contact job title.
    JobTitle = 4, Contact, "job_title";
    /// Contact department.
    Department = 5, Contact, "department";
    /// Business address.
    BusinessAddress = 6, Contact, "business_address";
    /// Home address.
    HomeAddress = 7, Contact, "home_address";
    /// Other address.
    OtherAddress = 8, Contact, "other_address";
    /// Birthday.
    Birthday = 9, Contact, "birthday";
    /// Contact notes.
    ContactNotes = 10, Contact, "notes";
    /// Contact categories.
    ContactCategories = 11, Contact, "categories";
    /// Task title.
    TaskTitle = 16, Task, "title";
    /// Task notes.
    TaskNotes = 17, Task, "notes";
    /// Task due date, start date and recurrence, merged as one.
    TaskSchedule = 18, Task, "schedule";
    /// Task status and completion instant, merged as one.
    TaskStatus = 19, Task, "status";
    /// Task priority.
    TaskPriority = 20, Task, "priority";
    /// Task reminder.
    TaskReminder = 21, Task, "reminder";
    /// Event title.
    EventTitle = 32, Event, "title";
    /// Event notes.
    EventNotes = 33, Event, "notes";
    /// Event start, end, zone, all-day flag and recurrence, merged as one.
    EventWhen = 34, Event, "when";
    /// Event location.
    EventLocation = 35, Event, "location";
    /// Event attendees.
    EventAttendees = 36, Event, "attendees";
    /// Event reminder.
    EventReminder = 37, Event, "reminder";
    /// Event categories.
    EventCategories = 38, Event, "categories";
    /// Event sensitivity.
    EventSensitivity = 39, Event, "sensitivity";
}

impl Field {
    /// The fields of one kind, in hash-vector order.
    pub fn of(kind: Kind) -> &'static [Field] {
        const CONTACT: &[Field] = &[
            Field::Name,
            Field::Emails,
            Field::Phones,
            Field::Company,
            Field::JobTitle,
            Field::Department,
            Field::BusinessAddress,
            Field::HomeAddress,
            Field::OtherAddress,
            Field::Birthday,
            Field::ContactNotes,
            Field::ContactCategories,
        ];
        const TASK: &[Field] = &[
            Field::TaskTitle,
            Field::TaskNotes,
            Field::TaskSchedule,
            Field::TaskStatus,
            Field::TaskPriority,
            Field::TaskReminder,
        ];
        const EVENT: &[Field] = &[
            Field::EventTitle,
            Field::EventNotes,
            Field::EventWhen,
            Field::EventLocation,
            Field::EventAttendees,
            Field::EventReminder,
            Field::EventCategories,
            Field::EventSensitivity,
        ];
        match kind {
            Kind::Contact => CONTACT,
            Kind::Task => TASK,
            Kind::Event => EVENT,
        }
    }

    fn bit(self) -> u64 {
        1u64 << (self as u8)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}.{}", self.kind().as_str(), self.name()))
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let (k, n) = s
            .split_once('.')
            .ok_or_else(|| serde::de::Error::custom(format!("bad field {s:?}")))?;
        let kind =
            Kind::parse(k).ok_or_else(|| serde::de::Error::custom(format!("bad kind {k:?}")))?;
        Field::parse(kind, n).ok_or_else(|| serde::de::Error::custom(format!("bad field {s:?}")))
    }
}

/// A set of fields (a bit set; cheap to copy).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FieldSet(u64);

impl FieldSet {
    /// The empty set.
    pub const EMPTY: FieldSet = FieldSet(0);

    /// Every field of a kind.
    pub fn all(kind: Kind) -> FieldSet {
        Field::of(kind).iter().copied().collect()
    }

    /// True when empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Membership.
    pub fn contains(self, f: Field) -> bool {
        self.0 & f.bit() != 0
    }

    /// Adds a field.
    pub fn insert(&mut self, f: Field) {
        self.0 |= f.bit();
    }

    /// Removes a field.
    pub fn remove(&mut self, f: Field) {
        self.0 &= !f.bit();
    }

    /// Union.
    pub fn union(self, o: FieldSet) -> FieldSet {
        FieldSet(self.0 | o.0)
    }

    /// Intersection.
    pub fn intersect(self, o: FieldSet) -> FieldSet {
        FieldSet(self.0 & o.0)
    }

    /// Difference.
    pub fn minus(self, o: FieldSet) -> FieldSet {
        FieldSet(self.0 & !o.0)
    }

    /// Number of fields.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The fields, in `Field::ALL` order.
    pub fn iter(self) -> impl Iterator<Item = Field> {
        Field::ALL
            .iter()
            .copied()
            .filter(move |f| self.contains(*f))
    }
}

impl FromIterator<Field> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Field>>(it: I) -> Self {
        let mut s = FieldSet::EMPTY;
        for f in it {
            s.insert(f);
        }
        s
    }
}

impl fmt::Debug for FieldSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(|x| x.name()))
            .finish()
    }
}

impl Serialize for FieldSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for FieldSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<Field>::deserialize(d)?.into_iter().collect())
    }
}

/// The per-field hashes of one record as one side holds it, in [`Field::of`] order.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldHashes(pub Vec<u64>);

impl fmt::Debug for FieldHashes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|h| format!("{h:016x}")))
            .finish()
    }
}

impl FieldHashes {
    /// Hashes every field of a record.
    pub fn of(record: &Record) -> FieldHashes {
        // One encoding buffer for all fields: hashing is on the hot path of every sync.
        let mut e = Enc(Vec::with_capacity(128));
        let kind = record.kind();
        let empty = empty_hashes(kind);
        FieldHashes(
            Field::of(kind)
                .iter()
                .zip(empty)
                .map(|(f, empty)| {
                    // Most fields of most records are empty: their hash is known.
                    if holds_default(record, *f) {
                        return *empty;
                    }
                    e.0.clear();
                    encode_field(&mut e, record, *f);
                    xxhash_rust::xxh3::xxh3_64(&e.0)
                })
                .collect(),
        )
    }

    /// The hash of one field (0 when unknown).
    pub fn get(&self, kind: Kind, f: Field) -> u64 {
        Field::of(kind)
            .iter()
            .position(|x| *x == f)
            .and_then(|i| self.0.get(i).copied())
            .unwrap_or(0)
    }

    /// Replaces the hash of one field.
    pub fn set(&mut self, kind: Kind, f: Field, h: u64) {
        let n = Field::of(kind).len();
        if self.0.len() != n {
            self.0.resize(n, 0);
        }
        if let Some(i) = Field::of(kind).iter().position(|x| *x == f) {
            self.0[i] = h;
        }
    }

    /// The fields whose hash differs from `other`'s.
    pub fn diff(&self, kind: Kind, other: &FieldHashes) -> FieldSet {
        Field::of(kind)
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0.get(*i) != other.0.get(*i))
            .map(|(_, f)| *f)
            .collect()
    }

    /// Little-endian bytes, for storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|h| h.to_le_bytes()).collect()
    }

    /// Reverses [`FieldHashes::to_bytes`].
    pub fn from_bytes(b: &[u8]) -> FieldHashes {
        FieldHashes(
            b.chunks_exact(8)
                .map(|c| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(c);
                    u64::from_le_bytes(a)
                })
                .collect(),
        )
    }

    /// A compact form for storage: most fields of most records are empty, and an empty field
    /// always hashes to the same value ([`EMPTY_HASHES`]), so those cost one bit instead of
    /// eight bytes. The layout is the count `n` (one byte), a bitmap of `ceil(n / 8)` bytes
    /// (bit `i` set: field `i` holds its kind's empty hash), then the other hashes as
    /// little-endian `u64`s. Its length is never a multiple of 8, so [`FieldHashes::from_stored`]
    /// tells it from [`FieldHashes::to_bytes`], which it also reads; lists too long for the
    /// form (more than 48, which no kind has) are written that way.
    pub fn to_stored(&self, kind: Kind) -> Vec<u8> {
        let n = self.0.len();
        if n == 0 || n > 48 {
            return self.to_bytes();
        }
        let empty = empty_hashes(kind);
        let map_len = n.div_ceil(8);
        let mut out = Vec::with_capacity(1 + map_len + 8 * n);
        out.push(n as u8);
        out.resize(1 + map_len, 0);
        for (i, h) in self.0.iter().enumerate() {
            if empty.get(i) == Some(h) {
                out[1 + i / 8] |= 1 << (i % 8);
            } else {
                out.extend_from_slice(&h.to_le_bytes());
            }
        }
        out
    }

    /// Reverses [`FieldHashes::to_stored`] (and [`FieldHashes::to_bytes`]); `None` when `b`
    /// is neither.
    pub fn from_stored(kind: Kind, b: &[u8]) -> Option<FieldHashes> {
        if b.len() % 8 == 0 {
            return Some(FieldHashes::from_bytes(b));
        }
        let (&n, rest) = b.split_first()?;
        let n = n as usize;
        let map_len = n.div_ceil(8);
        if n == 0 || n > 48 || rest.len() < map_len {
            return None;
        }
        let (map, mut tail) = rest.split_at(map_len);
        let empty = empty_hashes(kind);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            if map[i / 8] & (1 << (i % 8)) != 0 {
                out.push(*empty.get(i)?);
            } else {
                let (h, more) = tail.split_first_chunk::<8>()?;
                out.push(u64::from_le_bytes(*h));
                tail = more;
            }
        }
        tail.is_empty().then_some(FieldHashes(out))
    }
}

/// The hash of each field of an empty record, per kind in [`Field::of`] order, under
/// [`HASH_SCHEME`] 1. Part of the stored form ([`FieldHashes::to_stored`]): frozen here rather
/// than computed, so that no change to a model type's `Default` can change what stored bytes
/// mean. A test checks them against [`FieldHashes::of`].
pub const EMPTY_HASHES: [&[u64]; 3] = [
    &[
        0xfe3e7324eee56355,
        0x342b9f484c991587,
        0x0849c493bf171ace,
        0x95d5964b4761c4ae,
        0xcf4f513be7a457f3,
        0x5add22fbe2642b8e,
        0xeb2645bb8ffd091d,
        0x335ad5198972bcf5,
        0xe1b7c4d52d9be49a,
        0x0bde1efdd5fb4bf3,
        0x40eeca5cd5dbba26,
        0x96a1b001bec8a058,
    ],
    &[
        0xa56652e292ed456b,
        0xc9c5dee255ed6d3e,
        0x9c24736ec6662ef4,
        0x84f5fed3d82b386e,
        0xd165b5f75ba55c2b,
        0xf79f01cb4a94a409,
    ],
    &[
        0x2f43040af3d99ac4,
        0x26fe5ae019cff71f,
        0x0334b67d7ec6cbc4,
        0xcd06212618f47210,
        0xd51ffebb116aee9c,
        0x0137d9bbad6d4c06,
        0x4f0b166b4e4d93cb,
        0x9f54e3f3b2d42cbb,
    ],
];

fn empty_hashes(kind: Kind) -> &'static [u64] {
    EMPTY_HASHES[kind.index()]
}

/// Normalises free text for comparison: trims, unifies line endings, drops trailing spaces.
pub fn norm_text(s: &str) -> String {
    norm_text_cow(s).into_owned()
}

/// [`norm_text`] without an allocation in the common case (nothing to change but the ends).
fn norm_text_cow(s: &str) -> std::borrow::Cow<'_, str> {
    if let Some(t) = plain_ascii_trimmed(s) {
        return std::borrow::Cow::Borrowed(t);
    }
    let s = s.trim();
    // One pass over the bytes for the usual text with no line break at all (a `contains(" \n")`
    // builds a substring searcher per call, which showed in the engine benchmark's profile).
    let b = s.as_bytes();
    if !b.contains(&b'\r') && (!b.contains(&b'\n') || !b.windows(2).any(|w| w == b" \n")) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.replace("\r\n", "\n")
            .replace('\r', "\n")
            .lines()
            .map(|l| l.trim_end())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// `s.trim()` when `s` is ASCII with no carriage return or line feed (nothing for
/// [`norm_text`] to rewrite but its ends), in one pass over the bytes; `None` otherwise. Hashing
/// runs over every field of every record a sync reads, and most text is like this.
fn plain_ascii_trimmed(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    // `char::is_whitespace` on ASCII: tab, line feed, vertical tab, form feed, carriage return
    // and space.
    let space = |c: u8| matches!(c, b'\t' | 0x0b | 0x0c | b' ');
    if b.iter().any(|&c| c >= 0x80 || c == b'\r' || c == b'\n') {
        return None;
    }
    let start = b.iter().position(|&c| !space(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !space(c)).map_or(start, |i| i + 1);
    s.get(start..end)
}

/// Normalises an e-mail address: trimmed and lower-cased (addresses compare case-insensitively).
pub fn norm_email(s: &str) -> String {
    s.trim().to_lowercase()
}

/// A canonical encoder: every value is written with a type tag and a terminator so that
/// different structures can never encode to the same bytes.
struct Enc(Vec<u8>);

impl Enc {
    fn text(&mut self, s: &str) {
        self.0.push(b's');
        self.0.extend_from_slice(norm_text_cow(s).as_bytes());
        self.0.push(0x1f);
    }
    fn raw(&mut self, s: &str) {
        self.0.push(b'r');
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0x1f);
    }
    fn int(&mut self, i: i64) {
        self.0.push(b'i');
        self.0.extend_from_slice(&i.to_le_bytes());
    }
    fn none(&mut self) {
        self.0.push(b'n');
    }
    fn list(&mut self, n: usize) {
        self.0.push(b'l');
        self.0.extend_from_slice(&(n as u64).to_le_bytes());
    }
    /// `self.text(&c.display())` without building the display name when it is made of the
    /// name parts (the usual case: hashing runs for every record a sync reads).
    fn display_name(&mut self, c: &Contact) {
        let parts = [&c.given_name, &c.middle_name, &c.family_name];
        if !c.display_name.trim().is_empty() || parts.iter().any(|p| p.contains(['\r', '\n'])) {
            // A set display name, or parts that normalisation would rewrite: as written.
            self.text(&c.display());
            return;
        }
        self.0.push(b's');
        let mut first = true;
        for p in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            if !first {
                self.0.push(b' ');
            }
            first = false;
            self.0.extend_from_slice(p.as_bytes());
        }
        self.0.push(0x1f);
    }
    fn address(&mut self, a: &Option<Box<Address>>) {
        match a {
            Some(a) if !a.is_empty() => {
                for p in [&a.street, &a.city, &a.state, &a.postal_code, &a.country] {
                    self.text(p);
                }
            }
            _ => self.none(),
        }
    }
    fn texts_set(&mut self, v: &[String]) {
        let mut v: Vec<String> = v
            .iter()
            .map(|s| norm_text(s).to_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        v.sort();
        v.dedup();
        self.list(v.len());
        for s in &v {
            self.raw(s);
        }
    }
    fn finish(self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.0)
    }
}

/// Whether a field of a record holds its type's default value, in which case it encodes as the
/// field of [`Record::empty`] does and its hash is in [`EMPTY_HASHES`]. Conservative: `false`
/// for fields whose default is not cheap to tell (those are hashed). Each arm reads exactly
/// what [`encode_field`] reads for the field.
fn holds_default(record: &Record, field: Field) -> bool {
    let none_or_blank = |a: &Option<Box<Address>>| a.as_ref().is_none_or(|a| a.is_empty());
    match record {
        Record::Contact(c) => match field {
            Field::Name => {
                c.given_name.is_empty()
                    && c.middle_name.is_empty()
                    && c.family_name.is_empty()
                    && c.display_name.is_empty()
            }
            Field::Emails => c.emails.is_empty(),
            Field::Phones => c.phones.is_empty(),
            Field::Company => c.company.is_empty(),
            Field::JobTitle => c.job_title.is_empty(),
            Field::Department => c.department.is_empty(),
            Field::BusinessAddress => none_or_blank(&c.business_address),
            Field::HomeAddress => none_or_blank(&c.home_address),
            Field::OtherAddress => none_or_blank(&c.other_address),
            Field::Birthday => c.birthday.is_none(),
            Field::ContactNotes => c.notes.is_empty(),
            Field::ContactCategories => c.categories.is_empty(),
            _ => false,
        },
        Record::Task(t) => match field {
            Field::TaskTitle => t.title.is_empty(),
            Field::TaskNotes => t.notes.is_empty(),
            Field::TaskSchedule => t.due.is_none() && t.start.is_none() && t.recurrence.is_none(),
            Field::TaskReminder => t.reminder.is_none(),
            _ => false,
        },
        Record::Event(v) => match field {
            Field::EventTitle => v.title.is_empty(),
            Field::EventNotes => v.notes.is_empty(),
            Field::EventLocation => v.location.is_empty(),
            Field::EventAttendees => v.attendees.is_empty(),
            Field::EventReminder => v.reminder_minutes.is_none(),
            Field::EventCategories => v.categories.is_empty(),
            _ => false,
        },
    }
}

/// The stable hash of one field of a record (normalised: see the module docs).
pub fn field_hash(record: &Record, field: Field) -> u64 {
    let mut e = Enc(Vec::with_capacity(64));
    encode_field(&mut e, record, field);
    e.finish()
}

fn encode_field(e: &mut Enc, record: &Record, field: Field) {
    e.int(field as i64);
    match record {
        Record::Contact(c) => contact_field(e, c, field),
        Record::Task(t) => task_field(e, t, field),
        Record::Event(v) => event_field(e, v, field),
    }
}

fn contact_field(e: &mut Enc, c: &Contact, f: Field) {
    match f {
        Field::Name => {
            e.text(&c.given_name);
            e.text(&c.middle_name);
            e.text(&c.family_name);
            e.display_name(c);
        }
        Field::Emails => {
            let n = c.emails.iter().filter(|s| !s.trim().is_empty()).count();
            e.list(n);
            for s in c.emails.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
                if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
                    e.raw(&s.to_lowercase());
                } else {
                    e.raw(s);
                }
            }
        }
        Field::Phones => {
            // Numbers ordered by kind, keeping their order within a kind (the first business
            // phone is meaningful): a stable sort by kind, done without building a list.
            let n = c
                .phones
                .iter()
                .filter(|p| !norm_text_cow(&p.number).is_empty())
                .count();
            e.list(n);
            for kind in PhoneKind::ALL {
                for p in c.phones.iter().filter(|p| p.kind == kind) {
                    let number = norm_text_cow(&p.number);
                    if !number.is_empty() {
                        e.int(kind as i64);
                        e.raw(&number);
                    }
                }
            }
        }
        Field::Company => e.text(&c.company),
        Field::JobTitle => e.text(&c.job_title),
        Field::Department => e.text(&c.department),
        Field::BusinessAddress => e.address(&c.business_address),
        Field::HomeAddress => e.address(&c.home_address),
        Field::OtherAddress => e.address(&c.other_address),
        Field::Birthday => match c.birthday {
            Some(d) => e.raw(&d.to_string()),
            None => e.none(),
        },
        Field::ContactNotes => e.text(&c.notes),
        Field::ContactCategories => e.texts_set(&c.categories),
        _ => e.none(),
    }
}

fn task_field(e: &mut Enc, t: &Task, f: Field) {
    match f {
        Field::TaskTitle => e.text(&t.title),
        Field::TaskNotes => e.text(&t.notes),
        Field::TaskSchedule => {
            for d in [t.due, t.start] {
                match d {
                    Some(d) => e.raw(&d.to_string()),
                    None => e.none(),
                }
            }
            match &t.recurrence {
                Some(r) => e.raw(&r.to_rrule()),
                None => e.none(),
            }
        }
        Field::TaskStatus => {
            e.int(t.status as i64);
            // The completion instant only matters for completed tasks, in whole minutes
            // (To Do keeps it at a coarser precision than Zoho).
            match (t.status, t.completed_at) {
                (crate::model::TaskStatus::Completed, Some(at)) => {
                    e.int(at.timestamp().div_euclid(60))
                }
                _ => e.none(),
            }
        }
        Field::TaskPriority => e.int(t.priority as i64),
        Field::TaskReminder => match t.reminder {
            Some(r) => e.int(r.timestamp().div_euclid(60)),
            None => e.none(),
        },
        _ => e.none(),
    }
}

fn event_field(e: &mut Enc, v: &Event, f: Field) {
    match f {
        Field::EventTitle => e.text(&v.title),
        Field::EventNotes => e.text(&v.notes),
        Field::EventWhen => {
            e.int(v.all_day as i64);
            if v.all_day {
                // All-day events are calendar dates: compare the dates in the event's zone.
                let (s, en) = all_day_dates(v);
                e.raw(&s);
                e.raw(&en);
            } else {
                e.int(v.start.timestamp());
                e.int(v.end.timestamp());
                e.raw(v.time_zone.trim());
            }
            match &v.recurrence {
                Some(r) => e.raw(&r.to_rrule()),
                None => e.none(),
            }
        }
        Field::EventLocation => e.text(&v.location),
        Field::EventAttendees => {
            let mut a: Vec<(String, String, i64)> = v
                .attendees
                .iter()
                .map(|a| (norm_email(&a.email), norm_text(&a.name), a.kind as i64))
                .collect();
            a.sort();
            a.dedup();
            e.list(a.len());
            for (m, n, k) in &a {
                e.raw(m);
                e.raw(n);
                e.int(*k);
            }
        }
        Field::EventReminder => match v.reminder_minutes {
            Some(m) => e.int(m as i64),
            None => e.none(),
        },
        Field::EventCategories => e.texts_set(&v.categories),
        Field::EventSensitivity => e.int(v.sensitivity as i64),
        _ => e.none(),
    }
}

/// The start and (exclusive) end dates of an all-day event, in its zone.
pub fn all_day_dates(v: &Event) -> (String, String) {
    let tz: chrono_tz::Tz = v.time_zone.parse().unwrap_or(chrono_tz::UTC);
    (
        v.start.with_timezone(&tz).date_naive().to_string(),
        v.end.with_timezone(&tz).date_naive().to_string(),
    )
}

/// Copies the given fields from `src` into `dst` (both of the same kind).
pub fn copy_fields(dst: &mut Record, src: &Record, fields: FieldSet) {
    match (dst, src) {
        (Record::Contact(d), Record::Contact(s)) => {
            for f in fields.iter() {
                match f {
                    Field::Name => {
                        d.given_name = s.given_name.clone();
                        d.middle_name = s.middle_name.clone();
                        d.family_name = s.family_name.clone();
                        d.display_name = s.display_name.clone();
                    }
                    Field::Emails => d.emails = s.emails.clone(),
                    Field::Phones => d.phones = s.phones.clone(),
                    Field::Company => d.company = s.company.clone(),
                    Field::JobTitle => d.job_title = s.job_title.clone(),
                    Field::Department => d.department = s.department.clone(),
                    Field::BusinessAddress => d.business_address = s.business_address.clone(),
                    Field::HomeAddress => d.home_address = s.home_address.clone(),
                    Field::OtherAddress => d.other_address = s.other_address.clone(),
                    Field::Birthday => d.birthday = s.birthday,
                    Field::ContactNotes => d.notes = s.notes.clone(),
                    Field::ContactCategories => d.categories = s.categories.clone(),
                    _ => {}
                }
            }
        }
        (Record::Task(d), Record::Task(s)) => {
            for f in fields.iter() {
                match f {
                    Field::TaskTitle => d.title = s.title.clone(),
                    Field::TaskNotes => d.notes = s.notes.clone(),
                    Field::TaskSchedule => {
                        d.due = s.due;
                        d.start = s.start;
                        d.recurrence = s.recurrence.clone();
                    }
                    Field::TaskStatus => {
                        d.status = s.status;
                        d.completed_at = s.completed_at;
                    }
                    Field::TaskPriority => d.priority = s.priority,
                    Field::TaskReminder => d.reminder = s.reminder,
                    _ => {}
                }
            }
        }
        (Record::Event(d), Record::Event(s)) => {
            for f in fields.iter() {
                match f {
                    Field::EventTitle => d.title = s.title.clone(),
                    Field::EventNotes => d.notes = s.notes.clone(),
                    Field::EventWhen => {
                        d.start = s.start;
                        d.end = s.end;
                        d.time_zone = s.time_zone.clone();
                        d.all_day = s.all_day;
                        d.recurrence = s.recurrence.clone();
                    }
                    Field::EventLocation => d.location = s.location.clone(),
                    Field::EventAttendees => d.attendees = s.attendees.clone(),
                    Field::EventReminder => d.reminder_minutes = s.reminder_minutes,
                    Field::EventCategories => d.categories = s.categories.clone(),
                    Field::EventSensitivity => d.sensitivity = s.sensitivity,
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// True when the field is empty in the record (used to fill first-sync twins).
pub fn field_is_empty(record: &Record, field: Field) -> bool {
    let empty = Record::empty(record.kind());
    field_hash(record, field) == field_hash(&empty, field)
}

/// The unit a service counts text lengths in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthUnit {
    /// Unicode scalar values (Zoho).
    Chars,
    /// UTF-16 code units (Graph / .NET).
    Utf16,
}

/// A text value that a service limits in length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // The names say it all.
pub enum TextField {
    GivenName,
    MiddleName,
    FamilyName,
    DisplayName,
    Email,
    Phone,
    Company,
    JobTitle,
    Department,
    Street,
    City,
    State,
    PostalCode,
    Country,
    ContactNotes,
    TaskTitle,
    TaskNotes,
    EventTitle,
    EventNotes,
    Location,
}

/// A length limit on one text value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextLimit {
    /// Which value.
    pub field: TextField,
    /// Maximum length in `unit`.
    pub max: usize,
    /// Unit of `max`.
    pub unit: LengthUnit,
}

/// What one side can hold for one kind: the fields it keeps, text limits and list limits.
/// Read at run time where the service publishes it (Zoho's fields metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSchema {
    /// The fields this side stores; others are left empty and never compared.
    pub fields: FieldSet,
    /// Text length limits.
    #[serde(default)]
    pub text_limits: Vec<TextLimit>,
    /// Maximum number of e-mail addresses (Graph: 3; Zoho: 2).
    #[serde(default)]
    pub max_emails: Option<usize>,
    /// Maximum numbers per phone kind.
    #[serde(default)]
    pub max_phones: Vec<(PhoneKind, usize)>,
    /// Whether the event's IANA zone is kept (Zoho keeps only an offset).
    #[serde(default = "yes")]
    pub keeps_event_zone: bool,
}

fn yes() -> bool {
    true
}

impl FieldSchema {
    /// A schema that holds everything of a kind without limits.
    pub fn full(kind: Kind) -> FieldSchema {
        FieldSchema {
            fields: FieldSet::all(kind),
            text_limits: vec![],
            max_emails: None,
            max_phones: vec![],
            keeps_event_zone: true,
        }
    }

    /// Whether this schema holds every field of the kind without any limit (projection is then
    /// the identity).
    pub fn is_unlimited(&self, kind: Kind) -> bool {
        self.fields.intersect(FieldSet::all(kind)) == FieldSet::all(kind)
            && self.text_limits.is_empty()
            && self.max_emails.is_none()
            && self.max_phones.is_empty()
            && self.keeps_event_zone
    }

    fn limit(&self, f: TextField) -> Option<TextLimit> {
        self.text_limits.iter().copied().find(|l| l.field == f)
    }

    /// The record as this side would hold it: unsupported fields emptied, texts cut on grapheme
    /// boundaries to the side's limits, lists cut to their limits. Also returns a note for every
    /// value that was cut or dropped, for the report.
    pub fn project(&self, record: &Record) -> (Record, Vec<String>) {
        if self.is_unlimited(record.kind()) {
            return (record.clone(), Vec::new());
        }
        let mut notes = Vec::new();
        let mut out = Record::empty(record.kind());
        copy_fields(&mut out, record, self.fields);
        let cut = |f: TextField, s: &mut String, notes: &mut Vec<String>| {
            if let Some(l) = self.limit(f) {
                if let Some(t) = truncate(s, l.max, l.unit) {
                    notes.push(format!("{f:?} cut to {} {:?}", l.max, l.unit).to_lowercase());
                    *s = t;
                }
            }
        };
        match &mut out {
            Record::Contact(c) => {
                cut(TextField::GivenName, &mut c.given_name, &mut notes);
                cut(TextField::MiddleName, &mut c.middle_name, &mut notes);
                cut(TextField::FamilyName, &mut c.family_name, &mut notes);
                cut(TextField::DisplayName, &mut c.display_name, &mut notes);
                cut(TextField::Company, &mut c.company, &mut notes);
                cut(TextField::JobTitle, &mut c.job_title, &mut notes);
                cut(TextField::Department, &mut c.department, &mut notes);
                cut(TextField::ContactNotes, &mut c.notes, &mut notes);
                for a in [
                    &mut c.business_address,
                    &mut c.home_address,
                    &mut c.other_address,
                ]
                .into_iter()
                .flatten()
                {
                    cut(TextField::Street, &mut a.street, &mut notes);
                    cut(TextField::City, &mut a.city, &mut notes);
                    cut(TextField::State, &mut a.state, &mut notes);
                    cut(TextField::PostalCode, &mut a.postal_code, &mut notes);
                    cut(TextField::Country, &mut a.country, &mut notes);
                }
                c.emails.retain(|e| !e.trim().is_empty());
                if let Some(max) = self.max_emails {
                    if c.emails.len() > max {
                        notes.push(format!(
                            "{} e-mail address(es) beyond the first {max} dropped",
                            c.emails.len() - max
                        ));
                        c.emails.truncate(max);
                    }
                }
                if !self.max_phones.is_empty() {
                    let mut kept: Vec<Phone> = Vec::new();
                    for p in c.phones.iter().filter(|p| !p.number.trim().is_empty()) {
                        let max = self
                            .max_phones
                            .iter()
                            .find(|(k, _)| *k == p.kind)
                            .map(|(_, m)| *m)
                            .unwrap_or(0);
                        if kept.iter().filter(|k| k.kind == p.kind).count() < max {
                            kept.push(p.clone());
                        } else {
                            notes.push(
                                format!("a {:?} phone number dropped", p.kind).to_lowercase(),
                            );
                        }
                    }
                    c.phones = kept;
                }
            }
            Record::Task(t) => {
                cut(TextField::TaskTitle, &mut t.title, &mut notes);
                cut(TextField::TaskNotes, &mut t.notes, &mut notes);
            }
            Record::Event(v) => {
                cut(TextField::EventTitle, &mut v.title, &mut notes);
                cut(TextField::EventNotes, &mut v.notes, &mut notes);
                cut(TextField::Location, &mut v.location, &mut notes);
                if !self.keeps_event_zone && !v.all_day {
                    v.time_zone = String::new();
                }
            }
        }
        // Values the copy did not carry are not "dropped" notes: the side never holds them.
        (out, notes)
    }
}

/// Cuts `s` to at most `max` units on a grapheme boundary; `None` when it already fits.
pub fn truncate(s: &str, max: usize, unit: LengthUnit) -> Option<String> {
    let len = |x: &str| match unit {
        LengthUnit::Chars => x.chars().count(),
        LengthUnit::Utf16 => x.encode_utf16().count(),
    };
    if len(s) <= max {
        return None;
    }
    let mut out = String::new();
    let mut used = 0;
    for g in s.graphemes(true) {
        let l = len(g);
        if used + l > max {
            break;
        }
        used += l;
        out.push_str(g);
    }
    Some(out)
}

/// Field-by-field equality of two records *as both sides can hold them*: each record is projected
/// through both schemas first, so a value one side truncates compares equal to its full form.
pub fn equal_fields(
    a: &Record,
    b: &Record,
    fields: FieldSet,
    schemas: [&FieldSchema; 2],
) -> FieldSet {
    let pa = project_both(a, schemas);
    let pb = project_both(b, schemas);
    fields
        .iter()
        .filter(|f| field_hash(&pa, *f) == field_hash(&pb, *f))
        .collect()
}

/// A record projected through both schemas (what both sides can hold of it).
pub fn project_both(r: &Record, schemas: [&FieldSchema; 2]) -> Record {
    let (x, _) = schemas[0].project(r);
    schemas[1].project(&x).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    #[test]
    fn the_frozen_empty_hashes_are_those_of_empty_records() {
        for r in [
            Record::Contact(Contact::default()),
            Record::Task(Task::default()),
            Record::Event(Event::default()),
        ] {
            assert_eq!(
                FieldHashes::of(&r).0,
                EMPTY_HASHES[r.kind().index()],
                "{:?}: the stored form depends on these values; a change needs HASH_SCHEME bumped and a migration",
                r.kind()
            );
        }
    }

    #[test]
    fn the_stored_form_round_trips_and_is_compact() {
        let mut c = match contact() {
            Record::Contact(c) => c,
            _ => unreachable!(),
        };
        c.notes.clear();
        let r = Record::Contact(c);
        let h = FieldHashes::of(&r);
        let stored = h.to_stored(Kind::Contact);
        assert_ne!(stored.len() % 8, 0);
        let empty =
            h.0.iter()
                .zip(EMPTY_HASHES[0])
                .filter(|(a, b)| a == b)
                .count();
        assert!(empty > 0);
        assert_eq!(stored.len(), 1 + 2 + 8 * (12 - empty));
        assert_eq!(
            FieldHashes::from_stored(Kind::Contact, &stored),
            Some(h.clone())
        );
        // The plain form is still read.
        assert_eq!(
            FieldHashes::from_stored(Kind::Contact, &h.to_bytes()),
            Some(h.clone())
        );
        // Lists of any length, for any kind, including ones longer than the kind's.
        for kind in Kind::ALL {
            for n in [1usize, 5, 8, 9, 13, 48, 49, 60] {
                let v = FieldHashes(
                    (0..n)
                        .map(|i| match EMPTY_HASHES[kind.index()].get(i) {
                            Some(e) if i % 3 != 1 => *e,
                            _ => (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                        })
                        .collect(),
                );
                let b = v.to_stored(kind);
                assert_eq!(FieldHashes::from_stored(kind, &b), Some(v), "{kind:?} {n}");
            }
            assert_eq!(
                FieldHashes::from_stored(kind, &FieldHashes::default().to_stored(kind)),
                Some(FieldHashes::default())
            );
        }
        // Truncated or padded bytes are refused, not misread.
        assert_eq!(
            FieldHashes::from_stored(Kind::Contact, &stored[..stored.len() - 1]),
            None
        );
        let mut longer = stored.clone();
        longer.push(0);
        assert_eq!(FieldHashes::from_stored(Kind::Contact, &longer), None);
        assert_eq!(FieldHashes::from_stored(Kind::Contact, &[0]), None);
    }

    /// `FieldHashes::of` skips fields holding their default (`holds_default`): every field of
    /// records with some fields set, some blank and some default hashes as `field_hash`, which
    /// always encodes, gives.
    #[test]
    fn skipping_default_fields_gives_the_hashes_of_encoding_them() {
        let blank_address = Some(Box::new(Address::default()));
        let records = [
            contact(),
            Record::Contact(Contact {
                middle_name: "   ".into(),
                emails: vec![" ".into()],
                phones: vec![Phone {
                    kind: PhoneKind::Home,
                    number: String::new(),
                }],
                business_address: blank_address.clone(),
                home_address: Some(Box::new(Address {
                    city: "Paris".into(),
                    ..Default::default()
                })),
                birthday: chrono::NaiveDate::from_ymd_opt(1815, 12, 10),
                categories: vec!["".into()],
                ..Default::default()
            }),
            Record::Contact(Contact {
                other_address: blank_address,
                department: " ".into(),
                ..Default::default()
            }),
            Record::Task(Task {
                title: "t".into(),
                due: chrono::NaiveDate::from_ymd_opt(2026, 1, 2),
                ..Default::default()
            }),
            Record::Task(Task {
                notes: " ".into(),
                status: TaskStatus::Completed,
                ..Default::default()
            }),
            Record::Event(Event {
                location: "room".into(),
                reminder_minutes: Some(0),
                categories: vec!["Zoho".into()],
                ..Default::default()
            }),
            Record::Event(Event {
                title: " ".into(),
                attendees: vec![Attendee::default()],
                ..Default::default()
            }),
            Record::empty(Kind::Contact),
            Record::empty(Kind::Task),
            Record::empty(Kind::Event),
        ];
        for r in &records {
            let slow: Vec<u64> = Field::of(r.kind())
                .iter()
                .map(|f| field_hash(r, *f))
                .collect();
            assert_eq!(FieldHashes::of(r).0, slow, "{r:?}");
        }
    }

    fn contact() -> Record {
        Record::Contact(Contact {
            given_name: " Ada ".into(),
            family_name: "Lovelace".into(),
            emails: vec!["Ada@Example.COM".into()],
            notes: "line 1\r\nline 2  ".into(),
            ..Default::default()
        })
    }

    #[test]
    fn hash_is_stable_across_releases() {
        // These values are persisted: if this test fails the encoding changed and HASH_SCHEME
        // must be bumped (with a migration that rehashes stored baselines).
        let h = FieldHashes::of(&contact());
        insta::assert_debug_snapshot!(h);
    }

    /// Name parts, a set display name and phones of several kinds in mixed order: the hashes
    /// of a release that built the display name and sorted the phones in lists of their own.
    #[test]
    fn hash_of_names_and_phones_is_stable_across_releases() {
        let phone = |kind, number: &str| Phone {
            kind,
            number: number.into(),
        };
        let phones = vec![
            phone(PhoneKind::Mobile, " +1 555 0100 "),
            phone(PhoneKind::Business, "+1 555 0101"),
            phone(PhoneKind::Other, "   "),
            phone(PhoneKind::Business, "+1 555 0102\r\n"),
            phone(PhoneKind::Home, "+1 555 0103"),
        ];
        let parts = Record::Contact(Contact {
            given_name: " Grace ".into(),
            middle_name: "\u{a0}".into(),
            family_name: "Hopper".into(),
            phones: phones.clone(),
            ..Default::default()
        });
        let shown = Record::Contact(Contact {
            given_name: "Grace".into(),
            display_name: " Rear Admiral Hopper ".into(),
            phones,
            ..Default::default()
        });
        let multiline = Record::Contact(Contact {
            given_name: "Grace \r\nBrewster".into(),
            family_name: "Hopper".into(),
            ..Default::default()
        });
        let h: Vec<FieldHashes> = [parts, shown, multiline]
            .iter()
            .map(FieldHashes::of)
            .collect();
        insta::assert_debug_snapshot!(h);
    }

    proptest::proptest! {
        /// The ASCII fast path of text normalisation gives what the general one gives.
        #[test]
        fn plain_ascii_text_is_only_trimmed(s in "[ \t\x0b\x0c\r\na-zA-Z0-9\u{a0}\u{85}\u{3000}é]{0,12}") {
            if let Some(t) = plain_ascii_trimmed(&s) {
                proptest::prop_assert_eq!(t, s.trim());
                proptest::prop_assert!(!t.contains('\r') && !t.contains(" \n"));
            } else {
                proptest::prop_assert!(!s.is_ascii() || s.contains(['\r', '\n']));
            }
        }
    }

    #[test]
    fn hash_normalises() {
        let mut other = contact();
        if let Record::Contact(c) = &mut other {
            c.given_name = "Ada".into();
            c.emails = vec!["ada@example.com".into()];
            c.notes = "line 1\nline 2".into();
        }
        assert_eq!(FieldHashes::of(&contact()), FieldHashes::of(&other));
    }

    #[test]
    fn truncate_on_graphemes() {
        // A family emoji is one grapheme of 5 scalar values / 8 UTF-16 units.
        let s = "ab👨‍👩‍👧cd";
        assert_eq!(truncate(s, 4, LengthUnit::Chars).as_deref(), Some("ab"));
        assert_eq!(truncate(s, 7, LengthUnit::Chars).as_deref(), Some("ab👨‍👩‍👧"));
        assert_eq!(
            truncate("张三李四", 2, LengthUnit::Utf16).as_deref(),
            Some("张三")
        );
        assert_eq!(truncate("abc", 3, LengthUnit::Utf16), None);
    }

    #[test]
    fn project_cuts_and_reports() {
        let schema = FieldSchema {
            max_emails: Some(1),
            text_limits: vec![TextLimit {
                field: TextField::FamilyName,
                max: 4,
                unit: LengthUnit::Chars,
            }],
            ..FieldSchema::full(Kind::Contact)
        };
        let mut r = contact();
        if let Record::Contact(c) = &mut r {
            c.emails.push("b@x.org".into());
        }
        let (p, notes) = schema.project(&r);
        let Record::Contact(c) = p else { panic!() };
        assert_eq!(c.family_name, "Love");
        assert_eq!(c.emails.len(), 1);
        assert_eq!(notes.len(), 2);
    }

    #[test]
    fn field_serde() {
        let s: FieldSet = [Field::Emails, Field::Name].into_iter().collect();
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(j, r#"["contact.name","contact.emails"]"#);
        assert_eq!(serde_json::from_str::<FieldSet>(&j).unwrap(), s);
    }
}
