//! A small COQL engine: `select … from … [where …] [order by …] [limit n [offset m]]`.
//!
//! Supports `=`, `!=`, `<>`, `<`, `<=`, `>`, `>=`, `like`, `in`, `not in`, `is [not] null`,
//! `between … and …`, `and`, `or` and brackets; lookups compare on their id, `Lookup.Field` on
//! the looked-up record's name.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::api::{error, Req};
use super::records::Record;
use super::schema::{FieldType, Kind};
use super::state::{parse_time, Inner};

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(String),
    Sym(String),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '\'' {
            let mut v = String::new();
            i += 1;
            loop {
                match c.get(i) {
                    None => return Err("unterminated string".into()),
                    Some('\\') if c.get(i + 1).is_some() => {
                        v.push(c[i + 1]);
                        i += 2;
                    }
                    Some('\'') if c.get(i + 1) == Some(&'\'') => {
                        v.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(x) => {
                        v.push(*x);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(v));
        } else if ch.is_ascii_digit()
            || (ch == '-' && c.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num(c[start..i].iter().collect()));
        } else if ch.is_alphanumeric() || ch == '_' || ch == '$' {
            let start = i;
            while i < c.len()
                && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '$' || c[i] == '.')
            {
                i += 1;
            }
            out.push(Tok::Word(c[start..i].iter().collect()));
        } else {
            let two: String = c[i..(i + 2).min(c.len())].iter().collect();
            if matches!(two.as_str(), "!=" | "<>" | "<=" | ">=") {
                out.push(Tok::Sym(two));
                i += 2;
            } else if "()=<>,*".contains(ch) {
                out.push(Tok::Sym(ch.to_string()));
                i += 1;
            } else {
                return Err(format!("unexpected character {ch}"));
            }
        }
    }
    Ok(out)
}

#[derive(Clone, Debug)]
enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Cmp(String, String, Value),
    In(String, Vec<Value>, bool),
    Null(String, bool),
    Between(String, Value, Value),
}

struct Query {
    columns: Vec<String>,
    module: String,
    cond: Option<Cond>,
    order: Vec<(String, bool)>,
    limit: usize,
    offset: usize,
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.t.get(self.i).cloned();
        self.i += 1;
        t
    }
    fn kw(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }
    fn eat_kw(&mut self, k: &str) -> bool {
        if self.kw(k) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn sym(&self, s: &str) -> bool {
        matches!(self.peek(), Some(Tok::Sym(x)) if x == s)
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        if self.sym(s) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn word(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            other => Err(format!("expected a name, found {other:?}")),
        }
    }
    fn value(&mut self) -> Result<Value, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Value::String(s)),
            Some(Tok::Num(n)) => Ok(serde_json::from_str(&n).unwrap_or(Value::String(n))),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(Value::Null),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            other => Err(format!("expected a value, found {other:?}")),
        }
    }
    fn expr(&mut self) -> Result<Cond, String> {
        let mut left = self.term()?;
        while self.eat_kw("or") {
            let right = self.term()?;
            left = Cond::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn term(&mut self) -> Result<Cond, String> {
        let mut left = self.factor()?;
        while self.eat_kw("and") {
            let right = self.factor()?;
            left = Cond::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn factor(&mut self) -> Result<Cond, String> {
        if self.eat_sym("(") {
            let e = self.expr()?;
            if !self.eat_sym(")") {
                return Err("missing )".into());
            }
            return Ok(e);
        }
        let field = self.word()?;
        if self.eat_kw("is") {
            let not = self.eat_kw("not");
            if !self.eat_kw("null") {
                return Err("expected null".into());
            }
            return Ok(Cond::Null(field, !not));
        }
        let not = self.eat_kw("not");
        if self.eat_kw("in") {
            if !self.eat_sym("(") {
                return Err("expected (".into());
            }
            let mut vals = vec![self.value()?];
            while self.eat_sym(",") {
                vals.push(self.value()?);
            }
            if !self.eat_sym(")") {
                return Err("missing )".into());
            }
            return Ok(Cond::In(field, vals, !not));
        }
        if not {
            if self.eat_kw("like") {
                return Ok(Cond::Cmp(field, "not like".into(), self.value()?));
            }
            return Err("expected in or like after not".into());
        }
        if self.eat_kw("like") {
            return Ok(Cond::Cmp(field, "like".into(), self.value()?));
        }
        if self.eat_kw("between") {
            let a = self.value()?;
            if !self.eat_kw("and") {
                return Err("expected and".into());
            }
            let b = self.value()?;
            return Ok(Cond::Between(field, a, b));
        }
        match self.next() {
            Some(Tok::Sym(op))
                if matches!(op.as_str(), "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") =>
            {
                Ok(Cond::Cmp(field, op, self.value()?))
            }
            other => Err(format!("expected an operator, found {other:?}")),
        }
    }
}

fn parse(q: &str) -> Result<Query, String> {
    let mut p = P {
        t: tokenize(q)?,
        i: 0,
    };
    if !p.eat_kw("select") {
        return Err("expected select".into());
    }
    let mut columns = vec![p.word()?];
    while p.eat_sym(",") {
        columns.push(p.word()?);
    }
    if !p.eat_kw("from") {
        return Err("expected from".into());
    }
    let module = p.word()?;
    let cond = if p.eat_kw("where") {
        Some(p.expr()?)
    } else {
        None
    };
    let mut order = Vec::new();
    if p.eat_kw("order") {
        if !p.eat_kw("by") {
            return Err("expected by".into());
        }
        loop {
            let f = p.word()?;
            let desc = if p.eat_kw("desc") {
                true
            } else {
                p.eat_kw("asc");
                false
            };
            order.push((f, desc));
            if !p.eat_sym(",") {
                break;
            }
        }
    }
    let (mut limit, mut offset) = (200usize, 0usize);
    let num = |t: Option<Tok>| match t {
        Some(Tok::Num(n)) => n.parse::<usize>().map_err(|_| "bad number".to_owned()),
        other => Err(format!("expected a number, found {other:?}")),
    };
    if p.eat_kw("limit") {
        let a = num(p.next())?;
        if p.eat_sym(",") {
            offset = a;
            limit = num(p.next())?;
        } else {
            limit = a;
        }
    }
    if p.eat_kw("offset") {
        offset = num(p.next())?;
    }
    if let Some(t) = p.peek() {
        return Err(format!("unexpected {t:?}"));
    }
    Ok(Query {
        columns,
        module,
        cond,
        order,
        limit,
        offset,
    })
}

/// The value a condition or column sees for `field` (lookups: id, `Lookup.X`: name).
fn value_of(inner: &Inner, kind: Kind, r: &Record, field: &str) -> Value {
    let (base, sub) = match field.split_once('.') {
        Some((b, s)) => (b, Some(s)),
        None => (field, None),
    };
    match base {
        "id" => return Value::String(r.id.to_string()),
        "Owner" | "Created_By" | "Modified_By" => {
            let u = match base {
                "Owner" => r.owner,
                "Created_By" => r.created_by,
                _ => r.modified_by,
            };
            return match sub {
                None | Some("id") => Value::String(u.to_string()),
                Some("email") => inner.user(u).map(|u| json!(u.email)).unwrap_or(Value::Null),
                Some(_) => inner
                    .user(u)
                    .map(|u| json!(u.full_name))
                    .unwrap_or(Value::Null),
            };
        }
        "Created_Time" => return Value::String(super::records::utc_text(r.created)),
        "Modified_Time" => return Value::String(super::records::utc_text(r.modified)),
        _ => {}
    }
    let v = r.fields.get(base).cloned().unwrap_or(Value::Null);
    let is_lookup = inner
        .schema(kind)
        .iter()
        .any(|d| d.api_name == base && matches!(d.ty, FieldType::Lookup(_)));
    if is_lookup && !v.is_null() {
        let id = v.get("id").cloned().unwrap_or(Value::Null);
        return match sub {
            None | Some("id") => id,
            Some(_) => {
                let rendered = inner.render(kind, r, 0, Some(&[base.to_owned()]));
                rendered
                    .get(base)
                    .and_then(|x| x.get("name"))
                    .cloned()
                    .unwrap_or(Value::Null)
            }
        };
    }
    v
}

fn cmp(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => match (parse_time(x), parse_time(y)) {
            (Some(p), Some(q)) => Some(p.cmp(&q)),
            _ => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        },
        (Value::String(x), Value::Number(y)) => Some(x.as_str().cmp(y.to_string().as_str())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn like(v: &str, pattern: &str) -> bool {
    let v = v.to_lowercase();
    let p = pattern.to_lowercase();
    let parts: Vec<&str> = p.split('%').collect();
    if parts.len() == 1 {
        return v == p;
    }
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            if !v.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else if i == parts.len() - 1 {
            return v.len() >= pos + part.len() && v[pos..].ends_with(part);
        } else {
            match v[pos..].find(part) {
                Some(at) => pos += at + part.len(),
                None => return false,
            }
        }
    }
    true
}

fn eval(inner: &Inner, kind: Kind, r: &Record, c: &Cond) -> bool {
    use std::cmp::Ordering::*;
    match c {
        Cond::And(a, b) => eval(inner, kind, r, a) && eval(inner, kind, r, b),
        Cond::Or(a, b) => eval(inner, kind, r, a) || eval(inner, kind, r, b),
        Cond::Null(f, is) => {
            let v = value_of(inner, kind, r, f);
            (v.is_null() || v.as_str() == Some("")) == *is
        }
        Cond::In(f, vals, positive) => {
            let v = value_of(inner, kind, r, f);
            vals.iter().any(|x| cmp(&v, x) == Some(Equal)) == *positive
        }
        Cond::Between(f, a, b) => {
            let v = value_of(inner, kind, r, f);
            matches!(cmp(&v, a), Some(Greater | Equal)) && matches!(cmp(&v, b), Some(Less | Equal))
        }
        Cond::Cmp(f, op, x) => {
            let v = value_of(inner, kind, r, f);
            if op.ends_with("like") {
                let hit = matches!((&v, x), (Value::String(s), Value::String(p)) if like(s, p));
                return hit == (op == "like");
            }
            if x.is_null() {
                return (op == "=") == v.is_null();
            }
            let o = cmp(&v, x);
            match op.as_str() {
                "=" => o == Some(Equal),
                "!=" | "<>" => o != Some(Equal),
                "<" => o == Some(Less),
                "<=" => matches!(o, Some(Less | Equal)),
                ">" => o == Some(Greater),
                ">=" => matches!(o, Some(Greater | Equal)),
                _ => false,
            }
        }
    }
}

fn cond_fields(c: &Cond, out: &mut Vec<String>) {
    match c {
        Cond::And(a, b) | Cond::Or(a, b) => {
            cond_fields(a, out);
            cond_fields(b, out);
        }
        Cond::Cmp(f, _, _) | Cond::In(f, _, _) | Cond::Null(f, _) | Cond::Between(f, _, _) => {
            out.push(f.clone())
        }
    }
}

fn max_in(c: &Cond) -> usize {
    match c {
        Cond::And(a, b) | Cond::Or(a, b) => max_in(a).max(max_in(b)),
        Cond::In(_, v, _) => v.len(),
        _ => 0,
    }
}

/// Ids that can match, from the value indexes, when the condition allows (`=` / `in` on an
/// indexed field or `id`); `None` means scan everything.
fn candidates(inner: &Inner, kind: Kind, c: &Cond) -> Option<Vec<u64>> {
    let table = inner.table(kind);
    let one = |f: &str, v: &Value| -> Option<Vec<u64>> {
        if f == "id" {
            let id = match v {
                Value::String(s) => s.parse::<u64>().ok(),
                Value::Number(n) => n.as_u64(),
                _ => None,
            };
            return Some(id.into_iter().collect());
        }
        table.lookup(f, v).filter(|_| v.is_string())
    };
    match c {
        Cond::Cmp(f, op, v) if op == "=" => one(f, v),
        Cond::In(f, vals, true) => {
            let mut out = Vec::new();
            for v in vals {
                out.extend(one(f, v)?);
            }
            Some(out)
        }
        Cond::And(a, b) => candidates(inner, kind, a).or_else(|| candidates(inner, kind, b)),
        Cond::Or(a, b) => {
            let mut x = candidates(inner, kind, a)?;
            x.extend(candidates(inner, kind, b)?);
            Some(x)
        }
        _ => None,
    }
}

/// `POST /coql`.
pub(crate) fn run(
    inner: &Inner,
    req: &Req,
    module_read_allowed: &dyn Fn(Kind) -> bool,
) -> Response {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let Some(text) = body.get("select_query").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": "select_query"}),
        );
    };
    let q = match parse(text) {
        Ok(q) => q,
        Err(why) => {
            return error(
                StatusCode::BAD_REQUEST,
                "SYNTAX_ERROR",
                "error occured while parsing the query",
                json!({"reason": why}),
            )
        }
    };
    let Some(kind) = inner.kind_by_name(&q.module) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
            "invalid query formed",
            json!({"reason": "invalid module", "module": q.module}),
        );
    };
    if !module_read_allowed(kind) {
        return error(
            StatusCode::UNAUTHORIZED,
            "OAUTH_SCOPE_MISMATCH",
            "Unauthorized",
            json!({}),
        );
    }
    if q.columns.len() > 50 || q.limit > 2000 || q.limit == 0 {
        return error(
            StatusCode::BAD_REQUEST,
            "LIMIT_EXCEEDED",
            "limit exceeded",
            json!({"columns": 50, "limit": 2000}),
        );
    }
    if q.cond.as_ref().is_some_and(|c| max_in(c) > 50) {
        return error(
            StatusCode::BAD_REQUEST,
            "LIMIT_EXCEEDED",
            "limit exceeded",
            json!({"in": 50}),
        );
    }
    let schema = inner.schema(kind);
    let known = |f: &str| {
        let base = f.split('.').next().unwrap_or(f);
        base == "id" || schema.iter().any(|d| d.api_name == base)
    };
    let mut used = q.columns.clone();
    if let Some(c) = &q.cond {
        cond_fields(c, &mut used);
    }
    used.extend(q.order.iter().map(|o| o.0.clone()));
    if let Some(bad) = used.iter().find(|f| !known(f)) {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
            "invalid query formed",
            json!({"column_name": bad, "reason": "invalid column given"}),
        );
    }
    let table = inner.table(kind);
    let keep = |r: &&Record| q.cond.as_ref().is_none_or(|c| eval(inner, kind, r, c));
    let mut hits: Vec<&Record> = match q.cond.as_ref().and_then(|c| candidates(inner, kind, c)) {
        Some(mut ids) => {
            ids.sort_unstable();
            ids.dedup();
            ids.iter()
                .filter_map(|id| table.by_id.get(id))
                .filter(keep)
                .collect()
        }
        None => table.by_id.values().filter(keep).collect(),
    };
    hits.sort_by(|a, b| {
        for (f, desc) in &q.order {
            let o = cmp(&value_of(inner, kind, a, f), &value_of(inner, kind, b, f))
                .unwrap_or(std::cmp::Ordering::Equal);
            if o != std::cmp::Ordering::Equal {
                return if *desc { o.reverse() } else { o };
            }
        }
        a.id.cmp(&b.id)
    });
    let total = hits.len();
    let page: Vec<Value> = hits
        .into_iter()
        .skip(q.offset)
        .take(q.limit)
        .map(|r| {
            let plain: Vec<String> = q
                .columns
                .iter()
                .filter(|c| !c.contains('.'))
                .cloned()
                .collect();
            let rendered = inner.render(kind, r, req.user, Some(&plain));
            let mut o = Map::new();
            for c in &q.columns {
                let v = if c.contains('.') {
                    value_of(inner, kind, r, c)
                } else {
                    match rendered.get(c) {
                        Some(Value::Object(m)) if m.contains_key("id") => {
                            json!({"id": m.get("id")})
                        }
                        Some(v) => v.clone(),
                        None => Value::Null,
                    }
                };
                o.insert(c.clone(), v);
            }
            o.insert("id".to_owned(), Value::String(r.id.to_string()));
            Value::Object(o)
        })
        .collect();
    if page.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let n = page.len();
    Json(json!({"data": page, "info": {"count": n, "more_records": total > q.offset + n}}))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_connector_forms() {
        let q = parse("select id, Email from Contacts where CRMSync_Id in ('a', 'b''c') limit 5")
            .expect("parse");
        assert_eq!(q.module, "Contacts");
        assert_eq!(q.limit, 5);
        assert!(
            matches!(q.cond, Some(Cond::In(ref f, ref v, true)) if f == "CRMSync_Id" && v.len() == 2)
        );
        let q = parse("select id from Accounts where (Account_Name = 'A' or Account_Name = 'B') and id is not null limit 10, 20")
            .expect("parse");
        assert_eq!((q.offset, q.limit), (10, 20));
        assert!(parse("select from Contacts").is_err());
        assert!(parse("select id from Contacts where Email = ").is_err());
    }

    #[test]
    fn like_matches_wildcards() {
        assert!(like("Acme Corp", "acme%"));
        assert!(like("Acme Corp", "%corp"));
        assert!(like("Acme Corp", "%me c%"));
        assert!(!like("Acme Corp", "%xyz%"));
    }
}
