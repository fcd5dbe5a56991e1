//! `paymsa-ops`: the operators' command line for the stack `just up` runs (docs/operations.md).
//! scripts/ops.sh and scripts/demo.sh find the stack (the NATS URL with the operators'
//! credentials from `scripts/nats.sh admin-url`, the monitoring endpoint from
//! `.run/nats.monitor`) and call it; everything past that bootstrap happens here, on the
//! project's own libraries.
//!
//! - `paymsa-ops publish [--server URL] [-H Name:Value]... SUBJECT PAYLOAD`: one JetStream
//!   message, the server's PubAck printed as one JSON line.
//! - `paymsa-ops streams --server URL --monitor URL`: streams and consumers from `/jsz`.
//! - `paymsa-ops dlq [ID]` / `paymsa-ops replay ID`: dead letters through the services' admin API.
//! - `paymsa-ops json|table|decimal …`: what scripts/demo.sh does with the answers it gets (read
//!   fields, print tables, money arithmetic), so the scripts need no python3.

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
mod decimal;
mod json;
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
    /// Publish one message to JetStream and print the server's PubAck as one JSON line
    Publish(publish::Args),
    /// Streams and their consumers from the NATS monitoring endpoint (`just streams`)
    Streams(streams::Args),
    /// Dead letters of every service, newest first, or one in full (`just dlq [ID]`)
    Dlq(dead_letters::DlqArgs),
    /// Replay a dead letter through its consumer's own handler (`just replay ID`)
    Replay(dead_letters::ReplayArgs),
    /// Read the JSON on stdin (scripts/demo-lib.sh `jget`, `problem_of`)
    #[command(subcommand)]
    Json(json::Command),
    /// A table of the demo's from the JSON on stdin (scripts/demo.sh)
    #[command(subcommand)]
    Table(tables::Kind),
    /// Money arithmetic: add, sub, div print A op B; eq, ge answer with the exit status (0 true,
    /// 1 false, 2 not a number)
    Decimal(decimal::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // the commands whose stdout the scripts read answer on stderr (scripts/demo-lib.sh); the
    // reports fail with the ✗ line of scripts/demo-lib.sh `fail`
    let on_stdout = match &cli.command {
        Command::Streams(_) | Command::Replay(_) => true,
        Command::Dlq(args) => !args.json,
        _ => false,
    };
    // `decimal eq|ge` answer false with 1, so their errors (not a number) exit 2: a wait loop
    // in scripts/demo-lib.sh stops at once instead of taking a missing field for "not yet".
    let failure = if matches!(cli.command, Command::Decimal(_)) {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    };
    let result = match cli.command {
        Command::Json(command) => json::run(command).map(|()| ExitCode::SUCCESS),
        Command::Table(kind) => tables::run(kind).map(|()| ExitCode::SUCCESS),
        Command::Decimal(args) => decimal::run(args),
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
            failure
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
            Command::Json(_) | Command::Table(_) | Command::Decimal(_) => {
                anyhow::bail!("not a command of the stack")
            }
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
