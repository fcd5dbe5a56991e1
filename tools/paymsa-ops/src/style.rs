//! Terminal styles as the demo and the reports use them: bold and colours only when stdout is a
//! terminal and `NO_COLOR` is unset or empty, so piped output stays plain.

use std::io::IsTerminal;

pub struct Style {
    pub bold: &'static str,
    pub dim: &'static str,
    pub red: &'static str,
    pub green: &'static str,
    pub cyan: &'static str,
    pub off: &'static str,
}

impl Style {
    pub fn of_stdout() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if std::io::stdout().is_terminal() && !no_color {
            Self {
                bold: "\x1b[1m",
                dim: "\x1b[2m",
                red: "\x1b[31m",
                green: "\x1b[32m",
                cyan: "\x1b[36m",
                off: "\x1b[0m",
            }
        } else {
            Self::plain()
        }
    }

    pub fn plain() -> Self {
        Self {
            bold: "",
            dim: "",
            red: "",
            green: "",
            cyan: "",
            off: "",
        }
    }
}

/// Writes to stdout; a reader that has gone (a broken pipe) ends the process quietly.
pub fn write_stdout(text: std::fmt::Arguments) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("paymsa-ops: writing to stdout: {e}");
            std::process::exit(1)
        }
    }
}

/// 840 → "840 ms", 1530 → "1.53 s" (the demo's step timings).
pub fn fmt_ms(ms: u128) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{}.{:02} s", ms / 1000, ms % 1000 / 10)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_like_the_demos() {
        assert_eq!(super::fmt_ms(840), "840 ms");
        assert_eq!(super::fmt_ms(1530), "1.53 s");
        assert_eq!(super::fmt_ms(12_005), "12.00 s");
    }
}
