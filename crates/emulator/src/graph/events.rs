//! Calendars, events, recurrence expansion and calendarView.

use base64::Engine as _;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Utc, Weekday};
use serde_json::{json, Map, Value};

use super::api::{
    body_object, check_if_match, context_url, list_items, merge_ext, render as render_any,
    shown_id, single, take_ext, unknown_property, RenderOpts,
};
use super::http::{bad_method, error, fmt_7, fmt_local, no_route, not_found, Req, Resp};
use super::state::{ContainerKind, Item, Kind, State};
use super::tz;

const MAX_ATTENDEES: usize = 500;
const OCC_PREFIX: &str = "AAMkOcc";

fn invalid(msg: &str) -> Resp {
    error(400, "ErrorInvalidRequest", msg)
}

fn type_error(prop: &str) -> Resp {
    error(
        400,
        "RequestBodyRead",
        &format!("Cannot convert the value of property '{prop}' to the expected type."),
    )
}

/// A parsed `dateTimeTimeZone`.
fn parse_dttz(v: &Value) -> Option<(NaiveDateTime, String)> {
    let dt = tz::parse_local(v.get("dateTime")?.as_str()?)?;
    let zone = v
        .get("timeZone")
        .and_then(Value::as_str)
        .unwrap_or("UTC")
        .to_string();
    tz::zone(&zone)?;
    Some((dt, zone))
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_lowercase().as_str() {
        "sunday" => Weekday::Sun,
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        _ => return None,
    })
}

/// Validates a patternedRecurrence. Unused fields filled with zeros (as responses show them)
/// are "unsupported values" and rejected, which is the documented round-trip trap.
pub(crate) fn validate_recurrence(v: &Value) -> Result<(), Resp> {
    let Some(p) = v.get("pattern").and_then(Value::as_object) else {
        return Err(invalid("Recurrence pattern is required."));
    };
    let Some(r) = v.get("range").and_then(Value::as_object) else {
        return Err(invalid("Recurrence range is required."));
    };
    let ty = p.get("type").and_then(Value::as_str).unwrap_or("");
    let interval = p.get("interval").and_then(Value::as_i64).unwrap_or(0);
    if interval < 1 {
        return Err(invalid("Recurrence pattern interval must be at least 1."));
    }
    let days_ok = p
        .get("daysOfWeek")
        .and_then(Value::as_array)
        .is_some_and(|d| !d.is_empty() && d.iter().all(|x| x.as_str().and_then(weekday).is_some()));
    if let Some(m) = p.get("month") {
        if !m.as_i64().is_some_and(|m| (1..=12).contains(&m)) {
            return Err(invalid("Recurrence pattern month is out of range."));
        }
    }
    if let Some(d) = p.get("dayOfMonth") {
        if !d.as_i64().is_some_and(|d| (1..=31).contains(&d)) {
            return Err(invalid("Recurrence pattern dayOfMonth is out of range."));
        }
    }
    if let Some(i) = p.get("index") {
        if !i
            .as_str()
            .is_some_and(|i| ["first", "second", "third", "fourth", "last"].contains(&i))
        {
            return Err(invalid("Recurrence pattern index is invalid."));
        }
    }
    let ok = match ty {
        "daily" => true,
        "weekly" => days_ok,
        "absoluteMonthly" => p.contains_key("dayOfMonth"),
        "relativeMonthly" => days_ok,
        "absoluteYearly" => p.contains_key("dayOfMonth") && p.contains_key("month"),
        "relativeYearly" => days_ok && p.contains_key("month"),
        _ => return Err(invalid("Recurrence pattern type is invalid.")),
    };
    if !ok {
        return Err(invalid(
            "Recurrence pattern is missing a required property.",
        ));
    }
    let date = |k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
    };
    if date("startDate").is_none() {
        return Err(invalid("Recurrence range startDate is required."));
    }
    if let Some(n) = r.get("numberOfOccurrences") {
        if n.as_i64().is_none_or(|n| n < 1) {
            return Err(invalid(
                "Recurrence range numberOfOccurrences is out of range.",
            ));
        }
    }
    if r.contains_key("endDate") && date("endDate").is_none() {
        return Err(invalid("Recurrence range endDate is invalid."));
    }
    match r.get("type").and_then(Value::as_str).unwrap_or("") {
        "noEnd" => Ok(()),
        "endDate" if date("endDate").is_some() => Ok(()),
        "numbered" if r.contains_key("numberOfOccurrences") => Ok(()),
        _ => Err(invalid("Recurrence range is invalid.")),
    }
}

/// Validates an event write and applies it.
pub(crate) fn apply(
    props: &mut Map<String, Value>,
    body: &Map<String, Value>,
    control: bool,
) -> Result<(), Resp> {
    const STRINGS: &[&str] = &["subject", "transactionId", "onlineMeetingProvider"];
    const BOOLS: &[&str] = &[
        "isAllDay",
        "isReminderOn",
        "isOnlineMeeting",
        "responseRequested",
        "allowNewTimeProposals",
        "hideAttendees",
    ];
    const ENUMS: &[(&str, &[&str])] = &[
        (
            "sensitivity",
            &["normal", "personal", "private", "confidential"],
        ),
        (
            "showAs",
            &[
                "free",
                "tentative",
                "busy",
                "oof",
                "workingElsewhere",
                "unknown",
            ],
        ),
        ("importance", &["low", "normal", "high"]),
    ];
    const READ_ONLY: &[&str] = &[
        "id",
        "changeKey",
        "createdDateTime",
        "lastModifiedDateTime",
        "type",
        "seriesMasterId",
        "iCalUId",
        "bodyPreview",
        "webLink",
        "hasAttachments",
        "isCancelled",
        "originalStartTimeZone",
        "originalEndTimeZone",
        "isDraft",
        "onlineMeeting",
        "onlineMeetingUrl",
        "uid",
        "originalStart",
    ];
    const CONTROL_ONLY: &[&str] = &["isOrganizer", "organizer", "responseStatus"];
    for (k, v) in body {
        let k = k.as_str();
        if k.starts_with('@') || READ_ONLY.contains(&k) {
            continue;
        }
        if STRINGS.contains(&k) {
            if !(v.is_string() || v.is_null()) {
                return Err(type_error(k));
            }
        } else if BOOLS.contains(&k) {
            if !v.is_boolean() {
                return Err(type_error(k));
            }
        } else if let Some((_, allowed)) = ENUMS.iter().find(|(n, _)| *n == k) {
            if !v.as_str().is_some_and(|s| allowed.contains(&s)) {
                return Err(invalid(&format!("Invalid value for property '{k}'.")));
            }
        } else {
            match k {
                "body" => {
                    let ct = v
                        .get("contentType")
                        .and_then(Value::as_str)
                        .unwrap_or("text")
                        .to_ascii_lowercase();
                    if !v.is_object() || !(ct == "text" || ct == "html") {
                        return Err(type_error(k));
                    }
                }
                "start" | "end" => {
                    if parse_dttz(v).is_none() {
                        return Err(invalid(&format!(
                            "The value of '{k}' is not a valid dateTimeTimeZone."
                        )));
                    }
                }
                "reminderMinutesBeforeStart" => {
                    if !v.is_i64() {
                        return Err(type_error(k));
                    }
                }
                "location" => {
                    if !(v.is_object() || v.is_null()) {
                        return Err(type_error(k));
                    }
                }
                "locations" => {
                    if !v.is_array() {
                        return Err(type_error(k));
                    }
                }
                "categories" => {
                    if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                        return Err(type_error(k));
                    }
                }
                "attendees" => {
                    let Some(a) = v.as_array() else {
                        return Err(type_error(k));
                    };
                    if a.len() > MAX_ATTENDEES {
                        return Err(invalid("An event can have at most 500 attendees."));
                    }
                    for at in a {
                        if at
                            .get("emailAddress")
                            .and_then(|e| e.get("address"))
                            .and_then(Value::as_str)
                            .is_none()
                        {
                            return Err(invalid(
                                "An attendee must have an emailAddress with an address.",
                            ));
                        }
                    }
                }
                "recurrence" => {
                    if !v.is_null() {
                        validate_recurrence(v)?;
                    }
                }
                _ if control && CONTROL_ONLY.contains(&k) => {}
                _ => return Err(unknown_property(k, "event")),
            }
        }
    }
    for (k, v) in body {
        if k.starts_with('@') || READ_ONLY.contains(&k.as_str()) {
            continue;
        }
        let stored = match k.as_str() {
            "start" | "end" => match parse_dttz(v) {
                Some((dt, zone)) => {
                    let key = if k == "start" { "originalStartTimeZone" } else { "originalEndTimeZone" };
                    props.insert(key.into(), Value::String(zone.clone()));
                    json!({"dateTime": fmt_local(dt), "timeZone": zone})
                }
                None => continue,
            },
            "attendees" => Value::Array(
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .map(|at| {
                                json!({
                                    "type": at.get("type").cloned().unwrap_or_else(|| "required".into()),
                                    "status": at.get("status").cloned().unwrap_or_else(|| json!({"response": "none", "time": "0001-01-01T00:00:00Z"})),
                                    "emailAddress": at.get("emailAddress").cloned().unwrap_or(Value::Null),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            "body" => json!({
                "contentType": v.get("contentType").and_then(Value::as_str).unwrap_or("text").to_ascii_lowercase(),
                "content": v.get("content").cloned().unwrap_or_else(|| "".into()),
            }),
            "location" if body.get("locations").is_none() => {
                let loc = location(v);
                let has = loc.get("displayName").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
                props.insert("locations".into(), if has { json!([loc.clone()]) } else { json!([]) });
                loc
            }
            "location" => location(v),
            _ => v.clone(),
        };
        props.insert(k.clone(), stored);
    }
    Ok(())
}

fn location(v: &Value) -> Value {
    let mut m = json!({"displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": {}, "coordinates": {}});
    if let (Some(o), Some(t)) = (v.as_object(), m.as_object_mut()) {
        for (k, v) in o {
            t.insert(k.clone(), v.clone());
        }
        if t.get("displayName")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
            && !o.contains_key("uniqueId")
        {
            let name = t.get("displayName").cloned().unwrap_or(Value::Null);
            t.insert("uniqueId".into(), name);
            t.insert("uniqueIdType".into(), "private".into());
        }
    }
    m
}

/// Checks the cross-field rules of a complete event.
fn check_event(props: &Map<String, Value>) -> Result<(), Resp> {
    let (Some(s), Some(e)) = (
        props.get("start").and_then(parse_dttz),
        props.get("end").and_then(parse_dttz),
    ) else {
        return Err(invalid("An event needs a start and an end."));
    };
    let all_day = props
        .get("isAllDay")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if all_day {
        let midnight =
            |t: NaiveDateTime| t.time().num_seconds_from_midnight() == 0 && t.nanosecond() == 0;
        if !midnight(s.0) || !midnight(e.0) || e.0 <= s.0 {
            return Err(error(
                400,
                "ErrorPropertyValidationFailure",
                "The start and end of an all-day event must be midnight, and the end must be after the start.",
            ));
        }
    } else {
        let (Some(sz), Some(ez)) = (tz::zone(&s.1), tz::zone(&e.1)) else {
            return Err(invalid("Unknown time zone."));
        };
        if tz::to_utc(e.0, ez) < tz::to_utc(s.0, sz) {
            return Err(invalid("The end of an event cannot be before its start."));
        }
    }
    Ok(())
}

/// One expanded occurrence of a series (or the single instance itself).
#[derive(Clone, Debug)]
pub(crate) struct Occ {
    /// The date the pattern gives it (its id derives from it, even when an edit moved it).
    pub date: NaiveDate,
    pub start_utc: DateTime<Utc>,
    pub end_utc: DateTime<Utc>,
    pub start_local: NaiveDateTime,
    pub end_local: NaiveDateTime,
    /// The properties edited on this occurrence alone: it is an `exception`.
    pub edits: Option<Map<String, Value>>,
}

/// Where a series keeps its edited occurrences: original date → the properties set on it.
const EXCEPTIONS: &str = "_exceptions";

fn local_bounds(item: &Item) -> Option<((NaiveDateTime, String), (NaiveDateTime, String))> {
    Some((
        parse_dttz(item.props.get("start")?)?,
        parse_dttz(item.props.get("end")?)?,
    ))
}

/// The item's own span (for a series: its first instance as stored).
fn own_span(item: &Item) -> Option<Occ> {
    let ((s, sz), (e, ez)) = local_bounds(item)?;
    Some(Occ {
        date: s.date(),
        start_utc: tz::to_utc(s, tz::zone(&sz)?),
        end_utc: tz::to_utc(e, tz::zone(&ez)?),
        start_local: s,
        end_local: e,
        edits: None,
    })
}

fn is_series(item: &Item) -> bool {
    item.props.get("recurrence").is_some_and(Value::is_object)
}

fn pattern_matches(p: &Map<String, Value>, first: NaiveDate, d: NaiveDate) -> bool {
    let interval = p
        .get("interval")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(1);
    let days: Vec<Weekday> = p
        .get("daysOfWeek")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().and_then(weekday))
                .collect()
        })
        .unwrap_or_default();
    let dom = p.get("dayOfMonth").and_then(Value::as_i64).unwrap_or(0);
    let month = p.get("month").and_then(Value::as_i64).unwrap_or(0);
    let months_since =
        (d.year() - first.year()) as i64 * 12 + d.month() as i64 - first.month() as i64;
    let relative = |d: NaiveDate| -> bool {
        if !days.contains(&d.weekday()) {
            return false;
        }
        let nth = (d.day() - 1) / 7;
        match p.get("index").and_then(Value::as_str).unwrap_or("first") {
            "first" => nth == 0,
            "second" => nth == 1,
            "third" => nth == 2,
            "fourth" => nth == 3,
            "last" => (d + Duration::days(7)).month() != d.month(),
            _ => false,
        }
    };
    match p.get("type").and_then(Value::as_str).unwrap_or("") {
        "daily" => (d - first).num_days() % interval == 0,
        "weekly" => {
            let fdow = p
                .get("firstDayOfWeek")
                .and_then(Value::as_str)
                .and_then(weekday)
                .unwrap_or(Weekday::Sun);
            let week_start = |x: NaiveDate| {
                x - Duration::days(
                    ((x.weekday().num_days_from_sunday() + 7 - fdow.num_days_from_sunday()) % 7)
                        as i64,
                )
            };
            days.contains(&d.weekday())
                && ((week_start(d) - week_start(first)).num_days() / 7) % interval == 0
        }
        "absoluteMonthly" => d.day() as i64 == dom && months_since % interval == 0,
        "relativeMonthly" => months_since % interval == 0 && relative(d),
        "absoluteYearly" => {
            d.month() as i64 == month
                && d.day() as i64 == dom
                && (d.year() - first.year()) as i64 % interval == 0
        }
        "relativeYearly" => {
            d.month() as i64 == month
                && (d.year() - first.year()) as i64 % interval == 0
                && relative(d)
        }
        _ => false,
    }
}

/// The zone a series' occurrences are laid out in: the range's `recurrenceTimeZone`, else the
/// start's zone, else UTC.
fn series_zone(item: &Item) -> &str {
    let start_zone = local_bounds(item).map(|((_, sz), _)| sz);
    let from_range = item
        .props
        .get("recurrence")
        .and_then(|r| r.pointer("/range/recurrenceTimeZone"))
        .and_then(Value::as_str)
        .filter(|z| tz::zone(z).is_some());
    match (from_range, start_zone) {
        (Some(z), _) => z,
        (None, Some(_)) => item
            .props
            .get("start")
            .and_then(|s| s.get("timeZone"))
            .and_then(Value::as_str)
            .unwrap_or("UTC"),
        (None, None) => "UTC",
    }
}

/// Expands an event into the instances that overlap `[from, to)`.
pub(crate) fn instances(item: &Item, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Occ> {
    let Some(first) = own_span(item) else {
        return Vec::new();
    };
    if !is_series(item) {
        return if first.start_utc < to && first.end_utc > from {
            vec![first]
        } else {
            Vec::new()
        };
    }
    expand(item, (to + Duration::days(2)).date_naive())
        .into_iter()
        .filter(|o| o.start_utc < to && o.end_utc > from)
        .collect()
}

/// Every occurrence of a series whose pattern date is on or before `until`, edits applied and
/// cancelled ones left out.
fn expand(item: &Item, until: NaiveDate) -> Vec<Occ> {
    let Some(first) = own_span(item) else {
        return Vec::new();
    };
    let Some(((s, _), _)) = local_bounds(item) else {
        return Vec::new();
    };
    let rec = &item.props["recurrence"];
    let (Some(p), Some(r)) = (
        rec.get("pattern").and_then(Value::as_object),
        rec.get("range").and_then(Value::as_object),
    ) else {
        return Vec::new();
    };
    let zone = tz::zone(series_zone(item)).unwrap_or(chrono_tz::UTC);
    let exceptions = item.props.get(EXCEPTIONS).and_then(Value::as_object);
    let duration = first.end_local - first.start_local;
    let date = |k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
    };
    let Some(range_start) = date("startDate") else {
        return Vec::new();
    };
    let rtype = r.get("type").and_then(Value::as_str).unwrap_or("noEnd");
    let end_date = if rtype == "endDate" {
        date("endDate")
    } else {
        None
    };
    let count_max = if rtype == "numbered" {
        r.get("numberOfOccurrences").and_then(Value::as_i64)
    } else {
        None
    };
    let cancelled: Vec<&str> = item
        .props
        .get("_cancelled")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let last_useful = until;
    let mut out = Vec::new();
    let mut count = 0i64;
    let mut d = range_start;
    for _ in 0..(366 * 50) {
        if end_date.is_some_and(|e| d > e)
            || count_max.is_some_and(|n| count >= n)
            || d > last_useful
        {
            break;
        }
        if pattern_matches(p, range_start, d) {
            count += 1;
            let start_local = d.and_time(s.time());
            let end_local = start_local + duration;
            let mut occ = Occ {
                date: d,
                start_utc: tz::to_utc(start_local, zone),
                end_utc: tz::to_utc(end_local, zone),
                start_local,
                end_local,
                edits: None,
            };
            if let Some(edits) = exceptions
                .and_then(|x| x.get(&d.to_string()))
                .and_then(Value::as_object)
            {
                let at = |k: &str| edits.get(k).and_then(parse_dttz);
                if let Some((l, z)) = at("start") {
                    occ.start_local = l;
                    occ.start_utc = tz::to_utc(l, tz::zone(&z).unwrap_or(chrono_tz::UTC));
                }
                if let Some((l, z)) = at("end") {
                    occ.end_local = l;
                    occ.end_utc = tz::to_utc(l, tz::zone(&z).unwrap_or(chrono_tz::UTC));
                }
                occ.edits = Some(edits.clone());
            }
            if !cancelled.contains(&d.to_string().as_str()) {
                out.push(occ);
            }
        }
        d += Duration::days(1);
    }
    out
}

/// The id of one occurrence, derived from its series' id and date.
pub(crate) fn occurrence_id(master_id: &str, date: NaiveDate) -> String {
    let raw = format!("{master_id}|{date}");
    format!(
        "{OCC_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

fn parse_occurrence_id(id: &str) -> Option<(String, NaiveDate)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id.strip_prefix(OCC_PREFIX)?)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (m, d) = text.rsplit_once('|')?;
    Some((
        m.to_string(),
        NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?,
    ))
}

fn strip_html(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    let lower = s.to_ascii_lowercase();
    let body = match lower.find("<body") {
        Some(i) => &s[i..],
        None => s,
    };
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

fn to_html(s: &str) -> String {
    let esc = s
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace("\r\n", "\n")
        .replace('\n', "<br>\r\n");
    format!("<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n{esc}\r\n</body>\r\n</html>\r\n")
}

fn body_as(stored: Option<&Value>, text: bool) -> (Value, String) {
    let ct = stored
        .and_then(|b| b.get("contentType"))
        .and_then(Value::as_str)
        .unwrap_or("text");
    let content = stored
        .and_then(|b| b.get("content"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let plain = if ct == "html" {
        strip_html(content)
    } else {
        content.to_string()
    };
    let preview: String = plain.chars().take(255).collect();
    let body = if text {
        json!({"contentType": "text", "content": plain})
    } else if ct == "html" {
        json!({"contentType": "html", "content": content})
    } else {
        json!({"contentType": "html", "content": to_html(content)})
    };
    (body, preview)
}

fn render_time(
    local: NaiveDateTime,
    utc: DateTime<Utc>,
    all_day: bool,
    opts: &RenderOpts,
) -> Value {
    let pref = opts.tz.as_deref().and_then(|z| tz::zone(z).map(|t| (z, t)));
    if all_day {
        // All-day events are floating dates: Prefer outlook.timezone does not move them.
        let label = opts.tz.clone().unwrap_or_else(|| "UTC".into());
        return json!({"dateTime": fmt_local(local), "timeZone": label});
    }
    match pref {
        Some((name, zone)) => {
            json!({"dateTime": fmt_local(tz::from_utc(utc, zone)), "timeZone": name})
        }
        None => json!({"dateTime": fmt_local(utc.naive_utc()), "timeZone": "UTC"}),
    }
}

fn icaluid(item: &Item, occ: Option<&Occ>) -> String {
    let base = format!("040000008200E00074C5B7101A82E008{:032X}", item.key);
    match occ {
        Some(o) => format!("{base}{}", o.date.format("%Y%m%d")),
        None => base,
    }
}

/// Renders an event, or one occurrence of it.
pub(crate) fn render_with(
    st: &State,
    item: &Item,
    opts: &RenderOpts,
    occ: Option<&Occ>,
) -> Map<String, Value> {
    // An exception shows its own edits over the series' properties.
    let edited;
    let p = match occ.and_then(|o| o.edits.as_ref()) {
        Some(edits) => {
            let mut m = item.props.clone();
            m.extend(edits.iter().map(|(k, v)| (k.clone(), v.clone())));
            edited = m;
            &edited
        }
        None => &item.props,
    };
    let get = |k: &str, d: Value| p.get(k).cloned().unwrap_or(d);
    let all_day = p.get("isAllDay").and_then(Value::as_bool).unwrap_or(false);
    let span = occ.cloned().or_else(|| own_span(item));
    let master_id = shown_id(item, opts);
    let (id, ty, series_master) = match occ {
        Some(o) => (
            occurrence_id(&master_id, o.date),
            if o.edits.is_some() {
                "exception"
            } else {
                "occurrence"
            },
            Value::String(master_id.clone()),
        ),
        None if is_series(item) => (master_id.clone(), "seriesMaster", Value::Null),
        None => (master_id.clone(), "singleInstance", Value::Null),
    };
    let (body, preview) = body_as(p.get("body"), opts.text_body);
    let u = &st.cfg.user;
    let organizer = json!({"emailAddress": {"name": u.display_name, "address": u.mail}});
    let mut m = Map::new();
    m.insert(
        "@odata.etag".into(),
        Value::String(format!("W/\"{}\"", item.change_key)),
    );
    m.insert("id".into(), Value::String(id));
    m.insert("createdDateTime".into(), Value::String(fmt_7(item.created)));
    m.insert(
        "lastModifiedDateTime".into(),
        Value::String(fmt_7(item.modified)),
    );
    m.insert("changeKey".into(), Value::String(item.change_key.clone()));
    m.insert("categories".into(), get("categories", json!([])));
    m.insert("transactionId".into(), get("transactionId", Value::Null));
    m.insert(
        "originalStartTimeZone".into(),
        get("originalStartTimeZone", "UTC".into()),
    );
    m.insert(
        "originalEndTimeZone".into(),
        get("originalEndTimeZone", "UTC".into()),
    );
    m.insert("iCalUId".into(), Value::String(icaluid(item, occ)));
    m.insert(
        "reminderMinutesBeforeStart".into(),
        get("reminderMinutesBeforeStart", json!(15)),
    );
    m.insert("isReminderOn".into(), get("isReminderOn", json!(true)));
    m.insert("hasAttachments".into(), json!(false));
    m.insert("subject".into(), get("subject", Value::Null));
    m.insert("bodyPreview".into(), Value::String(preview));
    m.insert("importance".into(), get("importance", "normal".into()));
    m.insert("sensitivity".into(), get("sensitivity", "normal".into()));
    m.insert("isAllDay".into(), json!(all_day));
    m.insert("isCancelled".into(), json!(false));
    m.insert("isOrganizer".into(), get("isOrganizer", json!(true)));
    m.insert(
        "responseRequested".into(),
        get("responseRequested", json!(true)),
    );
    m.insert("seriesMasterId".into(), series_master);
    m.insert("showAs".into(), get("showAs", "busy".into()));
    m.insert("type".into(), ty.into());
    m.insert(
        "webLink".into(),
        Value::String(format!(
            "https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item",
            master_id
        )),
    );
    m.insert("onlineMeetingUrl".into(), Value::Null);
    m.insert(
        "isOnlineMeeting".into(),
        get("isOnlineMeeting", json!(false)),
    );
    m.insert(
        "onlineMeetingProvider".into(),
        get("onlineMeetingProvider", "unknown".into()),
    );
    m.insert(
        "allowNewTimeProposals".into(),
        get("allowNewTimeProposals", json!(true)),
    );
    m.insert("isDraft".into(), json!(false));
    m.insert("hideAttendees".into(), get("hideAttendees", json!(false)));
    m.insert(
        "responseStatus".into(),
        get(
            "responseStatus",
            json!({"response": "organizer", "time": "0001-01-01T00:00:00Z"}),
        ),
    );
    m.insert("body".into(), body);
    if let Some(o) = &span {
        m.insert(
            "start".into(),
            render_time(o.start_local, o.start_utc, all_day, opts),
        );
        m.insert(
            "end".into(),
            render_time(o.end_local, o.end_utc, all_day, opts),
        );
    }
    m.insert("location".into(), get("location", location(&json!({}))));
    m.insert("locations".into(), get("locations", json!([])));
    m.insert(
        "recurrence".into(),
        match (occ, p.get("recurrence")) {
            (None, Some(r)) if r.is_object() => filled_recurrence(r),
            _ => Value::Null,
        },
    );
    m.insert("attendees".into(), get("attendees", json!([])));
    m.insert("organizer".into(), get("organizer", organizer));
    m.insert("onlineMeeting".into(), Value::Null);
    m
}

/// Responses fill unused recurrence fields with zero values.
fn filled_recurrence(r: &Value) -> Value {
    let mut pattern = json!({"type": "daily", "interval": 1, "month": 0, "dayOfMonth": 0, "firstDayOfWeek": "sunday", "index": "first"});
    if let (Some(t), Some(p)) = (
        pattern.as_object_mut(),
        r.get("pattern").and_then(Value::as_object),
    ) {
        for (k, v) in p {
            t.insert(k.clone(), v.clone());
        }
        if !t.contains_key("daysOfWeek") {
            t.insert("daysOfWeek".into(), json!([]));
        }
    }
    let mut range = json!({"type": "noEnd", "startDate": "0001-01-01", "endDate": "0001-01-01", "recurrenceTimeZone": "UTC", "numberOfOccurrences": 0});
    if let (Some(t), Some(p)) = (
        range.as_object_mut(),
        r.get("range").and_then(Value::as_object),
    ) {
        for (k, v) in p {
            t.insert(k.clone(), v.clone());
        }
    }
    json!({"pattern": pattern, "range": range})
}

/// Renders a stored event (no occurrence).
pub(crate) fn render(st: &State, item: &Item, opts: &RenderOpts) -> Map<String, Value> {
    render_with(st, item, opts, None)
}

/// The rows calendarView delta returns for a changed event: skeletal occurrences, exceptions
/// (edited occurrences) in full, plus the series master (or the single instance). `None` when
/// nothing of it falls in the window.
pub(crate) fn delta_rows(
    st: &State,
    item: &Item,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    opts: &RenderOpts,
) -> Option<Vec<Value>> {
    let occs = instances(item, from, to);
    if occs.is_empty() {
        return None;
    }
    let mut rows = Vec::new();
    let full = |m: Map<String, Value>| {
        let mut out = Map::new();
        out.insert("@odata.type".into(), "#microsoft.graph.event".into());
        out.extend(m);
        Value::Object(out)
    };
    if is_series(item) {
        for o in &occs {
            let r = render_with(st, item, opts, Some(o));
            if o.edits.is_some() {
                rows.push(full(r));
                continue;
            }
            let mut m = Map::new();
            for k in [
                "@odata.etag",
                "id",
                "type",
                "seriesMasterId",
                "start",
                "end",
            ] {
                if let Some(v) = r.get(k) {
                    m.insert(k.into(), v.clone());
                }
            }
            rows.push(full(m));
        }
        if st.cfg.calendar_delta_includes_master {
            rows.push(full(render(st, item, opts)));
        }
    } else {
        rows.push(full(render(st, item, opts)));
    }
    Some(rows)
}

fn calendar_json(st: &State, id: &str) -> Map<String, Value> {
    let Some(c) = st.mbox.containers.get(id) else {
        return Map::new();
    };
    let u = &st.cfg.user;
    let mut m = Map::new();
    m.insert("id".into(), Value::String(c.id.clone()));
    for (k, v) in &c.props {
        m.insert(k.clone(), v.clone());
    }
    m.insert("changeKey".into(), Value::String(c.change_key.clone()));
    m.insert("canShare".into(), json!(true));
    m.insert("canViewPrivateItems".into(), json!(true));
    m.insert("canEdit".into(), json!(true));
    m.insert(
        "owner".into(),
        json!({"name": u.display_name, "address": u.mail}),
    );
    m
}

/// `GET /me/calendars`.
pub(crate) fn list_calendars(st: &State, base: &str, req: &Req) -> Resp {
    let value: Vec<Value> = st
        .mbox
        .container_order
        .iter()
        .filter(|id| st.container(id, ContainerKind::Calendar).is_some())
        .map(|id| Value::Object(calendar_json(st, id)))
        .collect();
    Resp::json(
        200,
        json!({"@odata.context": context_url(base, req), "value": value}),
    )
}

/// `POST /me/calendars`.
pub(crate) fn create_calendar(st: &mut State, base: &str, req: &Req) -> Resp {
    let body = match body_object(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(name) = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return invalid("The name property is required.");
    };
    let dup = st.mbox.containers.values().any(|c| {
        c.kind == ContainerKind::Calendar
            && c.props
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
    });
    if dup {
        return error(
            409,
            "ErrorFolderExists",
            "A folder with the specified name already exists.",
        );
    }
    let id = st.new_container(ContainerKind::Calendar, None, name);
    single(base, req, 201, calendar_json(st, &id))
}

/// `/me/calendar/…` and `/me/calendars/{id}/…`.
pub(crate) fn route_calendar(
    st: &mut State,
    base: &str,
    req: &Req,
    cal: &str,
    rest: &[&str],
    control: bool,
) -> Resp {
    let m = req.method.as_str();
    match rest {
        [] => match m {
            "GET" => single(base, req, 200, calendar_json(st, cal)),
            "PATCH" => {
                let body = match body_object(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                if let Some(c) = st.mbox.containers.get_mut(cal) {
                    for k in ["name", "color"] {
                        if let Some(v) = body.get(k) {
                            c.props.insert(k.into(), v.clone());
                        }
                    }
                }
                single(base, req, 200, calendar_json(st, cal))
            }
            "DELETE" => {
                if cal == st.mbox.default_calendar {
                    return error(
                        400,
                        "ErrorInvalidRequest",
                        "The default calendar cannot be deleted.",
                    );
                }
                let members: Vec<u64> = st
                    .mbox
                    .containers
                    .get(cal)
                    .map(|c| c.members.iter().copied().collect())
                    .unwrap_or_default();
                for k in members {
                    st.delete_item(k);
                }
                st.mbox.containers.remove(cal);
                st.mbox.container_order.retain(|c| c != cal);
                Resp::no_content()
            }
            _ => bad_method(),
        },
        ["events"] => match m {
            "GET" => list_items(st, base, req, Kind::Event, cal, false),
            "POST" => create(st, base, req, cal, control),
            _ => bad_method(),
        },
        ["calendarView"] => match m {
            "GET" => calendar_view(st, base, req, cal),
            _ => bad_method(),
        },
        ["events", eid] => match st.item_key(eid, Kind::Event) {
            Some(k) if st.mbox.items.get(&k).is_some_and(|i| i.container == cal) => {
                one(st, base, req, k, control)
            }
            _ => not_found(),
        },
        _ => no_route(m, &req.path),
    }
}

/// `/me/events/…`
pub(crate) fn route_events(
    st: &mut State,
    base: &str,
    req: &Req,
    rest: &[&str],
    control: bool,
) -> Resp {
    let m = req.method.as_str();
    let cal = st.mbox.default_calendar.clone();
    match rest {
        [] => match m {
            "GET" => list_items(st, base, req, Kind::Event, &cal, true),
            "POST" => create(st, base, req, &cal, control),
            _ => bad_method(),
        },
        [eid] => {
            if let Some((master, date)) = parse_occurrence_id(eid) {
                return occurrence(st, base, req, &master, date, eid);
            }
            match st.item_key(eid, Kind::Event) {
                Some(k) => one(st, base, req, k, control),
                None => not_found(),
            }
        }
        [eid, "instances"] => match (m, st.item_key(eid, Kind::Event)) {
            ("GET", Some(k)) => {
                let Some((from, to)) = window(req) else {
                    return window_error();
                };
                let opts = match RenderOpts::from_req(req) {
                    Ok(o) => o,
                    Err(r) => return r,
                };
                let Some(item) = st.mbox.items.get(&k) else {
                    return not_found();
                };
                let value: Vec<Value> = if is_series(item) {
                    instances(item, from, to)
                        .iter()
                        .map(|o| Value::Object(render_with(st, item, &opts, Some(o))))
                        .collect()
                } else {
                    Vec::new()
                };
                Resp::json(
                    200,
                    json!({"@odata.context": context_url(base, req), "value": value}),
                )
            }
            ("GET", None) => not_found(),
            _ => bad_method(),
        },
        _ => no_route(m, &req.path),
    }
}

fn occurrence(
    st: &mut State,
    base: &str,
    req: &Req,
    master: &str,
    date: NaiveDate,
    _id: &str,
) -> Resp {
    let Some(k) = st.item_key(master, Kind::Event) else {
        return not_found();
    };
    let opts = match RenderOpts::from_req(req) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(item) = st.mbox.items.get(&k) else {
        return not_found();
    };
    if !is_series(item) {
        return not_found();
    }
    let Some(occ) = expand(item, date).into_iter().find(|o| o.date == date) else {
        return not_found();
    };
    match req.method.as_str() {
        "GET" => {
            let mut occ_json = render_with(st, item, &opts, Some(&occ));
            if let Some(sel) = &opts.select {
                super::odata::apply_select(&mut occ_json, sel);
            }
            single(base, req, 200, occ_json)
        }
        "DELETE" => {
            // Cancelling one occurrence leaves the series' change key alone; reported to
            // produce no delta signal [obs].
            if let Some(item) = st.mbox.items.get_mut(&k) {
                let list = item.props.entry("_cancelled").or_insert_with(|| json!([]));
                if let Some(a) = list.as_array_mut() {
                    a.push(Value::String(date.to_string()));
                }
                if let Some(x) = item
                    .props
                    .get_mut(EXCEPTIONS)
                    .and_then(Value::as_object_mut)
                {
                    x.remove(&date.to_string());
                }
            }
            Resp::no_content()
        }
        "PATCH" => edit_occurrence(st, base, req, k, &occ, opts),
        _ => bad_method(),
    }
}

/// `PATCH` on one occurrence: it becomes an exception holding its own edits. The series'
/// change key changes (its exceptions are part of it), so the series shows up in delta again,
/// with the exception in full.
fn edit_occurrence(
    st: &mut State,
    base: &str,
    req: &Req,
    key: u64,
    occ: &Occ,
    opts: RenderOpts,
) -> Resp {
    let Some(item) = st.mbox.items.get(&key) else {
        return not_found();
    };
    if let Err(r) = check_if_match(req, &item.change_key) {
        return r;
    }
    let body = match body_object(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if body.contains_key("recurrence") {
        return invalid("An occurrence of a series cannot have a recurrence of its own.");
    }
    // The occurrence's own times are kept explicit, so moving the series keeps it where it is.
    let zone = series_zone(item).to_string();
    let mut edits = occ.edits.clone().unwrap_or_else(|| {
        let at = |t: NaiveDateTime| json!({"dateTime": fmt_local(t), "timeZone": zone});
        let mut m = Map::new();
        m.insert("start".into(), at(occ.start_local));
        m.insert("end".into(), at(occ.end_local));
        m
    });
    if let Err(r) = apply(&mut edits, &body, false) {
        return r;
    }
    let mut whole = item.props.clone();
    whole.extend(edits.iter().map(|(k, v)| (k.clone(), v.clone())));
    if let Err(r) = check_event(&whole) {
        return r;
    }
    let date = occ.date;
    if let Some(item) = st.mbox.items.get_mut(&key) {
        let x = item
            .props
            .entry(EXCEPTIONS)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(x) = x.as_object_mut() {
            x.insert(date.to_string(), Value::Object(edits));
        }
    }
    st.touch_item(key);
    let Some(item) = st.mbox.items.get(&key) else {
        return not_found();
    };
    let Some(occ) = expand(item, date).into_iter().find(|o| o.date == date) else {
        return not_found();
    };
    let opts = RenderOpts {
        expand: Vec::new(),
        ..opts
    };
    single(base, req, 200, render_with(st, item, &opts, Some(&occ)))
}

fn window(req: &Req) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let p = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .ok()
            .or_else(|| tz::parse_local(s).map(|n| n.and_utc()))
    };
    Some((p(req.q("startDateTime")?)?, p(req.q("endDateTime")?)?))
}

fn window_error() -> Resp {
    error(
        400,
        "ErrorInvalidParameter",
        "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
    )
}

/// `GET /me/calendarView` and `/me/calendars/{id}/calendarView`: occurrences, exceptions and
/// single instances in the window, with full data, sorted by start.
pub(crate) fn calendar_view(st: &State, base: &str, req: &Req, cal: &str) -> Resp {
    let Some((from, to)) = window(req) else {
        return window_error();
    };
    let opts = match RenderOpts::from_req(req) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let filter = match req.q("filter").map(super::odata::parse_filter) {
        Some(Ok(f)) => Some(f),
        Some(Err(m)) => return invalid(&format!("Invalid filter clause: {m}")),
        None => None,
    };
    let (top, skip) = match super::api::paging(req) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(c) = st.mbox.containers.get(cal) else {
        return not_found();
    };
    let mut rows: Vec<(DateTime<Utc>, u64, Option<Occ>)> = Vec::new();
    for k in &c.members {
        let Some(item) = st.mbox.items.get(k) else {
            continue;
        };
        if let Some(f) = &filter {
            if !super::odata::eval(f, &super::api::filter_view(st, item)) {
                continue;
            }
        }
        for o in instances(item, from, to) {
            rows.push((
                o.start_utc,
                *k,
                if is_series(item) { Some(o) } else { None },
            ));
        }
    }
    rows.sort_by_key(|(t, k, _)| (*t, *k));
    let more = rows.len() > skip + top;
    let value: Vec<Value> = rows
        .iter()
        .skip(skip)
        .take(top)
        .filter_map(|(_, k, o)| {
            let item = st.mbox.items.get(k)?;
            let mut m = render_with(st, item, &opts, o.as_ref());
            if let Some(sel) = &opts.select {
                super::odata::apply_select(&mut m, sel);
            }
            Some(Value::Object(m))
        })
        .collect();
    let mut out = json!({"@odata.context": context_url(base, req), "value": value});
    if more {
        out["@odata.nextLink"] = Value::String(super::api::next_link(base, req, skip + top, top));
    }
    Resp::json(200, out)
}

fn create(st: &mut State, base: &str, req: &Req, cal: &str, control: bool) -> Resp {
    let mut body = match body_object(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ext = match take_ext(&mut body) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let mut props = Map::new();
    if let Err(r) = apply(&mut props, &body, control) {
        return r;
    }
    if let Err(r) = check_event(&props) {
        return r;
    }
    let key = st.insert_item(Kind::Event, cal, props, ext, Vec::new());
    let opts = match RenderOpts::from_req(req) {
        Ok(o) => RenderOpts {
            expand: Vec::new(),
            ..o
        },
        Err(r) => return r,
    };
    let Some(item) = st.mbox.items.get(&key) else {
        return not_found();
    };
    single(base, req, 201, render(st, item, &opts))
}

fn one(st: &mut State, base: &str, req: &Req, key: u64, control: bool) -> Resp {
    let opts = match RenderOpts::from_req(req) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(item) = st.mbox.items.get(&key) else {
        return not_found();
    };
    match req.method.as_str() {
        "GET" => single(base, req, 200, render_any(st, item, &opts)),
        "PATCH" => {
            if let Err(r) = check_if_match(req, &item.change_key) {
                return r;
            }
            let mut body = match body_object(req) {
                Ok(b) => b,
                Err(r) => return r,
            };
            let ext = match take_ext(&mut body) {
                Ok(e) => e,
                Err(r) => return r,
            };
            let mut props = item.props.clone();
            if let Err(r) = apply(&mut props, &body, control) {
                return r;
            }
            if let Err(r) = check_event(&props) {
                return r;
            }
            if let Some(item) = st.mbox.items.get_mut(&key) {
                item.props = props;
                merge_ext(&mut item.ext, ext);
            }
            st.touch_item(key);
            let Some(item) = st.mbox.items.get(&key) else {
                return not_found();
            };
            single(
                base,
                req,
                200,
                render(
                    st,
                    item,
                    &RenderOpts {
                        expand: Vec::new(),
                        ..opts
                    },
                ),
            )
        }
        "DELETE" => {
            if let Err(r) = check_if_match(req, &item.change_key) {
                return r;
            }
            st.delete_item(key);
            Resp::no_content()
        }
        _ => bad_method(),
    }
}
