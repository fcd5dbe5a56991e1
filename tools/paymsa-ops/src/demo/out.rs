//! The demo's output: a header per step (`[n/14] …`, or `== …` for a single flow), `✓`/`·`
//! lines, the HTTP calls (`→ METHOD :port/path status (time)`), the step's time (`⏱`), and at
//! the end a summary of every step's time — or a `✗` line naming the step that failed.

use std::time::{Duration, Instant};

use crate::style::{fmt_ms, Style};

pub struct Out {
    style: Style,
    /// Steps of the whole demo; 0 for a single flow (its headers have no numbers).
    total: usize,
    step_no: usize,
    current: Option<(String, Instant)>,
    done: Vec<(String, Duration)>,
    started: Instant,
}

/// `\n[3/14] Pay …` or, without a total, `\n== Pay …`.
pub fn header(style: &Style, no: usize, total: usize, name: &str) -> String {
    let (b, o) = (style.bold, style.off);
    if total > 0 {
        format!("\n{b}[{no}/{total}] {name}{o}")
    } else {
        format!("\n{b}== {name}{o}")
    }
}

/// `  → POST   :8080/api/checkouts    201 (13 ms)`: the method and path padded as the bash
/// demo's `printf '%-6s %-62s'` did.
pub fn call_line(style: &Style, method: &str, path: &str, status: u16, took: Duration) -> String {
    let took = fmt_ms(took.as_millis());
    format!(
        "  {}→ {method:<6} {path:<62} {status} ({took}){}",
        style.cyan, style.off
    )
}

/// The summary: a `✓` row per step with its time, then the total.
pub fn summary(style: &Style, steps: &[(String, Duration)], total: Duration) -> String {
    let mut out = format!("\n{}Summary{}\n", style.bold, style.off);
    for (name, took) in steps {
        let took = fmt_ms(took.as_millis());
        out.push_str(&format!(
            "  {}✓{} {took:>9}  {name}\n",
            style.green, style.off
        ));
    }
    out.push_str(&format!("    {:>9}  total", fmt_ms(total.as_millis())));
    out
}

/// Where a failure happened: `[4/14] name`, the flow's name, or the step after the last one.
pub fn failed_step(no: usize, total: usize, current: Option<&str>) -> String {
    match current {
        Some(name) if total > 0 => format!("[{no}/{total}] {name}"),
        Some(name) => name.to_string(),
        None => format!("after step {no}"),
    }
}

impl Out {
    pub fn new(total: usize) -> Self {
        Self {
            style: Style::of_stdout(),
            total,
            step_no: 0,
            current: None,
            done: Vec::new(),
            started: Instant::now(),
        }
    }

    pub fn style(&self) -> &Style {
        &self.style
    }

    /// Ends the step before (its `⏱` line) and prints this one's header.
    pub fn step(&mut self, name: impl Into<String>) {
        self.end_step();
        let name = name.into();
        self.step_no += 1;
        sayln!("{}", header(&self.style, self.step_no, self.total, &name));
        self.current = Some((name, Instant::now()));
    }

    pub fn end_step(&mut self) {
        if let Some((name, started)) = self.current.take() {
            let took = started.elapsed();
            let (dim, off) = (self.style.dim, self.style.off);
            sayln!("  {dim}⏱ {}{off}", fmt_ms(took.as_millis()));
            self.done.push((name, took));
        }
    }

    pub fn ok(&self, text: impl std::fmt::Display) {
        sayln!("  {}✓{} {text}", self.style.green, self.style.off);
    }

    pub fn note(&self, text: impl std::fmt::Display) {
        sayln!("  {}·{} {text}", self.style.dim, self.style.off);
    }

    /// A block (a table), indented under the step.
    pub fn show(&self, block: &str) {
        for line in block.lines() {
            sayln!("      {line}");
        }
    }

    pub fn call(&self, method: &str, path: &str, status: u16, took: Duration) {
        sayln!("{}", call_line(&self.style, method, path, status, took));
    }

    pub fn line(&self, text: impl std::fmt::Display) {
        sayln!("{text}");
    }

    /// Ends the last step and prints the summary of all.
    pub fn summary(&mut self) {
        self.end_step();
        sayln!(
            "{}",
            summary(&self.style, &self.done, self.started.elapsed())
        );
    }

    /// The failure: its `✗` line, then (once a step had begun) which step stopped and how to
    /// look further.
    pub fn failed(&self, error: &anyhow::Error) {
        let (red, off) = (self.style.red, self.style.off);
        sayln!("  {red}✗ {error:#}{off}");
        if self.step_no == 0 {
            return;
        }
        let current = self.current.as_ref();
        let took = current.map_or(Duration::ZERO, |(_, started)| started.elapsed());
        let place = failed_step(self.step_no, self.total, current.map(|(n, _)| n.as_str()));
        sayln!(
            "\n{red}✗ stopped: step {place} failed after {}.{off}",
            fmt_ms(took.as_millis())
        );
        sayln!("  what runs: just status · a service log: just logs <service> · dead letters: just dlq");
    }
}

#[cfg(test)]
#[path = "out_tests.rs"]
mod tests;
