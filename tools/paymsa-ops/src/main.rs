//! `paymsa-ops`: the operators' command line for the stack `just up` runs (docs/operations.md).
//! scripts/ops.sh and scripts/demo.sh find the stack (the NATS URL with the operators'
//! credentials from `scripts/nats.sh admin-url`, the monitoring endpoint from
//! `.run/nats.monitor`) and call it; everything past that bootstrap happens here, on the
//! project's own libraries.
//!
//! - `paymsa-ops demo [FLOW] [ARGS]`: the user flows of `just demo`, `just pay` … ([`demo`]).
//! - `paymsa-ops publish [--server URL] [-H Name:Value]... SUBJECT PAYLOAD`: one JetStream
//!   message, the server's PubAck printed as one JSON line.
//! - `paymsa-ops streams --server URL --monitor URL`: streams and consumers from `/jsz`.
//! - `paymsa-ops dlq [ID]` / `paymsa-ops replay ID`: dead letters through the services' admin API.
//! - `paymsa-ops json get PATH`: fields of the JSON on stdin, for scripts/fuzz.sh's reports.
//! - `paymsa-ops nats ensure|stop|url|status|admin-url|secrets|compose-env`: the NATS server of
//!   the local stack and the tests, behind scripts/nats.sh ([`nats`]).

/// `print!`/`println!` that end the process quietly when the reader has gone (`just dlq | head`)
/// instead of panicking on the broken pipe.
macro_rules! say {
    ($($arg:tt)*) => { $crate::style::write_stdout(format_args!($($arg)*)) };
}
macro_rules! sayln {
    ($($arg:tt)*) => { $crate::style::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

mod admin;
mod dead_letters;
mod demo;
mod http;
mod json;
mod nats;
mod pretty;
mod publish;
mod streams;
mod style;
mod tables;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "paymsa-ops",
    version,
    about = "The operators' command line for the local stack"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The user flows against the running stack: `all` (`just demo`) or one of them
    Demo(demo::Args),
    /// Publish one message to JetStream and print the server's PubAck as one JSON line
    Publish(publish::Args),
    /// Streams and their consumers from the NATS monitoring endpoint (`just streams`)
    Streams(streams::Args),
    /// Dead letters of every service, newest first, or one in full (`just dlq [ID]`)
    Dlq(dead_letters::DlqArgs),
    /// Replay a dead letter through its consumer's own handler (`just replay ID`)
    Replay(dead_letters::ReplayArgs),
    /// Read the JSON on stdin (scripts/fuzz.sh)
    #[command(subcommand)]
    Json(json::Command),
    /// The NATS server of the local stack and the tests (scripts/nats.sh): ensure, stop, url, …
    #[command(subcommand)]
    Nats(nats::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // the commands whose stdout a script reads answer on stderr; the reports fail with a ✗
    // line as the demo's steps do
    let on_stdout = match &cli.command {
        Command::Streams(_) | Command::Replay(_) => true,
        Command::Dlq(args) => !args.json,
        _ => false,
    };
    let result = match cli.command {
        Command::Demo(args) => return demo::main(args),
        Command::Json(command) => json::run(command).map(|()| ExitCode::SUCCESS),
        Command::Nats(command) => nats::run(command),
        command => networked(command),
    };
    match result {
        Ok(code) => code,
        Err(e) if on_stdout => {
            let style = style::Style::of_stdout();
            sayln!("  {}✗ {e:#}{}", style.red, style.off);
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("paymsa-ops: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The commands that talk to the stack, on a tokio runtime.
fn networked(command: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("no tokio runtime: {e}"))?;
    runtime.block_on(async {
        match command {
            Command::Publish(args) => publish::run(args).await,
            Command::Streams(args) => streams::run(args).await,
            Command::Dlq(args) => dead_letters::dlq(args).await,
            Command::Replay(args) => dead_letters::replay(args).await,
            Command::Demo(_) | Command::Json(_) | Command::Nats(_) => {
                anyhow::bail!("not a command of the stack")
            }
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
