//! compose.yaml as compose reads it, for tests/compose.rs and tests/compose_secrets.rs:
//! interpolated with deploy/compose.env.example (compose.yaml has no default secrets, so its
//! `${VAR:?…}` need values) and with `<<:` merge keys applied.

pub mod yaml;

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use serde_yaml::Value;

pub const ENV_EXAMPLE: &str = "deploy/compose.env.example";

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace root")
        .to_path_buf()
}

pub fn read(relative: &str) -> String {
    fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// `NAME=value` lines of deploy/compose.env.example (comments and blanks skipped).
pub fn example_env() -> BTreeMap<String, String> {
    read(ENV_EXAMPLE)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// One `${…}` expression: its variable, the operator (`:-`, `-`, `:?`, `?` or none) and the
/// word after it.
pub struct Reference {
    pub name: String,
    pub op: String,
    pub word: String,
}

/// Every `${…}` of `text` (`$${…}` escapes are skipped), in order.
pub fn references(text: &str) -> Vec<Reference> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let escaped = rest[..i].ends_with('$');
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { break };
        if !escaped {
            let inner = &after[..end];
            let split = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            let (name, tail) = inner.split_at(split);
            let op_len = match tail.as_bytes() {
                [b':', b'-' | b'?', ..] => 2,
                [b'-' | b'?', ..] => 1,
                _ => 0,
            };
            found.push(Reference {
                name: name.to_string(),
                op: tail[..op_len].to_string(),
                word: tail[op_len..].to_string(),
            });
        }
        rest = &after[end + 1..];
    }
    found
}

/// compose's interpolation, enough for compose.yaml: `$$` is a literal `$`; `${NAME}`,
/// `${NAME:-default}` and `${NAME:?message}` take `vars[NAME]`; an unset required one panics.
pub fn interpolate(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').expect("an unclosed ${ in compose.yaml");
            let reference = references(&format!("${{{}}}", &body[..end]))
                .pop()
                .expect("one reference");
            let value = vars.get(&reference.name).filter(|v| !v.is_empty());
            out.push_str(&match (value, reference.op.as_str()) {
                (Some(v), _) => v.clone(),
                (None, ":-" | "-") => reference.word,
                (None, ":?" | "?") => panic!(
                    "{} is required ({}) and missing from {ENV_EXAMPLE}",
                    reference.name, reference.word
                ),
                (None, _) => String::new(),
            });
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// compose.yaml with the example's values and merge keys applied.
pub fn compose() -> Value {
    let text = interpolate(&read("compose.yaml"), &example_env());
    let mut value: Value = serde_yaml::from_str(&text).expect("compose.yaml is YAML");
    // `<<: *anchor` merge keys, as compose applies them
    value.apply_merge().expect("compose.yaml merge keys");
    value
}
