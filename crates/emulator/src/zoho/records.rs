//! Record storage, validation and the per-record write results of the records API.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::schema::{FieldDef, FieldType, Kind};
use super::state::{parse_time, render_time, Inner};

/// A stored record. Date-time fields are kept as UTC text and rendered per reader.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub(crate) id: u64,
    pub(crate) fields: Map<String, Value>,
    pub(crate) created: i64,
    pub(crate) modified: i64,
    pub(crate) created_by: u64,
    pub(crate) modified_by: u64,
    pub(crate) owner: u64,
}

/// A deleted record as `/deleted` reports it.
#[derive(Clone, Debug)]
pub(crate) struct Deleted {
    pub(crate) id: u64,
    pub(crate) display_name: Option<String>,
    pub(crate) permanent: bool,
    pub(crate) deleted_by: Option<u64>,
    pub(crate) created_by: Option<u64>,
    pub(crate) deleted_time: i64,
}

/// One module's records with the indexes listing needs.
#[derive(Default)]
pub(crate) struct Table {
    pub(crate) by_id: HashMap<u64, Record>,
    pub(crate) by_modified: BTreeSet<(i64, u64)>,
    pub(crate) by_created: BTreeSet<(i64, u64)>,
    pub(crate) by_idx: BTreeSet<(i64, u64)>,
    pub(crate) deleted: Vec<Deleted>,
    pub(crate) deleted_ids: HashSet<u64>,
    /// Value indexes (lower-cased text → ids) of the fields looked up by value: the sync id,
    /// e-mail and account name, so duplicate checks, upserts and COQL stay fast at 100k records.
    pub(crate) values: HashMap<String, HashMap<String, BTreeSet<u64>>>,
}

fn index_key(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_lowercase()),
        _ => None,
    }
}

impl Table {
    /// A table indexing the values of these fields.
    pub(crate) fn indexing(fields: &[&str]) -> Self {
        Self {
            values: fields
                .iter()
                .map(|f| ((*f).to_owned(), HashMap::new()))
                .collect(),
            ..Self::default()
        }
    }

    fn unindex(&mut self, r: &Record) {
        for (field, idx) in self.values.iter_mut() {
            if let Some(k) = r.fields.get(field).and_then(index_key) {
                if let Some(set) = idx.get_mut(&k) {
                    set.remove(&r.id);
                    if set.is_empty() {
                        idx.remove(&k);
                    }
                }
            }
        }
    }

    /// Ids whose indexed `field` equals `v`; `None` when the field is not indexed.
    pub(crate) fn lookup(&self, field: &str, v: &Value) -> Option<Vec<u64>> {
        let idx = self.values.get(field)?;
        Some(
            index_key(v)
                .and_then(|k| idx.get(&k))
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default(),
        )
    }

    pub(crate) fn put(&mut self, r: Record) {
        if let Some(old) = self.by_id.get(&r.id).cloned() {
            self.by_modified.remove(&(old.modified, old.id));
            self.by_created.remove(&(old.created, old.id));
            self.unindex(&old);
        }
        for (field, idx) in self.values.iter_mut() {
            if let Some(k) = r.fields.get(field).and_then(index_key) {
                idx.entry(k).or_default().insert(r.id);
            }
        }
        self.by_modified.insert((r.modified, r.id));
        self.by_created.insert((r.created, r.id));
        self.by_idx.insert((0, r.id));
        self.by_id.insert(r.id, r);
    }

    pub(crate) fn take(&mut self, id: u64) -> Option<Record> {
        let r = self.by_id.remove(&id)?;
        self.unindex(&r);
        self.by_modified.remove(&(r.modified, r.id));
        self.by_created.remove(&(r.created, r.id));
        self.by_idx.remove(&(0, r.id));
        Some(r)
    }

    /// The index for a sort key: `id`, `Created_Time` or `Modified_Time`.
    pub(crate) fn index(&self, sort_by: &str) -> &BTreeSet<(i64, u64)> {
        match sort_by {
            "Modified_Time" => &self.by_modified,
            "Created_Time" => &self.by_created,
            _ => &self.by_idx,
        }
    }
}

/// A failed record: `{code, details, message, status: "error"}`.
#[derive(Clone, Debug)]
pub(crate) struct ItemError {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) details: Value,
}

impl ItemError {
    pub(crate) fn new(code: &str, message: &str, details: Value) -> Self {
        Self {
            code: code.to_owned(),
            message: message.to_owned(),
            details,
        }
    }

    pub(crate) fn json(&self) -> Value {
        json!({"code": self.code, "details": self.details, "message": self.message, "status": "error"})
    }
}

fn path(i: usize, field: &str) -> String {
    format!("$.data[{i}].{field}")
}

fn invalid(i: usize, field: &str, extra: Value) -> ItemError {
    let mut d = json!({"api_name": field, "json_path": path(i, field)});
    if let (Some(m), Some(e)) = (d.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            m.insert(k.clone(), v.clone());
        }
    }
    ItemError::new("INVALID_DATA", "invalid data", d)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn id_of(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// Text comparison used for duplicate checks and COQL equality (case-insensitive, like Zoho's
/// unique fields that are not case-sensitive).
pub(crate) fn same_text(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.trim().eq_ignore_ascii_case(y.trim()),
        (x, y) => x == y,
    }
}

/// What a write does with one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Insert,
    Update,
}

impl Inner {
    pub(crate) fn schema(&self, kind: Kind) -> &[FieldDef] {
        self.schemas.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }

    pub(crate) fn table(&self, kind: Kind) -> &Table {
        self.tables.get(&kind).expect("every kind has a table")
    }

    pub(crate) fn table_mut(&mut self, kind: Kind) -> &mut Table {
        self.tables.get_mut(&kind).expect("every kind has a table")
    }

    /// The current display name of a record (for lookups and the deleted list).
    pub(crate) fn display_name(&self, kind: Kind, r: &Record) -> Option<String> {
        if kind == Kind::Contacts {
            return Some(full_name(&r.fields));
        }
        r.fields
            .get(kind.display_field())
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn find_lookup(&self, target: Kind, v: &Value) -> Option<(u64, Option<String>)> {
        let t = self.table(target);
        let found = match v.get("id").and_then(id_of) {
            Some(id) => t.by_id.get(&id),
            None => {
                let name = v.get("name")?.as_str()?;
                t.by_id.values().find(|r| {
                    self.display_name(target, r)
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
            }
        }?;
        Some((found.id, self.display_name(target, found)))
    }

    /// Validates one record of a write and returns the normalised fields to store.
    pub(crate) fn normalise(
        &self,
        kind: Kind,
        input: &Map<String, Value>,
        i: usize,
        mode: Mode,
        existing: Option<&Record>,
    ) -> Result<(Map<String, Value>, Option<u64>), ItemError> {
        let schema = self.schema(kind);
        let mut out = Map::new();
        let mut owner = None;
        let se_module = input
            .get("$se_module")
            .and_then(Value::as_str)
            .and_then(|m| self.kind_by_name(m));
        for d in schema {
            let v = match input.get(&d.api_name) {
                Some(v) => v,
                // The docs' sample input spells it `All_Day`; responses use `All_day`.
                None if d.api_name == "All_day" => match input.get("All_Day") {
                    Some(v) => v,
                    None => continue,
                },
                None => continue,
            };
            if d.read_only || matches!(d.api_name.as_str(), "Created_By" | "Modified_By") {
                continue;
            }
            if v.is_null() {
                if d.api_name == "Owner" {
                    continue;
                }
                out.insert(d.api_name.clone(), Value::Null);
                continue;
            }
            let name = d.api_name.as_str();
            let norm = match &d.ty {
                FieldType::Text
                | FieldType::TextArea
                | FieldType::Email
                | FieldType::Phone
                | FieldType::Website => {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) if d.ty == FieldType::Phone => n.to_string(),
                        _ => {
                            return Err(invalid(
                                i,
                                name,
                                json!({"expected_data_type": d.ty.data_type()}),
                            ));
                        }
                    };
                    if let Some(max) = d.length {
                        if s.chars().count() > max {
                            return Err(invalid(i, name, json!({"maximum_length": max})));
                        }
                    }
                    if d.ty == FieldType::Email && !s.is_empty() && !valid_email(&s) {
                        return Err(invalid(i, name, json!({"expected_data_type": "email"})));
                    }
                    Value::String(s)
                }
                FieldType::Date => match v.as_str() {
                    Some(s) if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => v.clone(),
                    _ => return Err(invalid(i, name, json!({"expected_data_type": "date"}))),
                },
                FieldType::DateTime => match v.as_str().and_then(parse_time) {
                    Some(t) => Value::String(utc_text(t)),
                    None => {
                        return Err(invalid(i, name, json!({"expected_data_type": "datetime"})))
                    }
                },
                FieldType::Boolean => match v {
                    Value::Bool(_) => v.clone(),
                    _ => return Err(invalid(i, name, json!({"expected_data_type": "boolean"}))),
                },
                FieldType::Picklist(values) => match v.as_str() {
                    Some(s) if values.contains(&s) => v.clone(),
                    _ => return Err(invalid(i, name, json!({"expected_data_type": "picklist"}))),
                },
                FieldType::Lookup(target) => {
                    let target = target.or(se_module).unwrap_or(Kind::Accounts);
                    match self.find_lookup(target, v) {
                        Some((id, _)) => {
                            if d.ty == FieldType::Lookup(None) {
                                out.insert(
                                    "$se_module".to_owned(),
                                    Value::String(self.name_of(target).to_owned()),
                                );
                            }
                            json!({"id": id.to_string()})
                        }
                        None => {
                            return Err(invalid(i, name, json!({"expected_data_type": "lookup"})))
                        }
                    }
                }
                FieldType::OwnerLookup => {
                    let user = v
                        .get("id")
                        .and_then(id_of)
                        .and_then(|id| self.user(id))
                        .or_else(|| {
                            v.get("email")
                                .and_then(Value::as_str)
                                .and_then(|e| self.find_user(e))
                        });
                    match user {
                        Some(u) => {
                            owner = Some(u.id);
                            continue;
                        }
                        None => {
                            return Err(invalid(
                                i,
                                name,
                                json!({"expected_data_type": "ownerlookup"}),
                            ))
                        }
                    }
                }
                FieldType::RemindAt => {
                    if kind == Kind::Tasks {
                        match v.get("ALARM").and_then(Value::as_str) {
                            Some(a) if a.contains("FREQ=") || a.contains("TRIGGER=") => {
                                json!({"ALARM": a})
                            }
                            _ => {
                                return Err(invalid(
                                    i,
                                    name,
                                    json!({"expected_data_type": "event_reminder"}),
                                ))
                            }
                        }
                    } else {
                        match v {
                            Value::String(s) => match parse_time(s) {
                                Some(t) => Value::String(utc_text(t)),
                                None => {
                                    return Err(invalid(
                                        i,
                                        name,
                                        json!({"expected_data_type": "datetime"}),
                                    ))
                                }
                            },
                            Value::Array(_) => v.clone(),
                            _ => {
                                return Err(invalid(
                                    i,
                                    name,
                                    json!({"expected_data_type": "event_reminder"}),
                                ))
                            }
                        }
                    }
                }
                FieldType::Recurrence => match v.get("RRULE").and_then(Value::as_str) {
                    Some(r) if r.contains("FREQ=") => json!({"RRULE": r}),
                    _ => return Err(invalid(i, name, json!({"expected_data_type": "RRULE"}))),
                },
                FieldType::Participants => self.participants(v, i)?,
            };
            out.insert(d.api_name.clone(), norm);
        }
        // Mandatory fields: required on insert; on update they may be left out but not cleared.
        for d in schema.iter().filter(|d| d.mandatory) {
            let missing = match (mode, out.get(&d.api_name)) {
                (Mode::Insert, None) => true,
                (_, Some(v)) => is_empty(v),
                (Mode::Update, None) => false,
            };
            if missing {
                return Err(ItemError::new(
                    "MANDATORY_NOT_FOUND",
                    "required field not found",
                    json!({"api_name": d.api_name, "json_path": path(i, &d.api_name)}),
                ));
            }
        }
        if kind == Kind::Events {
            let get = |f: &str| {
                out.get(f)
                    .or_else(|| existing.and_then(|r| r.fields.get(f)))
                    .and_then(Value::as_str)
                    .and_then(parse_time)
            };
            if let (Some(s), Some(e)) = (get("Start_DateTime"), get("End_DateTime")) {
                if e < s {
                    return Err(invalid(i, "End_DateTime", json!({})));
                }
            }
        }
        // Configured per-record failures look at the request's own values.
        for rf in &self.faults.record_failures {
            if rf
                .module
                .as_deref()
                .is_some_and(|m| m != self.name_of(kind))
            {
                continue;
            }
            if input.get(&rf.field).is_some_and(|v| v == &rf.equals) {
                return Err(ItemError::new(
                    &rf.code,
                    &rf.message,
                    json!({"api_name": rf.field, "json_path": path(i, &rf.field)}),
                ));
            }
        }
        // Unique fields.
        let self_id = existing.map(|r| r.id);
        for d in schema.iter().filter(|d| d.unique) {
            let Some(v) = out.get(&d.api_name) else {
                continue;
            };
            if is_empty(v) {
                continue;
            }
            if let Some(dup) = self
                .find_by_field(kind, &d.api_name, v)
                .into_iter()
                .find(|id| Some(*id) != self_id)
            {
                let owner = self
                    .table(kind)
                    .by_id
                    .get(&dup)
                    .map(|r| r.owner)
                    .unwrap_or_default();
                let mut o = self.user_ref(owner);
                o["zuid"] = json!(owner.to_string());
                return Err(ItemError::new(
                    "DUPLICATE_DATA",
                    "duplicate data",
                    json!({
                        "api_name": d.api_name,
                        "json_path": path(i, &d.api_name),
                        "id": dup.to_string(),
                        "duplicate_record": {
                            "id": dup.to_string(),
                            "Owner": o,
                            "module": {"api_name": self.name_of(kind), "id": kind.module_id().to_string()},
                        },
                        "more_records": false,
                    }),
                ));
            }
        }
        Ok((out, owner))
    }

    fn participants(&self, v: &Value, i: usize) -> Result<Value, ItemError> {
        let Some(items) = v.as_array() else {
            return Err(invalid(
                i,
                "Participants",
                json!({"expected_data_type": "jsonarray"}),
            ));
        };
        if items.len() > 50 {
            return Err(ItemError::new(
                "LIMIT_EXCEEDED",
                "Participants limit exceeded",
                json!({"api_name": "Participants", "json_path": path(i, "Participants"), "limit": 50}),
            ));
        }
        let mut out = Vec::new();
        for (n, p) in items.iter().enumerate() {
            let ty = p.get("type").and_then(Value::as_str).unwrap_or("");
            let who = match p.get("participant") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            let row_id = 4_876_876_000_900_000_000u64 + (i as u64) * 100 + n as u64;
            let (email, name) = match ty {
                "email" if valid_email(&who) => (Some(who.clone()), Some(who.clone())),
                "contact" => match who
                    .parse()
                    .ok()
                    .and_then(|id| self.table(Kind::Contacts).by_id.get(&id))
                {
                    Some(r) => (
                        r.fields
                            .get("Email")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        Some(full_name(&r.fields)),
                    ),
                    None => return Err(invalid(i, "Participants", json!({"index": n}))),
                },
                "user" => match self.find_user(&who) {
                    Some(u) => (Some(u.email.clone()), Some(u.full_name.clone())),
                    None => return Err(invalid(i, "Participants", json!({"index": n}))),
                },
                "lead" if !who.is_empty() => (None, None),
                _ => return Err(invalid(i, "Participants", json!({"index": n}))),
            };
            out.push(json!({
                "type": ty,
                "participant": who,
                "Email": email,
                "name": name,
                "invited": false,
                "id": row_id.to_string(),
                "status": "not_known",
            }));
        }
        Ok(Value::Array(out))
    }

    /// Ids of records whose field equals `v` (text compared case-insensitively).
    pub(crate) fn find_by_field(&self, kind: Kind, field: &str, v: &Value) -> Vec<u64> {
        if v.is_string() {
            if let Some(ids) = self.table(kind).lookup(field, v) {
                return ids;
            }
        }
        let mut ids: Vec<u64> = self
            .table(kind)
            .by_id
            .values()
            .filter(|r| r.fields.get(field).is_some_and(|x| same_text(x, v)))
            .map(|r| r.id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Stores a new record with the given stamp; returns its id.
    pub(crate) fn store_new(
        &mut self,
        kind: Kind,
        fields: Map<String, Value>,
        owner: Option<u64>,
        caller: u64,
        stamp: i64,
    ) -> u64 {
        let id = self.new_id();
        let mut r = Record {
            id,
            fields,
            created: stamp,
            modified: stamp,
            created_by: caller,
            modified_by: caller,
            owner: owner.unwrap_or(caller),
        };
        derive(kind, &mut r, stamp);
        self.table_mut(kind).put(r);
        id
    }

    /// Applies normalised fields to an existing record.
    pub(crate) fn store_update(
        &mut self,
        kind: Kind,
        id: u64,
        fields: Map<String, Value>,
        owner: Option<u64>,
        caller: u64,
        stamp: i64,
    ) {
        let Some(mut r) = self.table(kind).by_id.get(&id).cloned() else {
            return;
        };
        for (k, v) in fields {
            r.fields.insert(k, v);
        }
        if let Some(o) = owner {
            r.owner = o;
        }
        r.modified = stamp;
        r.modified_by = caller;
        derive(kind, &mut r, stamp);
        self.table_mut(kind).put(r);
    }

    /// Moves a record to the deleted list.
    pub(crate) fn store_delete(
        &mut self,
        kind: Kind,
        id: u64,
        caller: u64,
        permanent: bool,
        stamp: i64,
    ) -> bool {
        let Some(r) = self.table_mut(kind).take(id) else {
            return false;
        };
        let name = self.display_name(kind, &r);
        let t = self.table_mut(kind);
        t.deleted_ids.insert(id);
        t.deleted.push(Deleted {
            id,
            display_name: if permanent { None } else { name },
            permanent,
            deleted_by: if permanent { None } else { Some(caller) },
            created_by: if permanent { None } else { Some(r.created_by) },
            deleted_time: stamp,
        });
        true
    }

    /// Success details of a write.
    pub(crate) fn success_details(&self, kind: Kind, id: u64, viewer: u64) -> Value {
        let Some(r) = self.table(kind).by_id.get(&id) else {
            return json!({"id": id.to_string()});
        };
        json!({
            "Modified_Time": self.render_time(r.modified, viewer),
            "Modified_By": self.user_ref(r.modified_by),
            "Created_Time": self.render_time(r.created, viewer),
            "id": id.to_string(),
            "Created_By": self.user_ref(r.created_by),
            "$approval_state": "approved",
        })
    }

    /// Renders a record for `viewer`; `only` limits the fields (id is always present).
    pub(crate) fn render(
        &self,
        kind: Kind,
        r: &Record,
        viewer: u64,
        only: Option<&[String]>,
    ) -> Value {
        let offset = self.offset_of(viewer);
        let schema = self.schema(kind);
        let mut o = Map::new();
        let want = |n: &str| only.is_none_or(|l| l.iter().any(|x| x == n));
        for d in schema {
            if !want(&d.api_name) {
                continue;
            }
            let v = match d.api_name.as_str() {
                "Owner" => self.user_ref(r.owner),
                "Created_By" => self.user_ref(r.created_by),
                "Modified_By" => self.user_ref(r.modified_by),
                "Created_Time" => Value::String(render_time(r.created, offset)),
                "Modified_Time" => Value::String(render_time(r.modified, offset)),
                _ => match r.fields.get(&d.api_name) {
                    None | Some(Value::Null) => Value::Null,
                    Some(v) => match &d.ty {
                        FieldType::DateTime => rerender(v, offset),
                        FieldType::RemindAt if v.is_string() => rerender(v, offset),
                        FieldType::Lookup(t) => {
                            let target = t
                                .or_else(|| {
                                    r.fields
                                        .get("$se_module")
                                        .and_then(Value::as_str)
                                        .and_then(|m| self.kind_by_name(m))
                                })
                                .unwrap_or(Kind::Accounts);
                            let id = v.get("id").and_then(id_of).unwrap_or_default();
                            let name = self
                                .table(target)
                                .by_id
                                .get(&id)
                                .and_then(|x| self.display_name(target, x));
                            json!({"name": name, "id": id.to_string()})
                        }
                        _ => v.clone(),
                    },
                },
            };
            o.insert(d.api_name.clone(), v);
        }
        if let Some(m) = r.fields.get("$se_module") {
            o.insert("$se_module".to_owned(), m.clone());
        }
        o.insert("id".to_owned(), Value::String(r.id.to_string()));
        o.insert("$approved".to_owned(), Value::Bool(true));
        o.insert("$editable".to_owned(), Value::Bool(true));
        o.insert("$approval_state".to_owned(), json!("approved"));
        o.insert("$process_flow".to_owned(), Value::Bool(false));
        o.insert("$locked_for_me".to_owned(), Value::Bool(false));
        o.insert("$in_merge".to_owned(), Value::Bool(false));
        o.insert("$currency_symbol".to_owned(), json!("$"));
        Value::Object(o)
    }
}

/// Fields derived from others: Contacts' `Full_Name`, Tasks' `Closed_Time`.
fn derive(kind: Kind, r: &mut Record, stamp: i64) {
    match kind {
        Kind::Contacts => {
            let n = full_name(&r.fields);
            r.fields.insert("Full_Name".to_owned(), Value::String(n));
        }
        Kind::Tasks => {
            let done = r.fields.get("Status").and_then(Value::as_str) == Some("Completed");
            let has = r.fields.get("Closed_Time").is_some_and(|v| !v.is_null());
            if done && !has {
                r.fields
                    .insert("Closed_Time".to_owned(), Value::String(utc_text(stamp)));
            } else if !done {
                r.fields.insert("Closed_Time".to_owned(), Value::Null);
            }
        }
        Kind::Events | Kind::Accounts => {}
    }
}

pub(crate) fn full_name(f: &Map<String, Value>) -> String {
    let first = f
        .get("First_Name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    let last = f
        .get("Last_Name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    format!("{first} {last}").trim().to_owned()
}

pub(crate) fn utc_text(secs: i64) -> String {
    render_time(secs, chrono::FixedOffset::east_opt(0).expect("zero offset"))
}

fn rerender(v: &Value, offset: chrono::FixedOffset) -> Value {
    match v.as_str().and_then(parse_time) {
        Some(t) => Value::String(render_time(t, offset)),
        None => v.clone(),
    }
}

fn valid_email(s: &str) -> bool {
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(l), Some(d), None) => {
            !l.is_empty()
                && d.contains('.')
                && !d.starts_with('.')
                && !d.ends_with('.')
                && !s.contains(char::is_whitespace)
        }
        _ => false,
    }
}
