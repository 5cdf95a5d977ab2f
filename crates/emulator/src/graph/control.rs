//! The seeding and inspection API over HTTP, under `/_emulator/` on the Graph server (JSON in
//! and out), so tests in other languages can drive the emulator like the Rust handle does.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{ControlError, GraphEmulator, GraphFaults, Shared};

fn reply(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        axum::Json(body),
    )
        .into_response()
}

fn result(r: Result<Value, ControlError>) -> Response {
    match r {
        Ok(v) => reply(200, v),
        Err(e) => reply(e.status, e.body),
    }
}

fn unit(r: Result<(), ControlError>) -> Response {
    result(r.map(|_| json!({"ok": true})))
}

fn s<'a>(body: &'a Value, k: &str) -> Option<&'a str> {
    body.get(k).and_then(Value::as_str)
}

fn missing(k: &str) -> Response {
    reply(
        400,
        json!({"error": {"code": "BadRequest", "message": format!("'{k}' is required")}}),
    )
}

/// Handles one `/_emulator/{rest}` request.
pub(crate) fn handle(
    shared: &Arc<Shared>,
    method: &str,
    rest: &str,
    _query: &str,
    bytes: &[u8],
) -> Response {
    let emu = GraphEmulator::view(shared);
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(_) => {
                return reply(
                    400,
                    json!({"error": {"code": "BadRequest", "message": "invalid JSON"}}),
                )
            }
        }
    };
    let segs: Vec<&str> = rest.trim_matches('/').split('/').collect();
    match (method, segs.as_slice()) {
        ("GET", ["counters"]) => reply(
            200,
            serde_json::to_value(emu.counters()).unwrap_or_default(),
        ),
        ("GET", ["concurrency"]) => reply(
            200,
            serde_json::to_value(emu.concurrency()).unwrap_or_default(),
        ),
        ("POST", ["counters", "reset"]) => {
            emu.reset_counters();
            reply(200, json!({"ok": true}))
        }
        ("GET", ["faults"]) => reply(200, serde_json::to_value(emu.faults()).unwrap_or_default()),
        ("PUT" | "PATCH" | "POST", ["faults"]) => {
            let mut current = if method == "PUT" {
                serde_json::to_value(GraphFaults::default()).unwrap_or_default()
            } else {
                serde_json::to_value(emu.faults()).unwrap_or_default()
            };
            if let (Some(c), Some(b)) = (current.as_object_mut(), body.as_object()) {
                for (k, v) in b {
                    c.insert(k.clone(), v.clone());
                }
            }
            match serde_json::from_value::<GraphFaults>(current) {
                Ok(f) => {
                    emu.set_faults(f.clone());
                    reply(200, serde_json::to_value(f).unwrap_or_default())
                }
                Err(e) => reply(
                    400,
                    json!({"error": {"code": "BadRequest", "message": e.to_string()}}),
                ),
            }
        }
        ("POST", ["delta", "expire"]) => {
            emu.expire_delta_tokens();
            reply(200, json!({"ok": true}))
        }
        ("POST", ["tokens"]) => {
            let client = s(&body, "client_id")
                .unwrap_or(super::CONTROL_CLIENT)
                .to_string();
            reply(
                200,
                json!({"access_token": emu.issue_access_token(), "refresh_token": emu.issue_refresh_token(&client)}),
            )
        }
        ("POST", ["tokens", "expire_access"]) => {
            emu.expire_access_tokens();
            reply(200, json!({"ok": true}))
        }
        ("POST", ["tokens", "revoke_refresh"]) => {
            emu.revoke_refresh_tokens();
            reply(200, json!({"ok": true}))
        }
        ("POST", ["clock", "advance"]) => {
            let secs = body
                .get("seconds")
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
                .max(0.0);
            emu.advance_clock(std::time::Duration::from_secs_f64(secs));
            reply(200, json!({"ok": true}))
        }
        ("POST", ["device", action]) => {
            let Some(code) = s(&body, "user_code") else {
                return missing("user_code");
            };
            let ok = match *action {
                "approve" => emu.approve_device_code(code),
                "decline" => emu.decline_device_code(code),
                "expire" => emu.expire_device_code(code),
                _ => return reply(404, json!({"error": {"code": "NotFound"}})),
            };
            reply(if ok { 200 } else { 404 }, json!({"ok": ok}))
        }
        ("GET", ["defaults"]) => reply(
            200,
            json!({
                "contact_folder": emu.default_contact_folder(),
                "calendar": emu.default_calendar(),
                "task_list": emu.default_task_list(),
            }),
        ),
        ("POST", ["contact_folders"]) => {
            let Some(name) = s(&body, "name") else {
                return missing("name");
            };
            result(
                emu.create_contact_folder(s(&body, "parent"), name)
                    .map(|id| json!({"id": id})),
            )
        }
        ("GET", ["contact_folders", id, "contacts"]) => reply(200, Value::Array(emu.contacts(id))),
        ("POST", ["contact_folders", id, "contacts"]) => result(emu.insert_contact(id, body)),
        ("GET", ["contacts", id]) => match emu.contact(id) {
            Some(c) => reply(200, c),
            None => reply(404, json!({"error": {"code": "ErrorItemNotFound"}})),
        },
        ("PATCH", ["contacts", id]) => result(emu.update_contact(id, body)),
        ("DELETE", ["contacts", id]) => unit(emu.delete_contact(id)),
        ("POST", ["contacts", id, "move"]) => {
            let Some(folder) = s(&body, "folder") else {
                return missing("folder");
            };
            result(emu.move_contact(id, folder))
        }
        ("POST", ["task_lists"]) => {
            let Some(name) = s(&body, "name") else {
                return missing("name");
            };
            result(emu.create_task_list(name).map(|id| json!({"id": id})))
        }
        ("GET", ["task_lists", id, "tasks"]) => reply(200, Value::Array(emu.tasks(id))),
        ("POST", ["task_lists", id, "tasks"]) => result(emu.insert_task(id, body)),
        ("PATCH", ["tasks", id]) => result(emu.update_task(id, body)),
        ("DELETE", ["tasks", id]) => unit(emu.delete_task(id)),
        ("POST", ["tasks", id, "move"]) => {
            let Some(list) = s(&body, "list") else {
                return missing("list");
            };
            result(emu.move_task(id, list))
        }
        ("POST", ["calendars"]) => {
            let Some(name) = s(&body, "name") else {
                return missing("name");
            };
            result(emu.create_calendar(name).map(|id| json!({"id": id})))
        }
        ("GET", ["calendars", id, "events"]) => reply(200, Value::Array(emu.events(id))),
        ("POST", ["calendars", id, "events"]) => result(emu.insert_event(id, body)),
        ("PATCH", ["events", id]) => result(emu.update_event(id, body)),
        ("DELETE", ["events", id]) => unit(emu.delete_event(id)),
        ("POST", ["events", id, "move"]) => {
            let Some(cal) = s(&body, "calendar") else {
                return missing("calendar");
            };
            result(emu.move_event(id, cal))
        }
        ("GET", ["categories"]) => reply(200, Value::Array(emu.categories())),
        ("POST", ["categories"]) => {
            let Some(name) = s(&body, "displayName") else {
                return missing("displayName");
            };
            result(emu.add_category(name, s(&body, "color").unwrap_or("none")))
        }
        _ => reply(
            404,
            json!({"error": {"code": "NotFound", "message": format!("no control route {method} /_emulator/{rest}")}}),
        ),
    }
}
