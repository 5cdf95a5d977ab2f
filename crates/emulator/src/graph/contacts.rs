//! Contacts and contact folders.

use serde_json::{json, Map, Value};

use super::api::{
    body_object, check_if_match, list_items, merge_ext, render as render_any, single, take_ext,
    unknown_property, RenderOpts,
};
use super::delta;
use super::http::{bad_method, error, fmt_secs, no_route, not_found, Req, Resp};
use super::state::{ContainerKind, Item, Kind, State};

const STRINGS: &[&str] = &[
    "givenName",
    "middleName",
    "surname",
    "displayName",
    "initials",
    "nickName",
    "title",
    "generation",
    "fileAs",
    "companyName",
    "jobTitle",
    "department",
    "officeLocation",
    "profession",
    "manager",
    "assistantName",
    "mobilePhone",
    "personalNotes",
    "spouseName",
    "yomiGivenName",
    "yomiSurname",
    "yomiCompanyName",
    "businessHomePage",
];
/// String collections and their caps (businessPhones: 2 [obs]; homePhones: 2, UNCONFIRMED).
const STR_ARRAYS: &[(&str, Option<usize>)] = &[
    ("businessPhones", Some(2)),
    ("homePhones", Some(2)),
    ("categories", None),
    ("imAddresses", None),
    ("children", None),
];
const ADDRESSES: &[&str] = &["businessAddress", "homeAddress", "otherAddress"];
const ADDRESS_KEYS: &[&str] = &["street", "city", "state", "countryOrRegion", "postalCode"];
const READ_ONLY: &[&str] = &[
    "id",
    "changeKey",
    "createdDateTime",
    "lastModifiedDateTime",
    "parentFolderId",
];
const MAX_EMAILS: usize = 3;

fn too_many(prop: &str, n: usize, max: usize) -> Resp {
    error(
        400,
        "ErrorInvalidArgument",
        &format!("The multi value property {prop} has {n} entries, that exceeds the max allowed value of {max}"),
    )
}

fn type_error(prop: &str) -> Resp {
    error(
        400,
        "RequestBodyRead",
        &format!("Cannot convert the value of property '{prop}' to the expected type."),
    )
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Validates a contact write and applies it to the stored properties.
pub(crate) fn apply(props: &mut Map<String, Value>, body: &Map<String, Value>) -> Result<(), Resp> {
    for (k, v) in body {
        if k.starts_with('@') || READ_ONLY.contains(&k.as_str()) {
            continue;
        }
        if STRINGS.contains(&k.as_str()) {
            if !(v.is_string() || v.is_null()) {
                return Err(type_error(k));
            }
        } else if let Some((_, cap)) = STR_ARRAYS.iter().find(|(n, _)| n == k) {
            let Some(arr) = v.as_array() else {
                return Err(type_error(k));
            };
            if !arr.iter().all(Value::is_string) {
                return Err(type_error(k));
            }
            if let Some(cap) = cap {
                if arr.len() > *cap {
                    return Err(too_many(&upper_first(k), arr.len(), *cap));
                }
            }
        } else if k == "emailAddresses" {
            let Some(arr) = v.as_array() else {
                return Err(type_error(k));
            };
            if arr.len() > MAX_EMAILS {
                return Err(too_many("EmailAddresses", arr.len(), MAX_EMAILS));
            }
            for e in arr {
                let Some(o) = e.as_object() else {
                    return Err(type_error(k));
                };
                for (ek, ev) in o {
                    if ek != "name" && ek != "address" && !ek.starts_with('@') {
                        return Err(unknown_property(ek, "emailAddress"));
                    }
                    if !(ev.is_string() || ev.is_null()) {
                        return Err(type_error(ek));
                    }
                }
            }
        } else if ADDRESSES.contains(&k.as_str()) {
            match v {
                Value::Null => {}
                Value::Object(o) => {
                    for (ak, av) in o {
                        if !ADDRESS_KEYS.contains(&ak.as_str()) && !ak.starts_with('@') {
                            return Err(unknown_property(ak, "physicalAddress"));
                        }
                        if !(av.is_string() || av.is_null()) {
                            return Err(type_error(ak));
                        }
                    }
                }
                _ => return Err(type_error(k)),
            }
        } else if k == "birthday" {
            match v {
                Value::Null => {}
                Value::String(s) => {
                    if chrono::DateTime::parse_from_rfc3339(s).is_err() {
                        return Err(error(
                            400,
                            "RequestBodyRead",
                            &format!("Cannot convert the literal '{s}' to the expected type 'Edm.DateTimeOffset'."),
                        ));
                    }
                }
                _ => return Err(type_error(k)),
            }
        } else {
            return Err(unknown_property(k, "contact"));
        }
    }
    for (k, v) in body {
        if k.starts_with('@') || READ_ONLY.contains(&k.as_str()) {
            continue;
        }
        let stored = match (k.as_str(), v) {
            ("birthday", Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| Value::String(fmt_secs(d.with_timezone(&chrono::Utc))))
                .unwrap_or(Value::Null),
            ("emailAddresses", Value::Array(arr)) => Value::Array(
                arr.iter()
                    .map(|e| json!({"name": e.get("name").cloned().unwrap_or(Value::Null), "address": e.get("address").cloned().unwrap_or(Value::Null)}))
                    .collect(),
            ),
            (a, Value::Null) if ADDRESSES.contains(&a) => json!({}),
            (a, Value::Object(o)) if ADDRESSES.contains(&a) => {
                Value::Object(o.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            _ => v.clone(),
        };
        props.insert(k.clone(), stored);
    }
    Ok(())
}

/// Renders a contact the way a GET returns it: every property, nulls and empties included.
pub(crate) fn render(_st: &State, item: &Item, opts: &RenderOpts) -> Map<String, Value> {
    let p = &item.props;
    let s = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
    let arr = |k: &str| p.get(k).cloned().unwrap_or_else(|| json!([]));
    let obj = |k: &str| p.get(k).cloned().unwrap_or_else(|| json!({}));
    let empty = |k: &str| {
        p.get(k)
            .cloned()
            .filter(|v| !v.is_null())
            .unwrap_or_else(|| json!(""))
    };
    let mut m = Map::new();
    m.insert(
        "@odata.etag".into(),
        Value::String(format!("W/\"{}\"", item.change_key)),
    );
    m.insert("id".into(), Value::String(super::api::shown_id(item, opts)));
    m.insert(
        "createdDateTime".into(),
        Value::String(fmt_secs(item.created)),
    );
    m.insert(
        "lastModifiedDateTime".into(),
        Value::String(fmt_secs(item.modified)),
    );
    m.insert("changeKey".into(), Value::String(item.change_key.clone()));
    m.insert("categories".into(), arr("categories"));
    m.insert(
        "parentFolderId".into(),
        Value::String(item.container.clone()),
    );
    m.insert("birthday".into(), s("birthday"));
    m.insert("fileAs".into(), empty("fileAs"));
    for k in [
        "displayName",
        "givenName",
        "initials",
        "middleName",
        "nickName",
        "surname",
        "title",
        "yomiGivenName",
        "yomiSurname",
        "yomiCompanyName",
        "generation",
    ] {
        m.insert(k.into(), s(k));
    }
    m.insert("imAddresses".into(), arr("imAddresses"));
    for k in [
        "jobTitle",
        "companyName",
        "department",
        "officeLocation",
        "profession",
        "businessHomePage",
        "assistantName",
        "manager",
    ] {
        m.insert(k.into(), s(k));
    }
    m.insert("homePhones".into(), arr("homePhones"));
    m.insert("mobilePhone".into(), s("mobilePhone"));
    m.insert("businessPhones".into(), arr("businessPhones"));
    m.insert("spouseName".into(), s("spouseName"));
    m.insert("personalNotes".into(), empty("personalNotes"));
    m.insert("children".into(), arr("children"));
    m.insert("emailAddresses".into(), arr("emailAddresses"));
    for k in ADDRESSES {
        m.insert((*k).into(), obj(k));
    }
    m
}

fn folder_json(st: &State, id: &str) -> Map<String, Value> {
    let Some(c) = st.mbox.containers.get(id) else {
        return Map::new();
    };
    let mut m = Map::new();
    m.insert("id".into(), Value::String(c.id.clone()));
    m.insert(
        "parentFolderId".into(),
        c.parent.clone().map_or(Value::Null, Value::String),
    );
    m.insert(
        "displayName".into(),
        c.props.get("displayName").cloned().unwrap_or(Value::Null),
    );
    m.insert("wellKnownName".into(), Value::Null);
    m
}

fn list_folders(st: &State, base: &str, req: &Req, parent: &str) -> Resp {
    let (top, skip) = match super::api::paging(req) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ids: Vec<&String> = st
        .mbox
        .container_order
        .iter()
        .filter(|id| {
            st.mbox.containers.get(*id).is_some_and(|c| {
                c.kind == ContainerKind::ContactFolder && c.parent.as_deref() == Some(parent)
            })
        })
        .collect();
    let more = ids.len() > skip + top;
    let value: Vec<Value> = ids
        .iter()
        .skip(skip)
        .take(top)
        .map(|id| Value::Object(folder_json(st, id)))
        .collect();
    let mut out = json!({"@odata.context": super::api::context_url(base, req), "value": value});
    if more {
        out["@odata.nextLink"] = Value::String(super::api::next_link(base, req, skip + top, top));
    }
    Resp::json(200, out)
}

/// Creates a contact folder under a parent; 409 when the name is taken there.
pub(crate) fn create_folder(st: &mut State, parent: &str, name: &str) -> Result<String, Resp> {
    let taken = st.mbox.containers.values().any(|c| {
        c.kind == ContainerKind::ContactFolder
            && c.parent.as_deref() == Some(parent)
            && c.props
                .get("displayName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
    });
    if taken {
        return Err(error(
            409,
            "ErrorFolderExists",
            "A folder with the specified name already exists.",
        ));
    }
    Ok(st.new_container(ContainerKind::ContactFolder, Some(parent.to_string()), name))
}

fn post_folder(st: &mut State, base: &str, req: &Req, parent: &str) -> Resp {
    let body = match body_object(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    for k in body.keys() {
        if !matches!(k.as_str(), "displayName" | "parentFolderId") && !k.starts_with('@') {
            return unknown_property(k, "contactFolder");
        }
    }
    let Some(name) = body
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return error(
            400,
            "ErrorInvalidRequest",
            "The displayName property is required.",
        );
    };
    match create_folder(st, parent, name) {
        Ok(id) => single(base, req, 201, folder_json(st, &id)),
        Err(r) => r,
    }
}

fn delete_folder(st: &mut State, id: &str) {
    let children: Vec<String> = st
        .mbox
        .containers
        .values()
        .filter(|c| c.parent.as_deref() == Some(id))
        .map(|c| c.id.clone())
        .collect();
    for c in children {
        delete_folder(st, &c);
    }
    let members: Vec<u64> = st
        .mbox
        .containers
        .get(id)
        .map(|c| c.members.iter().copied().collect())
        .unwrap_or_default();
    for k in members {
        st.delete_item(k);
    }
    st.mbox.containers.remove(id);
    st.mbox.container_order.retain(|c| c != id);
}

/// `/me/contactFolders/…`
pub(crate) fn route_folders(
    st: &mut State,
    base: &str,
    req: &Req,
    rest: &[&str],
    control: bool,
) -> Resp {
    let m = req.method.as_str();
    let default = st.mbox.default_contacts.clone();
    match rest {
        [] => match m {
            "GET" => list_folders(st, base, req, &default),
            "POST" => post_folder(st, base, req, &default),
            _ => bad_method(),
        },
        [id, tail @ ..] => {
            if st.container(id, ContainerKind::ContactFolder).is_none() {
                return not_found();
            }
            let id = id.to_string();
            match tail {
                [] => match m {
                    "GET" => single(base, req, 200, folder_json(st, &id)),
                    "PATCH" => {
                        let body = match body_object(req) {
                            Ok(b) => b,
                            Err(r) => return r,
                        };
                        if let Some(name) = body.get("displayName").and_then(Value::as_str) {
                            if let Some(c) = st.mbox.containers.get_mut(&id) {
                                c.props.insert("displayName".into(), name.into());
                            }
                        }
                        single(base, req, 200, folder_json(st, &id))
                    }
                    "DELETE" => {
                        if id == default {
                            return error(
                                400,
                                "ErrorDeleteDistinguishedFolder",
                                "Distinguished folders cannot be deleted.",
                            );
                        }
                        delete_folder(st, &id);
                        Resp::no_content()
                    }
                    _ => bad_method(),
                },
                ["childFolders"] => match m {
                    "GET" => list_folders(st, base, req, &id),
                    "POST" => post_folder(st, base, req, &id),
                    _ => bad_method(),
                },
                ["contacts"] => match m {
                    "GET" => list_items(st, base, req, Kind::Contact, &id, false),
                    "POST" => create(st, base, req, &id, control),
                    _ => bad_method(),
                },
                ["contacts", "delta"] => match m {
                    "GET" => delta::container_delta(st, base, req, &id, Kind::Contact),
                    _ => bad_method(),
                },
                ["contacts", cid] => match st.item_key(cid, Kind::Contact) {
                    Some(k) if st.mbox.items.get(&k).is_some_and(|i| i.container == id) => {
                        one(st, base, req, k)
                    }
                    _ => not_found(),
                },
                _ => no_route(m, &req.path),
            }
        }
    }
}

/// `/me/contacts/…`
pub(crate) fn route_contacts(
    st: &mut State,
    base: &str,
    req: &Req,
    rest: &[&str],
    control: bool,
) -> Resp {
    let m = req.method.as_str();
    let default = st.mbox.default_contacts.clone();
    match rest {
        [] => match m {
            "GET" => list_items(st, base, req, Kind::Contact, &default, true),
            "POST" => create(st, base, req, &default, control),
            _ => bad_method(),
        },
        ["delta"] => match m {
            "GET" => delta::container_delta(st, base, req, &default, Kind::Contact),
            _ => bad_method(),
        },
        [cid] => match st.item_key(cid, Kind::Contact) {
            Some(k) => one(st, base, req, k),
            None => not_found(),
        },
        [cid, "move"] => match (m, st.item_key(cid, Kind::Contact)) {
            ("POST", Some(k)) => {
                let body = match body_object(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let Some(dest) = body.get("destinationId").and_then(Value::as_str) else {
                    return error(
                        400,
                        "ErrorInvalidRequest",
                        "The destinationId property is required.",
                    );
                };
                if st.container(dest, ContainerKind::ContactFolder).is_none() {
                    return not_found();
                }
                st.move_item(k, dest, false);
                let opts = match RenderOpts::from_req(req) {
                    Ok(o) => o,
                    Err(r) => return r,
                };
                let Some(item) = st.mbox.items.get(&k) else {
                    return not_found();
                };
                let out = render_any(st, item, &opts);
                single(base, req, 201, out)
            }
            ("POST", None) => not_found(),
            _ => bad_method(),
        },
        _ => no_route(m, &req.path),
    }
}

fn create(st: &mut State, base: &str, req: &Req, folder: &str, _control: bool) -> Resp {
    let mut body = match body_object(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ext = match take_ext(&mut body) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let mut props = Map::new();
    if let Err(r) = apply(&mut props, &body) {
        return r;
    }
    if props.get("displayName").is_none_or(Value::is_null) {
        let name: Vec<&str> = ["givenName", "middleName", "surname"]
            .iter()
            .filter_map(|k| props.get(*k).and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .collect();
        if !name.is_empty() {
            props.insert("displayName".into(), Value::String(name.join(" ")));
        }
    }
    let key = st.insert_item(Kind::Contact, folder, props, ext, Vec::new());
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
    let out = render_any(st, item, &opts);
    single(base, req, 201, out)
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
            let mut body = match body_object(req) {
                Ok(b) => b,
                Err(r) => return r,
            };
            let ext = match take_ext(&mut body) {
                Ok(e) => e,
                Err(r) => return r,
            };
            let mut props = item.props.clone();
            if let Err(r) = apply(&mut props, &body) {
                return r;
            }
            if let Some(item) = st.mbox.items.get_mut(&key) {
                item.props = props;
                merge_ext(&mut item.ext, ext);
            }
            st.touch_item(key);
            let opts = RenderOpts {
                expand: Vec::new(),
                ..opts
            };
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
