//! JSON as Python's `json.dumps` wrote it when these commands were Python (scripts/natspub.py,
//! scripts/ops.sh): keys in the order they were written (serde_json's `Value` sorts them) —
//! compact for the PubAck, indented by 2 for a payload — and one-line values with `", "` and
//! `": "` between items.

use serde_json::Value;

/// `text` re-indented by 2 spaces, keys in their order; `None` when it is not JSON.
pub fn indented(text: &str) -> Option<String> {
    serde_json::from_str::<Value>(text).ok()?;
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.trim().chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            c if c.is_whitespace() => {}
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // an empty container stays `{}` / `[]`, as Python writes it
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.extend(chars.next());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
    }
    Some(out)
}

/// `text` without the blanks between its tokens, keys in their order (the server writes
/// `"duplicate": true` in a PubAck); `None` when it is not JSON.
pub fn compact(text: &str) -> Option<String> {
    serde_json::from_str::<Value>(text).ok()?;
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c.is_whitespace() {
            continue;
        }
        out.push(c);
    }
    Some(out)
}

/// A value on one line with Python's separators (`{"a": [1, 2]}`); non-ASCII escaped as
/// Python's default `ensure_ascii` does.
pub fn one_line(value: &Value) -> String {
    line(value, true)
}

/// [`one_line`] with non-ASCII as is (`json.dumps(v, ensure_ascii=False)`; how the demo prints
/// a value, [`crate::json::text`]).
pub fn one_line_utf8(value: &Value) -> String {
    line(value, false)
}

fn line(value: &Value, escape: bool) -> String {
    let scalar = |v: &Value| if escape { ascii(v) } else { v.to_string() };
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|v| line(v, escape)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar(&Value::String(k.clone())), line(v, escape)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        other => scalar(other),
    }
}

fn ascii(value: &Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_payload_is_indented_with_its_keys_in_order() {
        let text = r#"{"orderId":"7","items":[{"b":1,"a":"x, y: {z}"}],"empty":[],"none":{}}"#;
        let expected = "{\n  \"orderId\": \"7\",\n  \"items\": [\n    {\n      \"b\": 1,\n      \
                        \"a\": \"x, y: {z}\"\n    }\n  ],\n  \"empty\": [],\n  \"none\": {}\n}";
        assert_eq!(indented(text).as_deref(), Some(expected));
        assert_eq!(indented("\"a \\\" b\"").as_deref(), Some("\"a \\\" b\""));
        assert_eq!(indented("not json"), None);
    }

    #[test]
    fn compact_drops_the_blanks_between_tokens_only() {
        let ack = "{\"stream\":\"ORDERS\",\"seq\":3,\"duplicate\": true}\n";
        assert_eq!(
            compact(ack).as_deref(),
            Some(r#"{"stream":"ORDERS","seq":3,"duplicate":true}"#)
        );
        assert_eq!(
            compact(r#"{"a b": "c \" d"}"#).as_deref(),
            Some(r#"{"a b":"c \" d"}"#)
        );
        assert_eq!(compact("nope"), None);
    }

    #[test]
    fn one_line_has_pythons_separators_and_escapes() {
        let headers = json!({"Nats-Msg-Id": ["demo-1"], "X": "é"});
        assert_eq!(
            one_line(&headers),
            r#"{"Nats-Msg-Id": ["demo-1"], "X": "\u00e9"}"#
        );
        assert_eq!(one_line(&json!({})), "{}");
        assert_eq!(
            one_line_utf8(&headers),
            r#"{"Nats-Msg-Id": ["demo-1"], "X": "é"}"#
        );
    }
}
