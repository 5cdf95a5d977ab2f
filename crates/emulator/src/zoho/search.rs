//! The Search API: `GET /{module}/search?criteria=…|email=…|phone=…|word=…`.
//!
//! Reproduces the documented quirk that `equals` behaves like "contains" (clients must verify
//! an exact match themselves). Results are capped at 2000 records.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::api::{error, Req};
use super::records::Record;
use super::schema::Kind;
use super::state::Inner;

#[derive(Debug)]
enum Crit {
    And(Box<Crit>, Box<Crit>),
    Or(Box<Crit>, Box<Crit>),
    Leaf(String, String, Vec<String>),
}

/// Splits on unescaped `sep`, unescaping `\(`, `\)`, `\,`.
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                if let Some(last) = out.last_mut() {
                    last.push(n);
                }
            }
        } else if c == sep {
            out.push(String::new());
        } else if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

fn parse(s: &str) -> Result<Crit, String> {
    let s = s.trim();
    let b: Vec<char> = s.chars().collect();
    if b.first() != Some(&'(') {
        return Err("criteria must be bracketed".into());
    }
    // Find the bracket that closes the first one.
    let mut depth = 0;
    let mut close = None;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            '\\' => i += 1,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let close = close.ok_or("unbalanced brackets")?;
    let inner: String = b[1..close].iter().collect();
    let rest: String = b[close + 1..].iter().collect();
    let first = if inner.trim_start().starts_with('(') {
        parse(&inner)?
    } else {
        let parts = split_unescaped(&inner, ':');
        if parts.len() < 3 {
            return Err(format!("bad criterion {inner}"));
        }
        let value = parts[2..].join(":");
        let values = if parts[1] == "in" {
            split_unescaped(&value.replace("\\,", "\u{0}"), ',')
                .into_iter()
                .map(|v| v.replace('\u{0}', ","))
                .collect()
        } else {
            vec![value]
        };
        Crit::Leaf(parts[0].clone(), parts[1].clone(), values)
    };
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok(first);
    }
    let lower = rest.to_ascii_lowercase();
    if let Some(r) = lower.strip_prefix("and").map(|_| &rest[3..]) {
        return Ok(Crit::And(Box::new(first), Box::new(parse(r)?)));
    }
    if let Some(r) = lower.strip_prefix("or").map(|_| &rest[2..]) {
        return Ok(Crit::Or(Box::new(first), Box::new(parse(r)?)));
    }
    Err(format!("unexpected {rest}"))
}

fn text(inner: &Inner, kind: Kind, r: &Record, field: &str) -> Option<String> {
    match field {
        "id" => Some(r.id.to_string()),
        "Owner" => Some(r.owner.to_string()),
        _ => match r.fields.get(field)? {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_owned),
            Value::Null => None,
            v => Some(v.to_string()),
        },
    }
    .or_else(|| {
        (field == kind.display_field())
            .then(|| inner.display_name(kind, r))
            .flatten()
    })
}

fn eval(inner: &Inner, kind: Kind, r: &Record, c: &Crit) -> bool {
    match c {
        Crit::And(a, b) => eval(inner, kind, r, a) && eval(inner, kind, r, b),
        Crit::Or(a, b) => eval(inner, kind, r, a) || eval(inner, kind, r, b),
        Crit::Leaf(f, op, vals) => {
            let v = text(inner, kind, r, f).unwrap_or_default().to_lowercase();
            let want = vals.first().map(|s| s.to_lowercase()).unwrap_or_default();
            match op.as_str() {
                // Documented quirk: equals matches like "contains".
                "equals" => !want.is_empty() && v.contains(&want),
                "not_equal" => v != want,
                "starts_with" => v.starts_with(&want),
                "in" => vals
                    .iter()
                    .any(|x| v.contains(&x.to_lowercase()) && !x.is_empty()),
                _ => false,
            }
        }
    }
}

/// `GET /{module}/search`.
pub(crate) fn run(inner: &Inner, kind: Kind, req: &Req) -> Response {
    let q = &req.query;
    let crit = if let Some(c) = q.get("criteria") {
        match parse(c) {
            Ok(c) => c,
            Err(why) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_QUERY",
                    "invalid query formed",
                    json!({"reason": why}),
                )
            }
        }
    } else if let Some(e) = q.get("email") {
        let fields: &[&str] = match kind {
            Kind::Contacts => &["Email", "Secondary_Email"],
            _ => &["Email"],
        };
        fields
            .iter()
            .map(|f| Crit::Leaf((*f).to_owned(), "equals".to_owned(), vec![e.clone()]))
            .reduce(|a, b| Crit::Or(Box::new(a), Box::new(b)))
            .unwrap_or(Crit::Leaf("Email".into(), "equals".into(), vec![e.clone()]))
    } else if let Some(p) = q.get("phone") {
        ["Phone", "Mobile", "Home_Phone", "Other_Phone"]
            .iter()
            .map(|f| Crit::Leaf((*f).to_owned(), "equals".to_owned(), vec![p.clone()]))
            .reduce(|a, b| Crit::Or(Box::new(a), Box::new(b)))
            .unwrap_or(Crit::Leaf("Phone".into(), "equals".into(), vec![p.clone()]))
    } else if let Some(w) = q.get("word") {
        Crit::Leaf(
            kind.display_field().to_owned(),
            "equals".to_owned(),
            vec![w.clone()],
        )
    } else {
        return error(
            StatusCode::BAD_REQUEST,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": "criteria"}),
        );
    };
    let per_page = q
        .get("per_page")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(200)
        .clamp(1, 200);
    let page = q
        .get("page")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    if page * per_page > 2000 && page > 1 {
        return error(
            StatusCode::BAD_REQUEST,
            "LIMIT_REACHED",
            "limit reached",
            json!({"limit": 2000}),
        );
    }
    let fields: Option<Vec<String>> = q
        .get("fields")
        .map(|f| f.split(',').map(|s| s.trim().to_owned()).collect());
    let t = inner.table(kind);
    let hits: Vec<&Record> = t
        .by_idx
        .iter()
        .rev()
        .filter_map(|k| t.by_id.get(&k.1))
        .filter(|r| eval(inner, kind, r, &crit))
        .take(2000)
        .collect();
    let start = (page - 1) * per_page;
    let data: Vec<Value> = hits
        .iter()
        .skip(start)
        .take(per_page)
        .map(|r| inner.render(kind, r, req.user, fields.as_deref()))
        .collect();
    if data.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let n = data.len();
    Json(json!({"data": data, "info": {"per_page": per_page, "count": n, "page": page, "more_records": hits.len() > start + n}}))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_criteria_with_escapes() {
        let c =
            parse(r"((Last_Name:equals:O\(Brien\))and(Email:starts_with:a\,b))").expect("parse");
        match c {
            Crit::And(a, b) => {
                assert!(
                    matches!(*a, Crit::Leaf(ref f, _, ref v) if f == "Last_Name" && v[0] == "O(Brien)")
                );
                assert!(
                    matches!(*b, Crit::Leaf(_, ref op, ref v) if op == "starts_with" && v[0] == "a,b")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(parse("Last_Name:equals:x").is_err());
    }
}
