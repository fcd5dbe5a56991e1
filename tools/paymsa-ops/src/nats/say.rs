//! The messages of scripts/lib.sh (`info`, `ok`, `warn`, `dim`) on stderr, so that stdout
//! carries only what a caller reads (`url=$(scripts/nats.sh ensure)`). Coloured when stderr is
//! a terminal and `NO_COLOR` is unset or empty, like lib.sh.

use std::io::IsTerminal;

struct Codes {
    bold: &'static str,
    dim: &'static str,
    green: &'static str,
    yellow: &'static str,
    off: &'static str,
}

fn codes() -> Codes {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if std::io::stderr().is_terminal() && !no_color {
        Codes {
            bold: "\x1b[1m",
            dim: "\x1b[2m",
            green: "\x1b[32m",
            yellow: "\x1b[33m",
            off: "\x1b[0m",
        }
    } else {
        Codes {
            bold: "",
            dim: "",
            green: "",
            yellow: "",
            off: "",
        }
    }
}

pub fn info(text: &str) {
    let c = codes();
    eprintln!("{}==>{} {text}", c.bold, c.off);
}

pub fn ok(text: &str) {
    let c = codes();
    eprintln!("{} ok{} {text}", c.green, c.off);
}

pub fn warn(text: &str) {
    let c = codes();
    eprintln!("{}warning:{} {text}", c.yellow, c.off);
}

pub fn dim(text: &str) {
    let c = codes();
    eprintln!("{}{text}{}", c.dim, c.off);
}
