//! `paymsa-ops json get`: fields of the JSON on stdin for scripts/fuzz.sh (it reads
//! schemathesis' report), so the scripts need neither python3 nor jq; [`text`] is also how the
//! demo prints a value it does not type.
//!
//! A path picks values out of the document on stdin:
//!
//! - `.name` the member (an error when it is missing, as `d["name"]` was); `.name?` null then
//! - `[N]` the Nth item; `[]` every item of an array
//! - `[key=value]` the items of an array (or the object itself) whose `key` reads as `value`
//! - `.` or nothing: the document
//!
//! Each value prints as its text: strings raw, null as "", the rest as one-line JSON.

use std::io::Read;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::pretty;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Values at PATH in the JSON on stdin, one per line
    Get(GetArgs),
}

#[derive(clap::Args)]
pub struct GetArgs {
    /// `.orders[0].status`, `.items[consumer=c][]`, `.products[].name`, `.x?` …
    path: String,
    /// Each value as JSON (strings quoted, non-ASCII escaped), as Python's `json.dumps`
    #[arg(long)]
    json: bool,
    /// Each value as TEMPLATE, whose `{path}` are read from the value (`{to} ({source})`)
    #[arg(long, value_name = "TEMPLATE")]
    format: Option<String>,
    /// Sort the values (by their text)
    #[arg(long)]
    sort: bool,
    /// Between the values instead of a newline
    #[arg(long, value_name = "SEP")]
    join: Option<String>,
    /// Only how many values there are
    #[arg(long)]
    len: bool,
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Get(args) => {
            let doc: Value = serde_json::from_str(&stdin()?).context("stdin is not JSON")?;
            sayln!("{}", get(&doc, &args)?);
        }
    }
    Ok(())
}

fn stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading stdin")?;
    Ok(text)
}

/// What `json get` prints for `doc`.
pub fn get(doc: &Value, args: &GetArgs) -> anyhow::Result<String> {
    let values = select(doc, &args.path)?;
    if args.len {
        return Ok(values.len().to_string());
    }
    let mut shown = values
        .iter()
        .map(|v| match (&args.format, args.json) {
            (Some(template), _) => format(v, template),
            (None, true) => Ok(pretty::one_line(v)),
            (None, false) => Ok(text(v)),
        })
        .collect::<anyhow::Result<Vec<String>>>()?;
    if args.sort {
        shown.sort();
    }
    Ok(shown.join(args.join.as_deref().unwrap_or("\n")))
}

/// A value as `jget` printed it: strings raw, null as "", the rest as one line of JSON with
/// Python's separators, non-ASCII as is.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => pretty::one_line_utf8(value),
        other => other.to_string(),
    }
}

#[derive(Debug, PartialEq)]
enum Step<'a> {
    Key { name: &'a str, optional: bool },
    Index(usize),
    Each,
    Where { key: &'a str, value: &'a str },
}

fn parse(path: &str) -> anyhow::Result<Vec<Step<'_>>> {
    let mut steps = Vec::new();
    let mut rest = path.strip_prefix('.').unwrap_or(path);
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner
                .find(']')
                .with_context(|| format!("{path}: a `[` without its `]`"))?;
            let (body, after) = (&inner[..end], &inner[end + 1..]);
            steps.push(match body.split_once('=') {
                Some((key, value)) => Step::Where { key, value },
                None if body.is_empty() => Step::Each,
                None => Step::Index(
                    body.parse()
                        .with_context(|| format!("{path}: [{body}] is not an index"))?,
                ),
            });
            rest = after.strip_prefix('.').unwrap_or(after);
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let (name, optional) = match rest[..end].strip_suffix('?') {
                Some(name) => (name, true),
                None => (&rest[..end], false),
            };
            if name.is_empty() {
                bail!("{path}: an empty name");
            }
            steps.push(Step::Key { name, optional });
            rest = &rest[end..];
            rest = rest.strip_prefix('.').unwrap_or(rest);
        }
    }
    Ok(steps)
}

/// The values at `path` in `doc`.
pub fn select<'v>(doc: &'v Value, path: &str) -> anyhow::Result<Vec<&'v Value>> {
    static NULL: Value = Value::Null;
    let mut values = vec![doc];
    for step in parse(path)? {
        let mut next = Vec::new();
        for value in values {
            match step {
                Step::Key { name, optional } => match value.get(name) {
                    Some(member) => next.push(member),
                    None if optional => next.push(&NULL),
                    None => bail!("{path}: no {name:?} in {}", start_of(value)),
                },
                Step::Index(i) => match value.get(i) {
                    Some(item) => next.push(item),
                    None => bail!("{path}: no item {i} in {}", start_of(value)),
                },
                Step::Each => next.extend(value.as_array().into_iter().flatten()),
                Step::Where { key, value: want } => {
                    let matches = |v: &&Value| v.get(key).is_some_and(|k| text(k) == want);
                    match value {
                        Value::Array(items) => next.extend(items.iter().filter(matches)),
                        other if matches(&other) => next.push(other),
                        _ => {}
                    }
                }
            }
        }
        values = next;
    }
    Ok(values)
}

/// `template` with each `{path}` replaced by the text at that path in `value`.
fn format(value: &Value, template: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .with_context(|| format!("{template}: a `{{` without its `}}`"))?;
        let found = select(value, &rest[open + 1..open + close])?;
        let texts: Vec<String> = found.into_iter().map(text).collect();
        out.push_str(&texts.join(", "));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn start_of(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
