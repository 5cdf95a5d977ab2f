//! Delta queries: folder-scoped contacts and To Do tasks, and the primary calendar's
//! `calendarView/delta` with its frozen window.
//!
//! A round snapshots the mailbox's sequence number at its first page and walks the container's
//! change log up to it; tokens are opaque keys into server-side state, bound to their scope.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::api::{render, RenderOpts};
use super::events;
use super::http::{error, sync_state_not_found, Req, Resp};
use super::odata;
use super::state::{DeltaScope, DeltaToken, Kind, LogEntry, State};

const DEFAULT_DELTA_PAGE: usize = 10;

fn not_implemented() -> Resp {
    error(
        501,
        "NotImplemented",
        "This operation target is not yet supported.",
    )
}

/// Looks up the token in the request, if any; `Err` is a 410 (or a 400 for a foreign scope).
fn token_from(st: &State, req: &Req) -> Result<Option<DeltaToken>, Resp> {
    let text = req.q("skiptoken").or_else(|| req.q("deltatoken"));
    let Some(text) = text else { return Ok(None) };
    let highest = st.mbox.token_counter;
    match st.mbox.delta_tokens.get(text) {
        Some(t) if t.generation >= st.mbox.tokens_valid_from => Ok(Some(t.clone())),
        Some(t) => Err(sync_state_not_found(t.generation, highest)),
        None => Err(sync_state_not_found(0, highest)),
    }
}

fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| super::tz::parse_local(s).map(|n| n.and_utc()))
}

/// `GET …/contacts/delta` and `GET /me/todo/lists/{id}/tasks/delta`.
pub(crate) fn container_delta(
    st: &mut State,
    base: &str,
    req: &Req,
    container: &str,
    kind: Kind,
) -> Resp {
    let tok = match token_from(st, req) {
        Ok(Some(t)) => {
            if !matches!(&t.scope, DeltaScope::Container(c) if c == container) {
                return error(
                    400,
                    "ErrorInvalidRequest",
                    "The delta token does not belong to this collection.",
                );
            }
            t
        }
        Ok(None) => {
            let unsupported: &[&str] = match kind {
                Kind::Contact => &["filter", "top", "expand", "orderby", "search"],
                _ => &["filter", "orderby", "search"],
            };
            if unsupported.iter().any(|q| req.q(q).is_some()) {
                return not_implemented();
            }
            let page_size = match req.q("top").map(str::parse::<usize>) {
                Some(Ok(n)) if n > 0 => Some(n),
                Some(_) => return error(400, "ErrorInvalidRequest", "Invalid value for $top."),
                None => None,
            };
            if let Some(e) = req.q("expand") {
                if let Err(m) = odata::parse_expand(e) {
                    return error(400, "ErrorInvalidRequest", &format!("Invalid $expand: {m}"));
                }
            }
            DeltaToken {
                generation: 0,
                scope: DeltaScope::Container(container.to_string()),
                since: 0,
                initial: true,
                upto: None,
                cursor: 0,
                select: req.q("select").map(odata::parse_select),
                expand: req.q("expand").map(str::to_string),
                page_size,
            }
        }
        Err(r) => return r,
    };
    run(st, base, req, tok, kind)
}

/// `GET /me/calendarView/delta?startDateTime&endDateTime`.
pub(crate) fn calendar_view_delta(st: &mut State, base: &str, req: &Req) -> Resp {
    let tok = match token_from(st, req) {
        Ok(Some(t)) => {
            if !matches!(t.scope, DeltaScope::CalendarView { .. }) {
                return error(
                    400,
                    "ErrorInvalidRequest",
                    "The delta token does not belong to this collection.",
                );
            }
            t
        }
        Ok(None) => {
            if ["select", "filter", "expand", "orderby", "search"]
                .iter()
                .any(|q| req.q(q).is_some())
            {
                return not_implemented();
            }
            let (Some(s), Some(e)) = (req.q("startDateTime"), req.q("endDateTime")) else {
                return error(
                    400,
                    "ErrorInvalidParameter",
                    "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
                );
            };
            let (Some(start), Some(end)) = (parse_instant(s), parse_instant(e)) else {
                return error(
                    400,
                    "ErrorInvalidParameter",
                    "The value of StartDateTime or EndDateTime is invalid.",
                );
            };
            DeltaToken {
                generation: 0,
                scope: DeltaScope::CalendarView {
                    calendar: st.mbox.default_calendar.clone(),
                    start,
                    end,
                },
                since: 0,
                initial: true,
                upto: None,
                cursor: 0,
                select: None,
                expand: None,
                page_size: None,
            }
        }
        Err(r) => return r,
    };
    run(st, base, req, tok, Kind::Event)
}

fn removed(kind: Kind, id: &str) -> Value {
    json!({"@odata.type": kind.odata_type(), "id": id, "@removed": {"reason": "deleted"}})
}

fn run(st: &mut State, base: &str, req: &Req, tok: DeltaToken, kind: Kind) -> Resp {
    let initial = tok.initial;
    let (since, upto, cursor) = match tok.upto {
        Some(u) => (tok.since, u, tok.cursor),
        None => (tok.since, st.mbox.seq, tok.since),
    };
    let pref_size = req
        .pref("odata.maxpagesize")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0);
    let page_size = pref_size.or(tok.page_size).unwrap_or(DEFAULT_DELTA_PAGE);
    let mut opts = RenderOpts {
        immutable: req.immutable(),
        tz: req.pref("outlook.timezone"),
        text_body: req
            .pref("outlook.body-content-type")
            .is_some_and(|v| v.eq_ignore_ascii_case("text")),
        select: tok.select.clone(),
        expand: Vec::new(),
    };
    if let Some(e) = &tok.expand {
        opts.expand = odata::parse_expand(e).unwrap_or_default();
    }
    let container = match &tok.scope {
        DeltaScope::Container(c) => c.clone(),
        DeltaScope::CalendarView { calendar, .. } => calendar.clone(),
    };
    let Some(c) = st.mbox.containers.get(&container) else {
        return error(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        );
    };
    let mut rows: Vec<Value> = Vec::new();
    let mut last = cursor;
    use std::ops::Bound;
    let mut entries = c
        .log
        .range((Bound::Excluded(cursor), Bound::Included(upto.max(cursor))));
    let mut emitted = 0usize;
    for (seq, entry) in entries.by_ref() {
        last = *seq;
        match entry {
            LogEntry::Live(key) => {
                let Some(item) = st.mbox.items.get(key) else {
                    continue;
                };
                match &tok.scope {
                    DeltaScope::Container(_) => {
                        let mut m = Map::new();
                        m.insert("@odata.type".into(), kind.odata_type().into());
                        m.append(&mut render(st, item, &opts));
                        rows.push(Value::Object(m));
                    }
                    DeltaScope::CalendarView { start, end, .. } => {
                        match events::delta_rows(st, item, *start, *end, &opts) {
                            Some(mut r) => rows.append(&mut r),
                            None if !initial => {
                                rows.push(removed(kind, &super::api::shown_id(item, &opts)));
                            }
                            None => continue,
                        }
                    }
                }
            }
            LogEntry::Removed {
                regular_id,
                immutable_id,
            } => {
                if initial {
                    continue;
                }
                let id = if opts.immutable {
                    immutable_id
                } else {
                    regular_id
                };
                rows.push(removed(kind, id));
            }
        }
        emitted += 1;
        if emitted >= page_size {
            break;
        }
    }
    let more = entries.next().is_some();
    // Delta rounds may repeat an item (documented); the knob makes that happen on demand.
    let replay = st.faults.delta_replay_rate;
    if replay > 0.0 {
        let mut extra = Vec::new();
        for r in &rows {
            if r.get("@removed").is_none() && st.roll(replay) {
                extra.push(r.clone());
            }
        }
        rows.extend(extra);
    }
    let link_key;
    let new_tok = if more {
        link_key = "@odata.nextLink";
        DeltaToken {
            upto: Some(upto),
            since,
            cursor: last,
            ..tok
        }
    } else {
        link_key = "@odata.deltaLink";
        DeltaToken {
            upto: None,
            since: upto,
            cursor: upto,
            initial: false,
            ..tok
        }
    };
    let text = st.new_delta_token(new_tok);
    let param = if more { "$skiptoken" } else { "$deltatoken" };
    let link = format!("{base}{}?{param}={text}", req.path);
    if let Some(left) = st.mbox.delta_pages_left {
        if left <= 1 {
            st.mbox.delta_pages_left = None;
            st.expire_delta_tokens();
        } else {
            st.mbox.delta_pages_left = Some(left - 1);
        }
    }
    let mut out = Map::new();
    out.insert("@odata.context".into(), super::api::context_url(base, req));
    out.insert("value".into(), Value::Array(rows));
    out.insert(link_key.into(), Value::String(link));
    let mut resp = Resp::json(200, Value::Object(out));
    if let Some(n) = pref_size {
        resp = resp.with_header("Preference-Applied", format!("odata.maxpagesize={n}"));
    }
    resp
}
