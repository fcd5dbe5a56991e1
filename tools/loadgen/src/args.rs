//! The command line: `paymsa-loadgen <bench|chaos|scale> [--option value ...]`, parsed and
//! validated before anything starts (`paymsa-loadgen <command> --help` lists the options).
//! Every option takes a value, `--keep true` included, as scripts/loadgen.sh, scripts/test.sh
//! and the docs write them; a repeated option takes its last value (scripts/loadgen.sh appends
//! `--bin-dir` after the caller's options).

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::identity::AuthMode;

#[derive(Debug, Parser)]
#[command(
    name = "paymsa-loadgen",
    about = "Runs the system as separate processes and drives it.",
    args_override_self = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// End-to-end throughput and latency next to the machine's Postgres and JetStream
    /// ceilings (`just bench e2e`).
    Bench(BenchArgs),
    /// A seeded fault run, then the ledger invariants (`just chaos`).
    Chaos(ChaosArgs),
    /// Three instances of the order, wallet and hot-catalog services on a 3-node NATS
    /// cluster (`just scale`).
    Scale(ScaleArgs),
}

/// Options every command has.
#[derive(Debug, Args)]
pub struct StackArgs {
    /// Where the service binaries are.
    #[arg(long, value_name = "DIR", default_value = "target/release")]
    pub bin_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How long the shoppers pay, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub duration: u64,
    /// Concurrent shoppers (closed loop).
    #[arg(long, default_value_t = 32)]
    pub shoppers: usize,
    /// Payments started per second on a fixed schedule (open loop); 0: closed loop.
    #[arg(long, value_name = "PER_SECOND", default_value_t = 0.0, value_parser = rate)]
    pub rate: f64,
    /// Sellers onboarded before the run.
    #[arg(long, default_value_t = 10)]
    pub sellers: usize,
    /// Products per seller.
    #[arg(long, default_value_t = 5)]
    pub products: usize,
    /// Seeds everything random in the run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Each service's Postgres pool (DB_MAX_CONNECTIONS). 3: the best of 2, 3, 5 and 10 on
    /// this 2-core machine (docs/benchmarks.md, stop 22).
    #[arg(long, default_value_t = 3)]
    pub db_connections: u32,
    /// One service's own pool over `--db-connections` (`order-service=6`); repeatable.
    #[arg(long = "db-connections-for", value_name = "SERVICE=N", value_parser = service_pool)]
    pub db_connections_for: Vec<(&'static str, u32)>,
    /// Each service's async worker threads (WORKER_THREADS); 0: one per core.
    #[arg(long, default_value_t = 1)]
    pub worker_threads: usize,
    /// CONSUMER_CONCURRENCY for every consumer of every service; 0: each consumer's own.
    #[arg(long, default_value_t = 0)]
    pub consumer_concurrency: usize,
    /// The sandbox sends its webhooks to order-service and wallet-service, as under `just up`
    /// (off by default, as in every run before stop 18, so the figures stay comparable).
    #[arg(long)]
    pub webhooks: bool,
    /// Where results.md and confirm-latency.svg are written.
    #[arg(long, value_name = "DIR", default_value = "docs/bench")]
    pub out: String,
    /// The services' AUTH_MODE and the tokens sent; NATS always requires one user per service.
    #[arg(long, value_enum, default_value = "open")]
    pub auth: AuthMode,
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `--rate`: a finite number of payments per second, > 0, or 0 for the closed loop.
fn rate(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(rate) if rate >= 0.0 && rate.is_finite() => Ok(rate),
        _ => Err("payments per second, > 0 (or 0 for closed loop)".into()),
    }
}

/// `SERVICE=N`: a service of the stack and a pool of 1 to 100 connections.
fn service_pool(raw: &str) -> Result<(&'static str, u32), String> {
    let (name, n) = raw
        .split_once('=')
        .ok_or_else(|| "SERVICE=N, e.g. order-service=6".to_string())?;
    let service = crate::stack::SERVICES
        .iter()
        .map(|s| s.name)
        .find(|s| *s == name)
        .ok_or_else(|| format!("{name} is not a service of the stack"))?;
    match n.parse::<u32>() {
        Ok(n) if (1..=100).contains(&n) => Ok((service, n)),
        _ => Err(format!("{n}: a pool of 1 to 100 connections")),
    }
}

#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// Payments the shoppers make.
    #[arg(long, default_value_t = 5000)]
    pub payments: u64,
    /// Concurrent shoppers.
    #[arg(long, default_value_t = 16)]
    pub shoppers: usize,
    /// Seeds everything random in the run.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep the run's databases for inspection.
    #[arg(long, action = ArgAction::Set, value_name = "BOOL", default_value_t = false)]
    pub keep: bool,
    /// The services' AUTH_MODE and the tokens sent; NATS always requires one user per service.
    #[arg(long, value_enum, default_value = "jwt")]
    pub auth: AuthMode,
    #[command(flatten)]
    pub stack: StackArgs,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Payments the shoppers make.
    #[arg(long, default_value_t = 1500)]
    pub payments: u64,
    /// Concurrent shoppers.
    #[arg(long, default_value_t = 12)]
    pub shoppers: usize,
    /// Seeds everything random in the run.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// The services' AUTH_MODE and the tokens sent; NATS always requires one user per service.
    #[arg(long, value_enum, default_value = "open")]
    pub auth: AuthMode,
    #[command(flatten)]
    pub stack: StackArgs,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, Command};
    use crate::identity::AuthMode;

    fn parse(line: &str) -> Command {
        match Cli::try_parse_from(line.split_whitespace()) {
            Ok(cli) => cli.command,
            Err(e) => panic!("{line:?}: {e}"),
        }
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let Command::Bench(b) = parse("loadgen bench") else {
            panic!("not bench")
        };
        assert_eq!(
            (b.duration, b.shoppers, b.sellers, b.products),
            (60, 32, 10, 5)
        );
        assert_eq!(
            (
                b.seed,
                b.db_connections,
                b.worker_threads,
                b.consumer_concurrency
            ),
            (1, 3, 1, 0)
        );
        assert_eq!(
            (b.rate, b.out.as_str(), b.auth),
            (0.0, "docs/bench", AuthMode::Open)
        );
        assert_eq!(b.stack.bin_dir.to_str(), Some("target/release"));
        let Command::Chaos(c) = parse("loadgen chaos") else {
            panic!("not chaos")
        };
        assert_eq!((c.payments, c.shoppers, c.seed), (5000, 16, 42));
        assert_eq!((c.keep, c.auth), (false, AuthMode::Jwt));
        let Command::Scale(s) = parse("loadgen scale") else {
            panic!("not scale")
        };
        assert_eq!(
            (s.payments, s.shoppers, s.seed, s.auth),
            (1500, 12, 7, AuthMode::Open)
        );
    }

    /// The command lines of scripts/test.sh, scripts/loadgen.sh (which appends `--bin-dir`),
    /// the justfile's examples and docs/benchmarks.md, docs/operations.md.
    #[test]
    fn the_scripts_and_docs_command_lines_parse() {
        let Command::Chaos(c) =
            parse("l chaos --payments 300 --shoppers 8 --seed 7 --bin-dir target/debug")
        else {
            panic!("not chaos")
        };
        assert_eq!((c.payments, c.shoppers, c.seed), (300, 8, 7));
        assert_eq!(c.stack.bin_dir.to_str(), Some("target/debug"));
        let Command::Chaos(c) = parse("l chaos --keep true --auth open --bin-dir a --bin-dir b")
        else {
            panic!("not chaos")
        };
        assert_eq!((c.keep, c.auth), (true, AuthMode::Open));
        assert_eq!(
            c.stack.bin_dir.to_str(),
            Some("b"),
            "the last --bin-dir wins"
        );
        let Command::Bench(b) = parse(
            "l bench --rate 50 --duration 120 --out docs/bench/open-loop \
             --consumer-concurrency 4 --bin-dir target/release",
        ) else {
            panic!("not bench")
        };
        assert_eq!((b.rate, b.duration, b.consumer_concurrency), (50.0, 120, 4));
        assert_eq!(b.out, "docs/bench/open-loop");
        assert!(b.db_connections_for.is_empty());
        let Command::Bench(b) = parse(
            "l bench --db-connections-for order-service=6 --db-connections-for psp-sandbox=4",
        ) else {
            panic!("not bench")
        };
        assert_eq!(
            b.db_connections_for,
            [("order-service", 6), ("psp-sandbox", 4)]
        );
        let Command::Scale(s) = parse("l scale --auth jwt --bin-dir target/release") else {
            panic!("not scale")
        };
        assert_eq!(s.auth, AuthMode::Jwt);
    }

    #[test]
    fn unknown_options_and_bad_values_are_refused() {
        for line in [
            "l",
            "l bench --payments 5",
            "l scale --keep true",
            "l chaos --auth basic",
            "l chaos --keep",
            "l bench --duration soon",
            "l bench --rate NaN",
            "l bench --rate inf",
            "l bench --rate=-1",
            "l bench --db-connections-for order-service",
            "l bench --db-connections-for ordering=6",
            "l bench --db-connections-for order-service=0",
            "l fly",
        ] {
            assert!(
                Cli::try_parse_from(line.split_whitespace()).is_err(),
                "{line:?} parsed"
            );
        }
    }
}
