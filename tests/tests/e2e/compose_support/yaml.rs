//! Reading a compose service's mapping in either of compose's syntaxes (short and long forms of
//! `environment:`, `ports:` and `depends_on:`).

use std::collections::BTreeMap;

use serde_yaml::Value;

/// A scalar's text (strings, numbers and booleans); `None` for anything else.
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `environment:` as a map, in either of compose's two forms (mapping or `- NAME=value`).
pub fn environment(service: &Value) -> BTreeMap<String, String> {
    match service.get("environment") {
        None => BTreeMap::new(),
        Some(Value::Mapping(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((scalar(k)?, scalar(v).unwrap_or_default())))
            .collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(scalar)
            .map(|item| match item.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (item, String::new()),
            })
            .collect(),
        Some(other) => panic!("environment is neither a mapping nor a list: {other:?}"),
    }
}

/// (host port, container port) of each `ports:` entry, short (`[ip:]host:container[/proto]`)
/// or long (`target:` / `published:`) syntax.
pub fn published_ports(service: &Value) -> Vec<(String, String)> {
    let Some(Value::Sequence(entries)) = service.get("ports") else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| match entry {
            Value::Mapping(_) => Some((
                entry.get("published").and_then(scalar).unwrap_or_default(),
                entry.get("target").and_then(scalar).unwrap_or_default(),
            )),
            other => {
                let short = scalar(other)?;
                let short = short.split('/').next().unwrap_or_default().to_string();
                let parts: Vec<&str> = short.rsplitn(3, ':').collect();
                match parts.as_slice() {
                    [container, host, ..] => Some((host.to_string(), container.to_string())),
                    [container] => Some((String::new(), container.to_string())),
                    [] => None,
                }
            }
        })
        .collect()
}

pub fn depends_on(service: &Value) -> BTreeMap<String, Option<String>> {
    match service.get("depends_on") {
        Some(Value::Mapping(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((scalar(k)?, v.get("condition").and_then(scalar))))
            .collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(scalar)
            .map(|name| (name, None))
            .collect(),
        _ => BTreeMap::new(),
    }
}
