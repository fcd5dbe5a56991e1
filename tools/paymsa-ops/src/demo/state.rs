//! The demo's state file, `.run/demo.env`: what earlier flows created (seller, products, their
//! prices, the member, the last paid order), so `just pay` after `just products` pays for those
//! products. Without it the flows fall back to the seed data (seed/*.sql: seller 1, products 1,
//! 2, 3). One `KEY=value` a line; values with other than `[A-Za-z0-9._:,+@/-]` are
//! single-quoted, and the file bash's `printf %q` wrote before the demo was Rust reads the same.

use std::path::Path;

use anyhow::Context;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct State {
    pub seller_no: String,
    pub seller_id: String,
    pub p1: String,
    pub p2: String,
    pub p1_price: String,
    pub p2_price: String,
    pub member_no: String,
    pub last_order_id: String,
}

impl State {
    fn fields_mut(&mut self) -> [(&'static str, &mut String); 8] {
        [
            ("SELLER_NO", &mut self.seller_no),
            ("SELLER_ID", &mut self.seller_id),
            ("P1", &mut self.p1),
            ("P2", &mut self.p2),
            ("P1_PRICE", &mut self.p1_price),
            ("P2_PRICE", &mut self.p2_price),
            ("MEMBER_NO", &mut self.member_no),
            ("LAST_ORDER_ID", &mut self.last_order_id),
        ]
    }

    /// The file's text; unknown keys and lines that are not `KEY=value` are passed over.
    pub fn parse(text: &str) -> Self {
        let mut state = Self::default();
        for line in text.lines() {
            let Some((key, raw)) = line.trim().split_once('=') else {
                continue;
            };
            if let Some((_, field)) = state.fields_mut().into_iter().find(|(k, _)| *k == key) {
                *field = unquote(raw);
            }
        }
        state
    }

    pub fn render(&self) -> String {
        let mut copy = self.clone();
        copy.fields_mut()
            .into_iter()
            .map(|(key, value)| format!("{key}={}\n", quote(value)))
            .collect()
    }

    /// The saved state; none when there is no file yet.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, self.render()).with_context(|| format!("writing {}", path.display()))
    }
}

fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._:,+@/-".contains(c)
}

/// `value` as the file holds it: plain, or single-quoted (a `'` inside as `'\''`).
pub fn quote(value: &str) -> String {
    if value.chars().all(is_plain) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// The value of a `%q`- or [`quote`]-written word: within single quotes as is, elsewhere `\x`
/// as `x`.
pub fn unquote(raw: &str) -> String {
    let raw = raw.trim();
    let mut out = String::new();
    let mut chars = raw.chars();
    let mut in_single = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' => in_single = !in_single,
            '\\' if !in_single => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
