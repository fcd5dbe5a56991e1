use std::process::ExitCode;

use paymsa_loadgen::{args::Args, bench, chaos, scale};

const USAGE: &str = "usage: paymsa-loadgen <bench|chaos|scale> [--option value ...]
  bench  --duration 60 --shoppers 32 --sellers 10 --products 5 --db-connections 10 --out docs/bench
         [--rate 200: open loop, payments started on a fixed schedule instead of by shoppers]
  chaos  --payments 5000 --shoppers 16 --seed 42 [--keep true] [--auth jwt]
  scale  --payments 1500 --shoppers 12 --seed 7
  all:   --bin-dir target/release (where the service binaries are)
         --auth open|jwt: the services' AUTH_MODE and the tokens sent (default: jwt for
         chaos, open for bench and scale); NATS always requires one user per service";

#[tokio::main]
async fn main() -> ExitCode {
    service_kit::install_crypto_provider();
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = raw.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let known = match command.as_str() {
        "bench" => bench::OPTIONS,
        "chaos" => chaos::OPTIONS,
        "scale" => scale::OPTIONS,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let args = match Args::parse(rest, known) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let outcome = match command.as_str() {
        "bench" => bench::run(&args).await,
        "chaos" => chaos::run(&args).await,
        _ => scale::run(&args).await,
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("paymsa-loadgen {command}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
