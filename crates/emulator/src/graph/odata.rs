//! The OData query options the emulator understands: `$filter`, `$select`, `$expand`.

use serde_json::{Map, Value};

/// A parsed `$filter` expression.
#[derive(Clone, Debug)]
pub(crate) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(String, Box<Expr>, Box<Expr>),
    Any(Vec<String>, String, Box<Expr>),
    Func(String, Vec<Expr>),
    Path(Vec<String>),
    Lit(Value),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Open,
    Close,
    Comma,
    Colon,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1;
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string literal".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            v.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            v.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | ':' | '-'))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                match text.parse::<f64>() {
                    Ok(n) => out.push(Tok::Num(n)),
                    // Date-time literals are compared as strings.
                    Err(_) => out.push(Tok::Str(text)),
                }
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' || c == '@' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric()
                        || matches!(chars[i], '_' | '/' | '.' | '$' | '@'))
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character '{other}'")),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }
    fn expect(&mut self, t: Tok) -> Result<(), String> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            other => Err(format!("expected {t:?}, found {other:?}")),
        }
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        let left = self.primary()?;
        for op in ["eq", "ne", "gt", "ge", "lt", "le"] {
            if self.keyword(op) {
                self.pos += 1;
                let right = self.primary()?;
                return Ok(Expr::Cmp(op.to_string(), Box::new(left), Box::new(right)));
            }
        }
        Ok(left)
    }
    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Open) => {
                let e = self.or()?;
                self.expect(Tok::Close)?;
                Ok(e)
            }
            Some(Tok::Str(s)) => Ok(Expr::Lit(Value::String(s))),
            Some(Tok::Num(n)) => Ok(Expr::Lit(
                serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
            )),
            Some(Tok::Ident(id)) => {
                let lower = id.to_ascii_lowercase();
                if lower == "true" || lower == "false" {
                    return Ok(Expr::Lit(Value::Bool(lower == "true")));
                }
                if lower == "null" {
                    return Ok(Expr::Lit(Value::Null));
                }
                let segs: Vec<String> = id.split('/').map(str::to_string).collect();
                if self.peek() == Some(&Tok::Open) {
                    let last = segs
                        .last()
                        .map(|s| s.to_ascii_lowercase())
                        .unwrap_or_default();
                    if segs.len() > 1 && (last == "any" || last == "all") {
                        self.pos += 1;
                        let var = match self.next() {
                            Some(Tok::Ident(v)) => v,
                            other => {
                                return Err(format!("expected lambda variable, found {other:?}"))
                            }
                        };
                        self.expect(Tok::Colon)?;
                        let body = self.or()?;
                        self.expect(Tok::Close)?;
                        return Ok(Expr::Any(
                            segs[..segs.len() - 1].to_vec(),
                            var,
                            Box::new(body),
                        ));
                    }
                    self.pos += 1;
                    let mut args = Vec::new();
                    if self.peek() != Some(&Tok::Close) {
                        loop {
                            args.push(self.or()?);
                            if self.peek() == Some(&Tok::Comma) {
                                self.pos += 1;
                                continue;
                            }
                            break;
                        }
                    }
                    self.expect(Tok::Close)?;
                    return Ok(Expr::Func(lower, args));
                }
                Ok(Expr::Path(segs))
            }
            other => Err(format!("unexpected token {other:?}")),
        }
    }
}

/// Parses a `$filter` value.
pub(crate) fn parse_filter(s: &str) -> Result<Expr, String> {
    let toks = tokenize(s)?;
    let mut p = Parser { toks, pos: 0 };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err("trailing tokens in $filter".into());
    }
    Ok(e)
}

/// Normalises an extended property id for comparison: the type and GUID are case-insensitive,
/// the `Name` part is case-sensitive.
pub(crate) fn canonical_ext_id(id: &str) -> Option<String> {
    let mut parts = id.trim().splitn(4, ' ');
    let ty = parts.next()?;
    let guid = parts.next()?;
    if !guid.starts_with('{') {
        return None;
    }
    let rest: Vec<&str> = parts.collect();
    Some(format!(
        "{} {} {}",
        ty.to_ascii_lowercase(),
        guid.to_ascii_lowercase(),
        rest.join(" ")
    ))
}

fn resolve<'a>(path: &[String], root: &'a Value, env: &[(String, &'a Value)]) -> Option<&'a Value> {
    let (start, rest) = match env.iter().rev().find(|(v, _)| path.first() == Some(v)) {
        Some((_, val)) => (*val, &path[1..]),
        None => (root, path),
    };
    let mut cur = start;
    for seg in rest {
        cur = match cur {
            Value::Object(m) => m.get(seg.as_str()).or_else(|| {
                m.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(seg))
                    .map(|(_, v)| v)
            })?,
            _ => return None,
        };
    }
    Some(cur)
}

fn value_of(e: &Expr, root: &Value, env: &[(String, &Value)]) -> Value {
    match e {
        Expr::Lit(v) => v.clone(),
        Expr::Path(p) => resolve(p, root, env).cloned().unwrap_or(Value::Null),
        Expr::Func(name, args) if name == "cast" => {
            let v = args
                .first()
                .map(|a| value_of(a, root, env))
                .unwrap_or(Value::Null);
            match &v {
                Value::String(s) => s
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(v, Value::Number),
                _ => v,
            }
        }
        Expr::Func(name, args) if name == "tolower" || name == "toupper" => {
            let v = args
                .first()
                .map(|a| value_of(a, root, env))
                .unwrap_or(Value::Null);
            match v {
                Value::String(s) if name == "tolower" => Value::String(s.to_lowercase()),
                Value::String(s) => Value::String(s.to_uppercase()),
                other => other,
            }
        }
        other => Value::Bool(eval_env(other, root, env)),
    }
}

fn str_eq(a: &str, b: &str) -> bool {
    match (canonical_ext_id(a), canonical_ext_id(b)) {
        (Some(x), Some(y)) if a.contains('{') && b.contains('{') => x == y,
        _ => a.to_lowercase() == b.to_lowercase(),
    }
}

fn compare(op: &str, a: &Value, b: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = match (a, b) {
        (Value::String(x), Value::String(y)) => {
            if op == "eq" || op == "ne" {
                let eq = str_eq(x, y);
                return if op == "eq" { eq } else { !eq };
            }
            Some(x.to_lowercase().cmp(&y.to_lowercase()))
        }
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .zip(y.as_f64())
            .and_then(|(x, y)| x.partial_cmp(&y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match (op, ord) {
        ("eq", o) => o == Some(Ordering::Equal),
        ("ne", o) => o != Some(Ordering::Equal),
        ("gt", Some(o)) => o == Ordering::Greater,
        ("ge", Some(o)) => o != Ordering::Less,
        ("lt", Some(o)) => o == Ordering::Less,
        ("le", Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

fn eval_env(e: &Expr, root: &Value, env: &[(String, &Value)]) -> bool {
    match e {
        Expr::Or(a, b) => eval_env(a, root, env) || eval_env(b, root, env),
        Expr::And(a, b) => eval_env(a, root, env) && eval_env(b, root, env),
        Expr::Not(a) => !eval_env(a, root, env),
        Expr::Cmp(op, a, b) => compare(op, &value_of(a, root, env), &value_of(b, root, env)),
        Expr::Any(path, var, body) => match resolve(path, root, env) {
            Some(Value::Array(items)) => items.iter().any(|it| {
                let mut env2: Vec<(String, &Value)> = env.to_vec();
                env2.push((var.clone(), it));
                eval_env(body, root, &env2)
            }),
            _ => false,
        },
        Expr::Func(name, args) => {
            let vals: Vec<Value> = args.iter().map(|a| value_of(a, root, env)).collect();
            let s = |i: usize| vals.get(i).and_then(Value::as_str).map(str::to_lowercase);
            match (name.as_str(), s(0), s(1)) {
                ("startswith", Some(a), Some(b)) => a.starts_with(&b),
                ("endswith", Some(a), Some(b)) => a.ends_with(&b),
                ("contains", Some(a), Some(b)) => a.contains(&b),
                _ => false,
            }
        }
        Expr::Path(_) | Expr::Lit(_) => value_of(e, root, env).as_bool().unwrap_or(false),
    }
}

/// Evaluates a filter against one JSON object.
pub(crate) fn eval(e: &Expr, root: &Value) -> bool {
    eval_env(e, root, &[])
}

/// Does the expression mention extended properties (which makes it a mailbox-wide search)?
pub(crate) fn mentions(e: &Expr, name: &str) -> bool {
    match e {
        Expr::Or(a, b) | Expr::And(a, b) | Expr::Cmp(_, a, b) => {
            mentions(a, name) || mentions(b, name)
        }
        Expr::Not(a) => mentions(a, name),
        Expr::Any(p, _, b) => p.iter().any(|s| s.eq_ignore_ascii_case(name)) || mentions(b, name),
        Expr::Func(_, args) => args.iter().any(|a| mentions(a, name)),
        Expr::Path(p) => p.iter().any(|s| s.eq_ignore_ascii_case(name)),
        Expr::Lit(_) => false,
    }
}

/// One `$expand` item: a navigation property and its optional `$filter`.
#[derive(Clone, Debug)]
pub(crate) struct Expand {
    pub name: String,
    pub filter: Option<Expr>,
}

/// Parses `$expand=a,b($filter=...)`.
pub(crate) fn parse_expand(s: &str) -> Result<Vec<Expand>, String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    let mut parts = Vec::new();
    let mut in_str = false;
    for c in s.chars() {
        match c {
            '\'' => in_str = !in_str,
            '(' if !in_str => depth += 1,
            ')' if !in_str => depth -= 1,
            ',' if depth == 0 && !in_str => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        parts.push(cur);
    }
    for p in parts {
        let p = p.trim();
        let (name, opts) = match p.find('(') {
            Some(i) if p.ends_with(')') => (&p[..i], Some(&p[i + 1..p.len() - 1])),
            Some(_) => return Err("malformed $expand".into()),
            None => (p, None),
        };
        let mut filter = None;
        if let Some(opts) = opts {
            for opt in opts.split(';') {
                let opt = opt.trim();
                if let Some(f) = opt
                    .strip_prefix("$filter=")
                    .or_else(|| opt.strip_prefix("filter="))
                {
                    filter = Some(parse_filter(f)?);
                } else if !opt.is_empty() {
                    return Err(format!("unsupported $expand option '{opt}'"));
                }
            }
        }
        out.push(Expand {
            name: name.trim().to_string(),
            filter,
        });
    }
    Ok(out)
}

/// Parses `$select=a,b`.
pub(crate) fn parse_select(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

/// Keeps only the selected properties, plus `id` and annotations.
pub(crate) fn apply_select(obj: &mut Map<String, Value>, select: &[String]) {
    obj.retain(|k, _| {
        k == "id" || k.starts_with('@') || select.iter().any(|s| s.eq_ignore_ascii_case(k))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extended_property_filter_matches_case_rules() {
        let f = parse_filter(
            "singleValueExtendedProperties/Any(ep: ep/id eq 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name ZohoId' and ep/value eq 'ABC')",
        )
        .unwrap();
        let item = json!({"singleValueExtendedProperties": [
            {"id": "String {66F5A359-4659-4830-9070-00047EC6AC6E} Name ZohoId", "value": "abc"}]});
        assert!(eval(&f, &item));
        let other = json!({"singleValueExtendedProperties": [
            {"id": "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name zohoid", "value": "abc"}]});
        assert!(!eval(&f, &other));
    }

    #[test]
    fn categories_any_with_or_and_escaped_quotes() {
        let f = parse_filter("categories/any(a:a eq 'Zoho') or categories/any(a:a eq 'O''Brien')")
            .unwrap();
        assert!(eval(&f, &json!({"categories": ["o'brien"]})));
        assert!(!eval(&f, &json!({"categories": ["Other"]})));
    }

    #[test]
    fn expand_with_filter_parses() {
        let e = parse_expand(
            "singleValueExtendedProperties($filter=id eq 'String {x} Name A'),linkedResources",
        )
        .unwrap();
        assert_eq!(e.len(), 2);
        assert!(e[0].filter.is_some());
    }
}
