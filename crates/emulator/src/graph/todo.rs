//! Microsoft To Do: task lists, tasks and linked resources.

use serde_json::{json, Map, Value};

use super::api::{
    body_object, check_if_match, context_url, list_items, render as render_any, shown_id, single,
    unknown_property, RenderOpts,
};
use super::delta;
use super::http::{bad_method, error, fmt_7, fmt_local, no_route, not_found, Req, Resp};
use super::state::{ContainerKind, Item, Kind, State};
use super::tz;

const STATUSES: &[&str] = &[
    "notStarted",
    "inProgress",
    "completed",
    "waitingOnOthers",
    "deferred",
];
const IMPORTANCE: &[&str] = &["low", "normal", "high"];
/// Date-only fields: the time is dropped and the date comes back as midnight UTC [obs].
const DATE_ONLY: &[&str] = &["dueDateTime", "startDateTime", "completedDateTime"];
const LINK_KEYS: &[&str] = &["webUrl", "applicationName", "displayName", "externalId"];

fn invalid(msg: &str) -> Resp {
    error(400, "invalidRequest", msg)
}

fn type_error(prop: &str) -> Resp {
    error(
        400,
        "RequestBodyRead",
        &format!("Cannot convert the value of property '{prop}' to the expected type."),
    )
}

fn normalise_dttz(k: &str, v: &Value) -> Result<Value, Resp> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let dt = v
        .get("dateTime")
        .and_then(Value::as_str)
        .and_then(tz::parse_local);
    let zone = v.get("timeZone").and_then(Value::as_str).unwrap_or("UTC");
    let (Some(dt), Some(z)) = (dt, tz::zone(zone)) else {
        return Err(invalid(&format!(
            "The value of '{k}' is not a valid dateTimeTimeZone."
        )));
    };
    if DATE_ONLY.contains(&k) {
        let midnight = dt.date().and_hms_opt(0, 0, 0).unwrap_or(dt);
        Ok(json!({"dateTime": fmt_local(midnight), "timeZone": "UTC"}))
    } else {
        Ok(json!({"dateTime": fmt_local(tz::to_utc(dt, z).naive_utc()), "timeZone": "UTC"}))
    }
}

/// Validates a linked resource body.
fn check_link(v: &Value) -> Result<Map<String, Value>, Resp> {
    let Some(o) = v.as_object() else {
        return Err(type_error("linkedResources"));
    };
    let mut out = Map::new();
    for (k, v) in o {
        if k.starts_with('@') || k == "id" {
            continue;
        }
        if !LINK_KEYS.contains(&k.as_str()) {
            return Err(unknown_property(k, "linkedResource"));
        }
        if !(v.is_string() || v.is_null()) {
            return Err(type_error(k));
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

/// Validates a task write and applies it.
pub(crate) fn apply(
    props: &mut Map<String, Value>,
    body: &Map<String, Value>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Resp> {
    const READ_ONLY: &[&str] = &[
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "bodyLastModifiedDateTime",
        "hasAttachments",
    ];
    for (k, v) in body {
        let k = k.as_str();
        if k.starts_with('@') || READ_ONLY.contains(&k) || k == "linkedResources" {
            continue;
        }
        match k {
            "title" => {
                if !(v.is_string() || v.is_null()) {
                    return Err(type_error(k));
                }
            }
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
            "status" => {
                if !v.as_str().is_some_and(|s| STATUSES.contains(&s)) {
                    return Err(invalid("Invalid value for status."));
                }
            }
            "importance" => {
                if !v.as_str().is_some_and(|s| IMPORTANCE.contains(&s)) {
                    return Err(invalid("Invalid value for importance."));
                }
            }
            "isReminderOn" => {
                if !v.is_boolean() {
                    return Err(type_error(k));
                }
            }
            "reminderDateTime" | "dueDateTime" | "startDateTime" | "completedDateTime" => {
                normalise_dttz(k, v)?;
            }
            "recurrence" => {
                if !v.is_null() {
                    super::events::validate_recurrence(v)?;
                }
            }
            "categories" => {
                if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                    return Err(type_error(k));
                }
            }
            _ => return Err(unknown_property(k, "todoTask")),
        }
    }
    let was_completed = props.get("status").and_then(Value::as_str) == Some("completed");
    for (k, v) in body {
        if k.starts_with('@') || READ_ONLY.contains(&k.as_str()) || k == "linkedResources" {
            continue;
        }
        let stored = match k.as_str() {
            "reminderDateTime" | "dueDateTime" | "startDateTime" | "completedDateTime" => {
                normalise_dttz(k, v)?
            }
            "body" => {
                props.insert("_bodyModified".into(), Value::String(fmt_7(now)));
                json!({
                    "content": v.get("content").cloned().unwrap_or_else(|| "".into()),
                    "contentType": v.get("contentType").and_then(Value::as_str).unwrap_or("text").to_ascii_lowercase(),
                })
            }
            _ => v.clone(),
        };
        if stored.is_null() {
            props.remove(k);
        } else {
            props.insert(k.clone(), stored);
        }
    }
    let completed = props.get("status").and_then(Value::as_str) == Some("completed");
    if completed && !was_completed && !props.contains_key("completedDateTime") {
        let today = now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default();
        props.insert(
            "completedDateTime".into(),
            json!({"dateTime": fmt_local(today), "timeZone": "UTC"}),
        );
    }
    if !completed {
        props.remove("completedDateTime");
    }
    Ok(())
}

/// Renders a task. There is no `changeKey` on todoTask; only `@odata.etag`.
pub(crate) fn render(_st: &State, item: &Item, opts: &RenderOpts) -> Map<String, Value> {
    let p = &item.props;
    let get = |k: &str, d: Value| p.get(k).cloned().unwrap_or(d);
    let mut m = Map::new();
    m.insert(
        "@odata.etag".into(),
        Value::String(format!("W/\"{}\"", item.change_key)),
    );
    m.insert("importance".into(), get("importance", "normal".into()));
    m.insert("isReminderOn".into(), get("isReminderOn", json!(false)));
    m.insert("status".into(), get("status", "notStarted".into()));
    m.insert("title".into(), get("title", "".into()));
    m.insert("createdDateTime".into(), Value::String(fmt_7(item.created)));
    m.insert(
        "lastModifiedDateTime".into(),
        Value::String(fmt_7(item.modified)),
    );
    m.insert("hasAttachments".into(), json!(false));
    m.insert("categories".into(), get("categories", json!([])));
    m.insert("id".into(), Value::String(shown_id(item, opts)));
    m.insert(
        "body".into(),
        get("body", json!({"content": "", "contentType": "text"})),
    );
    m.insert(
        "bodyLastModifiedDateTime".into(),
        get("_bodyModified", Value::String(fmt_7(item.created))),
    );
    for k in [
        "dueDateTime",
        "startDateTime",
        "reminderDateTime",
        "completedDateTime",
        "recurrence",
    ] {
        if let Some(v) = p.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    m
}

fn list_json(st: &State, id: &str) -> Map<String, Value> {
    let Some(c) = st.mbox.containers.get(id) else {
        return Map::new();
    };
    let mut m = Map::new();
    m.insert(
        "@odata.etag".into(),
        Value::String(format!("W/\"{}\"", c.change_key)),
    );
    for (k, v) in &c.props {
        m.insert(k.clone(), v.clone());
    }
    m.insert("id".into(), Value::String(c.id.clone()));
    m
}

fn builtin(st: &State, id: &str) -> bool {
    st.mbox
        .containers
        .get(id)
        .and_then(|c| c.props.get("wellknownListName"))
        .and_then(Value::as_str)
        != Some("none")
}

/// `/me/todo/lists/…`
pub(crate) fn route(st: &mut State, base: &str, req: &Req, rest: &[&str], _control: bool) -> Resp {
    let m = req.method.as_str();
    match rest {
        [] => match m {
            "GET" => {
                let value: Vec<Value> = st
                    .mbox
                    .container_order
                    .iter()
                    .filter(|id| st.container(id, ContainerKind::TaskList).is_some())
                    .map(|id| Value::Object(list_json(st, id)))
                    .collect();
                Resp::json(
                    200,
                    json!({"@odata.context": context_url(base, req), "value": value}),
                )
            }
            "POST" => {
                let body = match body_object(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let Some(name) = body
                    .get("displayName")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                else {
                    return invalid("The displayName property is required.");
                };
                let id = st.new_container(ContainerKind::TaskList, None, name);
                single(base, req, 201, list_json(st, &id))
            }
            _ => bad_method(),
        },
        [lid, tail @ ..] => {
            if st.container(lid, ContainerKind::TaskList).is_none() {
                return not_found();
            }
            let lid = lid.to_string();
            match tail {
                [] => match m {
                    "GET" => single(base, req, 200, list_json(st, &lid)),
                    "PATCH" => {
                        if builtin(st, &lid) {
                            return invalid("Built-in lists cannot be renamed.");
                        }
                        let body = match body_object(req) {
                            Ok(b) => b,
                            Err(r) => return r,
                        };
                        if let Some(name) = body.get("displayName").and_then(Value::as_str) {
                            let ck = st.new_change_key();
                            if let Some(c) = st.mbox.containers.get_mut(&lid) {
                                c.props.insert("displayName".into(), name.into());
                                c.change_key = ck;
                            }
                        }
                        single(base, req, 200, list_json(st, &lid))
                    }
                    "DELETE" => {
                        if builtin(st, &lid) {
                            return invalid("Built-in lists cannot be deleted.");
                        }
                        let members: Vec<u64> = st
                            .mbox
                            .containers
                            .get(&lid)
                            .map(|c| c.members.iter().copied().collect())
                            .unwrap_or_default();
                        for k in members {
                            st.delete_item(k);
                        }
                        st.mbox.containers.remove(&lid);
                        st.mbox.container_order.retain(|c| c != &lid);
                        Resp::no_content()
                    }
                    _ => bad_method(),
                },
                ["tasks"] => match m {
                    "GET" => list_items(st, base, req, Kind::Task, &lid, false),
                    "POST" => create(st, base, req, &lid),
                    _ => bad_method(),
                },
                ["tasks", "delta"] => match m {
                    "GET" => delta::container_delta(st, base, req, &lid, Kind::Task),
                    _ => bad_method(),
                },
                ["tasks", tid, more @ ..] => {
                    let Some(k) = st
                        .item_key(tid, Kind::Task)
                        .filter(|k| st.mbox.items.get(k).is_some_and(|i| i.container == lid))
                    else {
                        return not_found();
                    };
                    match more {
                        [] => one(st, base, req, k),
                        ["linkedResources"] => links(st, base, req, k),
                        ["linkedResources", rid] => link_one(st, base, req, k, rid),
                        _ => no_route(m, &req.path),
                    }
                }
                _ => no_route(m, &req.path),
            }
        }
    }
}

fn create(st: &mut State, base: &str, req: &Req, list: &str) -> Resp {
    let body = match body_object(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if body.contains_key("singleValueExtendedProperties") {
        return unknown_property("singleValueExtendedProperties", "todoTask");
    }
    let mut props = Map::new();
    let now = st.now();
    if let Err(r) = apply(&mut props, &body, now) {
        return r;
    }
    let mut links = Vec::new();
    if let Some(v) = body.get("linkedResources") {
        let Some(arr) = v.as_array() else {
            return type_error("linkedResources");
        };
        for l in arr {
            match check_link(l) {
                Ok(mut m) => {
                    let mut out = Map::new();
                    out.insert("id".into(), Value::String(st.new_guid()));
                    out.append(&mut m);
                    links.push(out);
                }
                Err(r) => return r,
            }
        }
    }
    let inline = !links.is_empty();
    let key = st.insert_item(Kind::Task, list, props, Vec::new(), links);
    let mut opts = match RenderOpts::from_req(req) {
        Ok(o) => o,
        Err(r) => return r,
    };
    if inline {
        opts.expand = vec![super::odata::Expand {
            name: "linkedResources".into(),
            filter: None,
        }];
    }
    let Some(item) = st.mbox.items.get(&key) else {
        return not_found();
    };
    single(base, req, 201, render_any(st, item, &opts))
}

fn one(st: &mut State, base: &str, req: &Req, key: u64) -> Resp {
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
            let body = match body_object(req) {
                Ok(b) => b,
                Err(r) => return r,
            };
            if body.contains_key("linkedResources") {
                return invalid(
                    "linkedResources cannot be updated inline; use the linkedResources collection.",
                );
            }
            let mut props = item.props.clone();
            let now = st.now();
            if let Err(r) = apply(&mut props, &body, now) {
                return r;
            }
            if let Some(item) = st.mbox.items.get_mut(&key) {
                item.props = props;
            }
            st.touch_item(key);
            let Some(item) = st.mbox.items.get(&key) else {
                return not_found();
            };
            single(base, req, 200, render_any(st, item, &opts))
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

fn links(st: &mut State, base: &str, req: &Req, key: u64) -> Resp {
    match req.method.as_str() {
        "GET" => {
            let value: Vec<Value> = st
                .mbox
                .items
                .get(&key)
                .map(|i| i.links.iter().cloned().map(Value::Object).collect())
                .unwrap_or_default();
            Resp::json(
                200,
                json!({"@odata.context": context_url(base, req), "value": value}),
            )
        }
        "POST" => {
            let body = match body_object(req) {
                Ok(b) => b,
                Err(r) => return r,
            };
            let mut m = match check_link(&Value::Object(body)) {
                Ok(m) => m,
                Err(r) => return r,
            };
            let mut out = Map::new();
            out.insert("id".into(), Value::String(st.new_guid()));
            out.append(&mut m);
            if let Some(item) = st.mbox.items.get_mut(&key) {
                item.links.push(out.clone());
            }
            st.touch_item(key);
            single(base, req, 201, out)
        }
        _ => bad_method(),
    }
}

fn link_one(st: &mut State, base: &str, req: &Req, key: u64, rid: &str) -> Resp {
    let Some(pos) = st.mbox.items.get(&key).and_then(|i| {
        i.links
            .iter()
            .position(|l| l.get("id").and_then(Value::as_str) == Some(rid))
    }) else {
        return not_found();
    };
    match req.method.as_str() {
        "GET" => {
            let l = st
                .mbox
                .items
                .get(&key)
                .map(|i| i.links[pos].clone())
                .unwrap_or_default();
            single(base, req, 200, l)
        }
        "PATCH" => {
            let body = match body_object(req) {
                Ok(b) => b,
                Err(r) => return r,
            };
            let m = match check_link(&Value::Object(body)) {
                Ok(m) => m,
                Err(r) => return r,
            };
            let mut out = Map::new();
            if let Some(item) = st.mbox.items.get_mut(&key) {
                for (k, v) in m {
                    item.links[pos].insert(k, v);
                }
                out = item.links[pos].clone();
            }
            st.touch_item(key);
            single(base, req, 200, out)
        }
        "DELETE" => {
            if let Some(item) = st.mbox.items.get_mut(&key) {
                item.links.remove(pos);
            }
            st.touch_item(key);
            Resp::no_content()
        }
        _ => bad_method(),
    }
}
