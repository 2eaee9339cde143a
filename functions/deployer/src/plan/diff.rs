//! Pure: the fields in which one register request differs from another, field by field and container by
//! container, with both values as JSON (`container`, `field`, `from` → `to`).
//!
//! The SDK's ECS types have no serde support, but every one implements `Debug`, whose output names every
//! field the SDK knows. [`debug_json`] reads that output back as JSON, so a field a newer SDK adds is
//! compared and shown without a change here. `Debug` masks the fields the SDK calls sensitive
//! (`environment`, `repositoryCredentials`): those are compared on their typed values, and shown by name
//! with their values masked. Whether anything changes at all is decided by [`same_request`] on the typed
//! requests, never by this rendering.

use std::fmt::Debug;

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use contract::result::FieldChange;
use serde_json::{Map, Value};

/// Every field in which `new` differs from `old`, tags aside (a revision's tags are not part of what runs).
/// Task-level fields come first in the SDK's order, then each container's, matched by name; a container
/// present on one side only is one change of field `container`.
pub fn differences(old: &RegisterTaskDefinitionInput, new: &RegisterTaskDefinitionInput) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let (old_fields, new_fields) = (fields(old), fields(new));
    for (name, from) in &old_fields {
        if name == "tags" || name == "container_definitions" {
            continue;
        }
        let to = new_fields.get(name).cloned().unwrap_or(Value::Null);
        if *from != to {
            out.push(FieldChange { container: None, field: api_name(name), from: from.clone(), to });
        }
    }
    let name_of = |c: &aws_sdk_ecs::types::ContainerDefinition| c.name().unwrap_or_default().to_owned();
    for new_c in new.container_definitions() {
        let name = name_of(new_c);
        match old.container_definitions().iter().find(|c| name_of(c) == name) {
            None => out.push(FieldChange {
                container: Some(name),
                field: "container".into(),
                from: Value::Null,
                to: debug_json(new_c),
            }),
            Some(old_c) => {
                let (before, after) = (fields(old_c), fields(new_c));
                for (field, from) in &before {
                    let to = after.get(field).cloned().unwrap_or(Value::Null);
                    if *from != to {
                        out.push(FieldChange {
                            container: Some(name.clone()),
                            field: api_name(field),
                            from: from.clone(),
                            to,
                        });
                    }
                }
                out.extend(redacted_differences(&name, old_c, new_c));
            }
        }
    }
    for old_c in old.container_definitions() {
        let name = name_of(old_c);
        if !new.container_definitions().iter().any(|c| name_of(c) == name) {
            out.push(FieldChange {
                container: Some(name),
                field: "container".into(),
                from: debug_json(old_c),
                to: Value::Null,
            });
        }
    }
    if out.is_empty() && !same_request(old, new) {
        // Something differs that neither side shows (a field a newer SDK redacts): say so rather than nothing.
        out.push(FieldChange {
            container: None,
            field: "(a field the SDK does not show)".into(),
            from: Value::String(REDACTED.into()),
            to: Value::String(REDACTED.into()),
        });
    }
    out
}

/// How a result shows a value the SDK calls sensitive.
const REDACTED: &str = "***";

/// True when the two requests register the same revision: every field equal, tags aside (a revision's tags
/// are not part of what runs).
pub fn same_request(a: &RegisterTaskDefinitionInput, b: &RegisterTaskDefinitionInput) -> bool {
    let (mut a, mut b) = (a.clone(), b.clone());
    a.tags = None;
    b.tags = None;
    a == b
}

/// The fields the SDK redacts in `Debug` (`environment`, `repositoryCredentials`), compared on the typed
/// values. Environment variables are shown one by one, by name, their values masked: the SDK treats them
/// as sensitive, and results reach CI logs and chat.
fn redacted_differences(
    name: &str,
    old: &aws_sdk_ecs::types::ContainerDefinition,
    new: &aws_sdk_ecs::types::ContainerDefinition,
) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let masked = |present: bool| if present { Value::String(REDACTED.into()) } else { Value::Null };
    let env = |c: &aws_sdk_ecs::types::ContainerDefinition| -> Vec<(String, Option<String>)> {
        c.environment()
            .iter()
            .map(|kv| (kv.name().unwrap_or_default().to_owned(), kv.value().map(str::to_owned)))
            .collect()
    };
    let (before, after) = (env(old), env(new));
    let mut names: Vec<&String> = before.iter().chain(&after).map(|(n, _)| n).collect();
    names.sort();
    names.dedup();
    for var in names {
        let from = before.iter().find(|(n, _)| n == var).map(|(_, v)| v);
        let to = after.iter().find(|(n, _)| n == var).map(|(_, v)| v);
        if from != to {
            out.push(FieldChange {
                container: Some(name.to_owned()),
                field: format!("environment.{var}"),
                from: masked(from.is_some()),
                to: match (from, to) {
                    (Some(_), Some(_)) => Value::String(format!("{REDACTED} (changed)")),
                    (_, to) => masked(to.is_some()),
                },
            });
        }
    }
    if before.len() == after.len() && out.is_empty() && old.environment() != new.environment() {
        // Same variables and values in another order.
        out.push(FieldChange {
            container: Some(name.to_owned()),
            field: "environment".into(),
            from: Value::String(REDACTED.into()),
            to: Value::String(format!("{REDACTED} (reordered)")),
        });
    }
    if old.repository_credentials() != new.repository_credentials() {
        out.push(FieldChange {
            container: Some(name.to_owned()),
            field: "repositoryCredentials".into(),
            from: masked(old.repository_credentials().is_some()),
            to: masked(new.repository_credentials().is_some()),
        });
    }
    out
}

/// The top-level fields of a struct, by their Rust names. Output that does not read back as an object
/// becomes one pseudo-field holding the whole text, so two values that differ never compare equal.
fn fields(value: &impl Debug) -> Map<String, Value> {
    match debug_json(value) {
        Value::Object(map) => map,
        other => Map::from_iter([("definition".to_owned(), other)]),
    }
}

/// `memory_reservation` → `memoryReservation`: the ECS API's spelling of an SDK field.
pub fn api_name(rust: &str) -> String {
    let mut out = String::with_capacity(rust.len());
    let mut upper = false;
    for ch in rust.trim_start_matches("r#").chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// A value's derived `Debug` output as JSON: structs become objects (without their type name), `Some(x)`
/// is `x`, `None` is `null`, enum variants are their names, maps and lists keep their shape. Output that
/// does not parse is kept whole as one string, so a comparison never fails, it only gets coarser.
pub fn debug_json(value: &impl Debug) -> Value {
    let text = format!("{value:?}");
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    match p.value() {
        Some(v) if p.rest_is_blank() => v,
        _ => Value::String(text),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn rest_is_blank(&mut self) -> bool {
        self.blank();
        self.i == self.s.len()
    }

    fn blank(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.blank();
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.i += 1)
    }

    fn value(&mut self) -> Option<Value> {
        match self.peek()? {
            b'"' => self.string().map(Value::String),
            b'[' => self.list(b'[', b']').map(Value::Array),
            b'(' => self.list(b'(', b')').map(Value::Array),
            b'{' => self.map(),
            b'-' | b'0'..=b'9' => self.number(),
            b if b.is_ascii_alphabetic() || b == b'_' => self.named(),
            _ => None,
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.blank();
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || matches!(self.s[self.i], b'_' | b'#'))
        {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// `None`, `true`, `Some(x)`, `Variant`, `Struct { a: x, .. }`, `Tuple(x, y)`.
    fn named(&mut self) -> Option<Value> {
        let name = self.ident()?;
        match (name.as_str(), self.s.get(self.i).copied()) {
            ("None", _) => Some(Value::Null),
            ("true", _) => Some(Value::Bool(true)),
            ("false", _) => Some(Value::Bool(false)),
            ("NaN" | "inf", _) => Some(Value::String(name)),
            (_, Some(b'(')) => {
                let mut items = self.list(b'(', b')')?;
                Some(if items.len() == 1 { items.remove(0) } else { Value::Array(items) })
            }
            _ if self.peek() == Some(b'{') => self.fields(),
            _ => Some(Value::String(name)),
        }
    }

    /// `{ a: x, b: y, .. }` after a struct's name.
    fn fields(&mut self) -> Option<Value> {
        self.eat(b'{')?;
        let mut map = Map::new();
        loop {
            if self.eat(b'}').is_some() {
                return Some(Value::Object(map));
            }
            if self.peek()? == b'.' {
                self.i += 2;
                continue;
            }
            let key = self.ident()?;
            self.eat(b':')?;
            let value = self.value()?;
            map.insert(key, value);
            if self.eat(b',').is_none() {
                self.eat(b'}')?;
                return Some(Value::Object(map));
            }
        }
    }

    /// `{k: v, …}`: a map's Debug output.
    fn map(&mut self) -> Option<Value> {
        self.eat(b'{')?;
        let mut map = Map::new();
        loop {
            if self.eat(b'}').is_some() {
                return Some(Value::Object(map));
            }
            let key = match self.value()? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            self.eat(b':')?;
            let value = self.value()?;
            map.insert(key, value);
            if self.eat(b',').is_none() {
                self.eat(b'}')?;
                return Some(Value::Object(map));
            }
        }
    }

    fn list(&mut self, open: u8, close: u8) -> Option<Vec<Value>> {
        self.eat(open)?;
        let mut items = Vec::new();
        loop {
            if self.eat(close).is_some() {
                return Some(items);
            }
            items.push(self.value()?);
            if self.eat(b',').is_none() {
                self.eat(close)?;
                return Some(items);
            }
        }
    }

    /// A number, or anything else written bare up to the next delimiter (a date such as
    /// `2025-10-09T08:53:20Z`), which is kept as a string.
    fn number(&mut self) -> Option<Value> {
        self.blank();
        let start = self.i;
        while self.i < self.s.len() && !matches!(self.s[self.i], b',' | b')' | b']' | b'}' | b' ' | b'\n') {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        if let Ok(n) = text.parse::<i64>() {
            return Some(Value::from(n));
        }
        Some(text.parse::<f64>().ok().map_or_else(|| Value::String(text.to_owned()), Value::from))
    }

    /// A Rust string literal as `Debug` writes it.
    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let b = *self.s.get(self.i)?;
            self.i += 1;
            match b {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = *self.s.get(self.i)?;
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'0' => out.push(0),
                        b'u' => {
                            // \u{hex}
                            self.eat(b'{')?;
                            let start = self.i;
                            while *self.s.get(self.i)? != b'}' {
                                self.i += 1;
                            }
                            let hex = std::str::from_utf8(&self.s[start..self.i]).ok()?;
                            self.i += 1;
                            let ch = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                            out.extend_from_slice(ch.to_string().as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                other => out.push(other),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, NetworkMode, VersionConsistency};
    use serde_json::json;

    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)] // read through Debug
    struct Sample {
        name: Option<String>,
        empty: Option<String>,
        count: i32,
        ratio: f64,
        flag: bool,
        mode: Option<NetworkMode>,
        list: Vec<KeyValuePair>,
        map: HashMap<String, String>,
        tuple: (i32, &'static str),
        tricky: String,
    }

    #[test]
    fn debug_output_reads_back_as_json() {
        let sample = Sample {
            name: Some("app".into()),
            empty: Some(String::new()),
            count: -3,
            ratio: 0.5,
            flag: true,
            mode: Some(NetworkMode::Awsvpc),
            list: vec![KeyValuePair::builder().name("A").value("1").build()],
            map: HashMap::from([("k".to_string(), "v: {x}".to_string())]),
            tuple: (1, "b"),
            tricky: "quote \" backslash \\ newline \n brace } é".into(),
        };
        assert_eq!(
            debug_json(&sample),
            json!({
                "name": "app", "empty": "", "count": -3, "ratio": 0.5, "flag": true, "mode": "Awsvpc",
                "list": [{"name": "A", "value": "1"}], "map": {"k": "v: {x}"}, "tuple": [1, "b"],
                "tricky": "quote \" backslash \\ newline \n brace } é",
            })
        );
        assert_eq!(debug_json(&VersionConsistency::from("someday")), json!("someday"));
    }

    #[test]
    fn every_sdk_shape_of_the_fixtures_reads_back_as_an_object() {
        let td = crate::testing::full_task_definition(7, "v1");
        let text = format!("{td:?}");
        let mut p = Parser { s: text.as_bytes(), i: 0 };
        let parsed = p.value();
        assert!(parsed.is_some() && p.rest_is_blank(), "stuck at {:?}", &text[p.i.min(text.len())..]);
        for c in td.container_definitions() {
            assert!(debug_json(c).is_object(), "{c:?}");
        }
    }

    #[test]
    fn unparsable_output_is_kept_whole() {
        struct Odd;
        impl Debug for Odd {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("<odd> ~")
            }
        }
        assert_eq!(debug_json(&Odd), json!("<odd> ~"));
    }

    #[test]
    fn field_names_are_the_apis() {
        assert_eq!(api_name("memory_reservation"), "memoryReservation");
        assert_eq!(api_name("r#type"), "type");
        assert_eq!(api_name("cpu"), "cpu");
    }

    fn request(containers: Vec<ContainerDefinition>, memory: &str) -> RegisterTaskDefinitionInput {
        RegisterTaskDefinitionInput::builder()
            .family("web")
            .memory(memory)
            .set_container_definitions(Some(containers))
            .build()
            .unwrap()
    }

    #[test]
    fn differences_name_the_container_the_field_and_both_values() {
        let app = |env: &[(&str, &str)]| {
            let mut c = ContainerDefinition::builder().name("app").image("r/web:v1");
            for (k, v) in env {
                c = c.environment(KeyValuePair::builder().name(*k).value(*v).build());
            }
            c.build()
        };
        let old = request(vec![app(&[("A", "1")])], "512");
        let new = request(
            vec![app(&[("A", "1"), ("FEATURE_X", "on")]), ContainerDefinition::builder().name("cron").build()],
            "1024",
        );
        let diff = differences(&old, &new);
        let got: Vec<(Option<&str>, &str)> = diff.iter().map(|d| (d.container.as_deref(), d.field.as_str())).collect();
        assert_eq!(got, [(None, "memory"), (Some("app"), "environment.FEATURE_X"), (Some("cron"), "container")]);
        assert_eq!((&diff[0].from, &diff[0].to), (&json!("512"), &json!("1024")));
        assert_eq!((&diff[1].from, &diff[1].to), (&Value::Null, &json!("***")), "values stay masked, as the SDK's");
        assert_eq!(diff[2].from, Value::Null);
        assert!(differences(&old, &old).is_empty());
        let back = differences(&new, &old);
        assert_eq!(back.last().map(|d| (d.field.as_str(), &d.to)), Some(("container", &Value::Null)));

        // A changed value and a reordered list are differences too, though the SDK's Debug hides both.
        let changed = request(vec![app(&[("A", "2")])], "512");
        let diff = differences(&old, &changed);
        assert_eq!(diff.len(), 1);
        assert_eq!((diff[0].field.as_str(), &diff[0].to), ("environment.A", &json!("*** (changed)")));
        assert!(!same_request(&old, &changed));
        let two = request(vec![app(&[("A", "1"), ("B", "2")])], "512");
        let swapped = request(vec![app(&[("B", "2"), ("A", "1")])], "512");
        assert_eq!(differences(&two, &swapped)[0].field, "environment");
    }

    #[test]
    fn tags_are_not_part_of_the_revision() {
        let a = request(vec![], "512");
        let mut b = a.clone();
        b.tags = Some(vec![aws_sdk_ecs::types::Tag::builder().key("k").value("v").build()]);
        assert!(same_request(&a, &b));
        assert!(differences(&a, &b).is_empty());
    }
}
