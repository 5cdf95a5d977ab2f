//! The Graph v1.0 router: one synchronous function from a request to a response, run under the
//! state lock, used by plain HTTP requests, `$batch` items and the control API alike.

use serde_json::{json, Map, Value};

use super::http::{bad_method, bad_request, error, no_route, not_found, Req, Resp};
use super::odata::{self, Expand, Expr};
use super::state::{ContainerKind, Item, Kind, State};
use super::{contacts, delta, events, todo};

/// How items are rendered for one request.
#[derive(Clone, Debug, Default)]
pub(crate) struct RenderOpts {
    pub immutable: bool,
    pub tz: Option<String>,
    pub text_body: bool,
    pub select: Option<Vec<String>>,
    pub expand: Vec<Expand>,
}

impl RenderOpts {
    /// Reads the Prefer headers and `$select`/`$expand`.
    pub(crate) fn from_req(req: &Req) -> Result<RenderOpts, Resp> {
        let expand = match req.q("expand") {
            Some(e) => {
                odata::parse_expand(e).map_err(|m| bad_request(&format!("Invalid $expand: {m}")))?
            }
            None => Vec::new(),
        };
        Ok(RenderOpts {
            immutable: req.immutable(),
            tz: req.pref("outlook.timezone"),
            text_body: req
                .pref("outlook.body-content-type")
                .is_some_and(|v| v.eq_ignore_ascii_case("text")),
            select: req.q("select").map(odata::parse_select),
            expand,
        })
    }
}

/// The id an item shows in a response.
pub(crate) fn shown_id(item: &Item, opts: &RenderOpts) -> String {
    if opts.immutable {
        item.immutable_id.clone()
    } else {
        item.regular_id.clone()
    }
}

/// Renders an item of any kind with select and expand applied.
pub(crate) fn render(st: &State, item: &Item, opts: &RenderOpts) -> Map<String, Value> {
    let mut m = match item.kind {
        Kind::Contact => contacts::render(st, item, opts),
        Kind::Event => events::render(st, item, opts),
        Kind::Task => todo::render(st, item, opts),
    };
    for ex in &opts.expand {
        if ex
            .name
            .eq_ignore_ascii_case("singleValueExtendedProperties")
        {
            let props: Vec<Value> = item
                .ext
                .iter()
                .map(|(id, v)| json!({"id": id, "value": v}))
                .filter(|p| ex.filter.as_ref().is_none_or(|f| odata::eval(f, p)))
                .collect();
            if !props.is_empty() {
                m.insert("singleValueExtendedProperties".into(), Value::Array(props));
            }
        } else if ex.name.eq_ignore_ascii_case("linkedResources") && item.kind == Kind::Task {
            m.insert(
                "linkedResources".into(),
                Value::Array(item.links.iter().cloned().map(Value::Object).collect()),
            );
        }
    }
    if let Some(sel) = &opts.select {
        let mut sel = sel.clone();
        sel.extend(opts.expand.iter().map(|e| e.name.clone()));
        odata::apply_select(&mut m, &sel);
    }
    m
}

/// The view of an item that `$filter` runs against: everything, plus its extended properties.
pub(crate) fn filter_view(st: &State, item: &Item) -> Value {
    let mut m = match item.kind {
        Kind::Contact => contacts::render(st, item, &RenderOpts::default()),
        Kind::Event => events::render(st, item, &RenderOpts::default()),
        Kind::Task => todo::render(st, item, &RenderOpts::default()),
    };
    m.insert(
        "singleValueExtendedProperties".into(),
        Value::Array(
            item.ext
                .iter()
                .map(|(id, v)| json!({"id": id, "value": v}))
                .collect(),
        ),
    );
    Value::Object(m)
}

/// Checks `If-Match` against the item's etag.
pub(crate) fn check_if_match(req: &Req, change_key: &str) -> Result<(), Resp> {
    let Some(h) = req.header("if-match") else {
        return Ok(());
    };
    let h = h.trim();
    if h == "*" {
        return Ok(());
    }
    let given = h.trim_start_matches("W/").trim_matches('"');
    if given == change_key {
        Ok(())
    } else {
        Err(error(
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
        ))
    }
}

/// Takes `singleValueExtendedProperties` out of a write body.
pub(crate) fn take_ext(body: &mut Map<String, Value>) -> Result<Vec<(String, String)>, Resp> {
    let Some(v) = body.remove("singleValueExtendedProperties") else {
        return Ok(Vec::new());
    };
    let Value::Array(arr) = v else {
        return Err(bad_request(
            "singleValueExtendedProperties must be an array.",
        ));
    };
    let mut out = Vec::new();
    for p in arr {
        let id = p.get("id").and_then(Value::as_str);
        let value = p.get("value");
        match (id, value) {
            (Some(id), Some(Value::String(v))) if odata::canonical_ext_id(id).is_some() => {
                out.push((id.to_string(), v.clone()))
            }
            (Some(id), Some(Value::Number(n))) if odata::canonical_ext_id(id).is_some() => {
                out.push((id.to_string(), n.to_string()))
            }
            _ => {
                return Err(error(
                    400,
                    "ErrorInvalidExtendedPropertyValue",
                    "The extended property id or value is invalid.",
                ))
            }
        }
    }
    Ok(out)
}

/// Merges extended properties (same id replaces).
pub(crate) fn merge_ext(into: &mut Vec<(String, String)>, new: Vec<(String, String)>) {
    for (id, v) in new {
        let canon = odata::canonical_ext_id(&id);
        if let Some(slot) = into
            .iter_mut()
            .find(|(i, _)| odata::canonical_ext_id(i) == canon)
        {
            slot.1 = v;
        } else {
            into.push((id, v));
        }
    }
}

/// The 400 for an unknown property in a write body.
pub(crate) fn unknown_property(name: &str, ty: &str) -> Resp {
    error(
        400,
        "RequestBodyRead",
        &format!(
            "The property '{name}' does not exist on type 'microsoft.graph.{ty}'. Make sure to only use property names that are defined by the type or mark the type as open type."
        ),
    )
}

/// The body of a write request as an object.
pub(crate) fn body_object(req: &Req) -> Result<Map<String, Value>, Resp> {
    if req.bad_body {
        return Err(error(
            400,
            "RequestBodyRead",
            "Invalid JSON in the request body.",
        ));
    }
    match &req.body {
        Some(Value::Object(m)) => Ok(m.clone()),
        None => Err(error(
            400,
            "RequestBodyRead",
            "Empty Payload. JSON content expected.",
        )),
        Some(_) => Err(error(400, "RequestBodyRead", "A JSON object was expected.")),
    }
}

/// Default page size for collections.
const DEFAULT_PAGE: usize = 10;

/// Lists items of a container (or the whole mailbox for extended-property searches), with
/// `$filter`, `$top`, `$skip`, `$select`, `$expand` and an `@odata.nextLink`.
pub(crate) fn list_items(
    st: &State,
    base: &str,
    req: &Req,
    kind: Kind,
    container: &str,
    mailbox_wide_ext: bool,
) -> Resp {
    let opts = match RenderOpts::from_req(req) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let filter: Option<Expr> = match req.q("filter") {
        Some(f) => match odata::parse_filter(f) {
            Ok(e) => Some(e),
            Err(m) => return bad_request(&format!("Invalid filter clause: {m}")),
        },
        None => None,
    };
    let (top, skip) = match paging(req) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let containers: Vec<String> = match &filter {
        Some(f) if mailbox_wide_ext && odata::mentions(f, "singleValueExtendedProperties") => {
            let ck = match kind {
                Kind::Contact => ContainerKind::ContactFolder,
                Kind::Event => ContainerKind::Calendar,
                Kind::Task => ContainerKind::TaskList,
            };
            st.mbox
                .container_order
                .iter()
                .filter(|c| st.mbox.containers.get(*c).is_some_and(|c| c.kind == ck))
                .cloned()
                .collect()
        }
        _ => vec![container.to_string()],
    };
    let keys = containers
        .iter()
        .filter_map(|c| st.mbox.containers.get(c))
        .flat_map(|c| c.members.iter().copied())
        .filter_map(|k| st.mbox.items.get(&k))
        .filter(|it| {
            filter
                .as_ref()
                .is_none_or(|f| odata::eval(f, &filter_view(st, it)))
        });
    let page: Vec<&Item> = keys.skip(skip).take(top + 1).collect();
    let more = page.len() > top;
    let value: Vec<Value> = page
        .iter()
        .take(top)
        .map(|it| Value::Object(render(st, it, &opts)))
        .collect();
    let mut out = Map::new();
    out.insert("@odata.context".into(), context_url(base, req));
    out.insert("value".into(), Value::Array(value));
    if more {
        out.insert(
            "@odata.nextLink".into(),
            Value::String(next_link(base, req, skip + top, top)),
        );
    }
    Resp::json(200, Value::Object(out))
}

/// Reads `$top` and `$skip`.
pub(crate) fn paging(req: &Req) -> Result<(usize, usize), Resp> {
    let top = match req.q("top") {
        Some(t) => match t.parse::<usize>() {
            Ok(n) if n > 0 => n.min(1000),
            _ => return Err(bad_request("Invalid value for $top.")),
        },
        None => DEFAULT_PAGE,
    };
    let skip = match req.q("skip") {
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| bad_request("Invalid value for $skip."))?,
        None => 0,
    };
    Ok((top, skip))
}

/// A nextLink for the same query with a new `$skip`.
pub(crate) fn next_link(base: &str, req: &Req, skip: usize, top: usize) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    let mut had_top = false;
    for (k, v) in &req.query {
        let bare = k.trim_start_matches('$');
        if bare.eq_ignore_ascii_case("skip") {
            continue;
        }
        if bare.eq_ignore_ascii_case("top") {
            had_top = true;
        }
        ser.append_pair(k, v);
    }
    if !had_top && top != DEFAULT_PAGE {
        ser.append_pair("$top", &top.to_string());
    }
    ser.append_pair("$skip", &skip.to_string());
    format!("{base}{}?{}", req.path, ser.finish())
}

/// An `@odata.context` value for a response.
pub(crate) fn context_url(base: &str, req: &Req) -> Value {
    Value::String(format!(
        "{base}/$metadata#{}",
        req.path.trim_start_matches('/')
    ))
}

/// Wraps a rendered single item with its context.
pub(crate) fn single(base: &str, req: &Req, status: u16, mut m: Map<String, Value>) -> Resp {
    let mut out = Map::new();
    out.insert("@odata.context".into(), context_url(base, req));
    out.append(&mut m);
    Resp::json(status, Value::Object(out))
}

/// Routes one Graph request. `control` lets seeding set read-only fields.
pub(crate) fn dispatch(st: &mut State, base: &str, req: &Req, control: bool) -> Resp {
    let segs: Vec<String> = req
        .path
        .trim_matches('/')
        .split('/')
        .map(pct_decode)
        .collect();
    let mut segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    // `/users/{id-or-upn}/…` addresses the same single mailbox.
    if segs.first() == Some(&"users") && segs.len() >= 2 {
        let who = segs[1];
        if who != st.cfg.user.id && !who.eq_ignore_ascii_case(&st.cfg.user.user_principal_name) {
            return error(404, "ErrorInvalidUser", "The requested user is invalid.");
        }
        segs.splice(0..2, ["me"]);
    }
    let m = req.method.as_str();
    match segs.as_slice() {
        ["me"] => match m {
            "GET" => me(st, base, req),
            _ => bad_method(),
        },
        ["me", "mailboxSettings"] => match m {
            "GET" => single(
                base,
                req,
                200,
                json!({
                    "archiveFolder": null,
                    "timeZone": st.cfg.time_zone,
                    "language": {"locale": "en-US", "displayName": "English (United States)"},
                    "dateFormat": "M/d/yyyy",
                    "timeFormat": "h:mm tt",
                    "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
                    "workingHours": {
                        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                        "startTime": "08:00:00.0000000",
                        "endTime": "17:00:00.0000000",
                        "timeZone": {"name": st.cfg.time_zone}
                    }
                })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ),
            _ => bad_method(),
        },
        ["me", "outlook", "masterCategories"] => match m {
            "GET" => list_categories(st, base, req),
            "POST" => create_category(st, base, req),
            _ => bad_method(),
        },
        ["me", "outlook", "masterCategories", id] => category_one(st, base, req, id),
        ["me", "contactFolders", rest @ ..] => {
            contacts::route_folders(st, base, req, rest, control)
        }
        ["me", "contacts", rest @ ..] => contacts::route_contacts(st, base, req, rest, control),
        ["me", "todo", "lists", rest @ ..] => todo::route(st, base, req, rest, control),
        ["me", "calendarView", "delta"] => match m {
            "GET" => delta::calendar_view_delta(st, base, req),
            _ => bad_method(),
        },
        ["me", "calendarView"] => match m {
            "GET" => {
                let cal = st.mbox.default_calendar.clone();
                events::calendar_view(st, base, req, &cal)
            }
            _ => bad_method(),
        },
        ["me", "calendar", rest @ ..] => {
            let cal = st.mbox.default_calendar.clone();
            events::route_calendar(st, base, req, &cal, rest, control)
        }
        ["me", "calendars"] => match m {
            "GET" => events::list_calendars(st, base, req),
            "POST" => events::create_calendar(st, base, req),
            _ => bad_method(),
        },
        ["me", "calendars", id, rest @ ..] => {
            if st.container(id, ContainerKind::Calendar).is_none() {
                return not_found();
            }
            let id = id.to_string();
            events::route_calendar(st, base, req, &id, rest, control)
        }
        ["me", "events", rest @ ..] => events::route_events(st, base, req, rest, control),
        _ => no_route(m, &req.path),
    }
}

fn me(st: &State, base: &str, req: &Req) -> Resp {
    let u = &st.cfg.user;
    let (given, surname) = match u.display_name.split_once(' ') {
        Some((g, s)) => (Value::String(g.into()), Value::String(s.into())),
        None => (Value::String(u.display_name.clone()), Value::Null),
    };
    let mut m = json!({
        "businessPhones": [],
        "displayName": u.display_name,
        "givenName": given,
        "jobTitle": null,
        "mail": u.mail,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": "en-US",
        "surname": surname,
        "userPrincipalName": u.user_principal_name,
        "id": u.id,
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    if let Some(sel) = req.q("select") {
        odata::apply_select(&mut m, &odata::parse_select(sel));
    }
    single(base, req, 200, m)
}

fn category_json(c: &super::state::Category) -> Map<String, Value> {
    json!({"id": c.id, "displayName": c.display_name, "color": c.color})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

const COLORS: usize = 25;

fn valid_color(c: &str) -> bool {
    c == "none"
        || c.strip_prefix("preset")
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n < COLORS)
}

fn list_categories(st: &State, base: &str, req: &Req) -> Resp {
    let value: Vec<Value> = st
        .mbox
        .categories
        .iter()
        .map(|c| Value::Object(category_json(c)))
        .collect();
    Resp::json(
        200,
        json!({"@odata.context": context_url(base, req), "value": value}),
    )
}

fn create_category(st: &mut State, base: &str, req: &Req) -> Resp {
    let body = match body_object(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    for k in body.keys() {
        if !matches!(k.as_str(), "displayName" | "color") && !k.starts_with('@') {
            return unknown_property(k, "outlookCategory");
        }
    }
    let Some(name) = body
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
    else {
        return bad_request("The displayName property is required.");
    };
    let color = body
        .get("color")
        .and_then(Value::as_str)
        .unwrap_or("none")
        .to_string();
    if !valid_color(&color) {
        return bad_request("Invalid value for color.");
    }
    if st
        .mbox
        .categories
        .iter()
        .any(|c| c.display_name.to_lowercase() == name.to_lowercase())
    {
        return error(
            409,
            "ErrorDuplicateObject",
            "An object with the same key already exists.",
        );
    }
    let id = st.new_guid();
    let c = super::state::Category {
        id,
        display_name: name.to_string(),
        color,
    };
    let out = category_json(&c);
    st.mbox.categories.push(c);
    single(base, req, 201, out)
}

fn category_one(st: &mut State, base: &str, req: &Req, id: &str) -> Resp {
    let Some(pos) = st
        .mbox
        .categories
        .iter()
        .position(|c| c.id.eq_ignore_ascii_case(id))
    else {
        return not_found();
    };
    match req.method.as_str() {
        "GET" => single(base, req, 200, category_json(&st.mbox.categories[pos])),
        "DELETE" => {
            st.mbox.categories.remove(pos);
            Resp::no_content()
        }
        "PATCH" => {
            let body = match body_object(req) {
                Ok(b) => b,
                Err(r) => return r,
            };
            if body.contains_key("displayName") {
                return bad_request("The displayName of a category cannot be changed.");
            }
            if let Some(c) = body.get("color") {
                match c.as_str().filter(|c| valid_color(c)) {
                    Some(c) => st.mbox.categories[pos].color = c.to_string(),
                    None => return bad_request("Invalid value for color."),
                }
            }
            single(base, req, 200, category_json(&st.mbox.categories[pos]))
        }
        _ => bad_method(),
    }
}

/// Replaces `{…}`-like dynamic path segments with `{id}` to name an endpoint in the counters.
pub(crate) fn route_template(method: &str, path: &str) -> String {
    const WORDS: &[&str] = &[
        "v1.0",
        "me",
        "users",
        "contacts",
        "contactFolders",
        "childFolders",
        "delta",
        "move",
        "todo",
        "lists",
        "tasks",
        "linkedResources",
        "calendars",
        "calendar",
        "events",
        "calendarView",
        "instances",
        "outlook",
        "masterCategories",
        "mailboxSettings",
        "$batch",
    ];
    let p = path.split('?').next().unwrap_or("");
    let mut out = String::new();
    for seg in p.trim_matches('/').split('/') {
        out.push('/');
        if WORDS.contains(&seg) {
            out.push_str(seg);
        } else {
            out.push_str("{id}");
        }
    }
    format!("{method} {out}")
}

/// Decodes `%XX` escapes in a path segment.
pub(crate) fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
