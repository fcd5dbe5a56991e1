use std::process::ExitCode;

use clap::Parser;
use paymsa_loadgen::{
    args::{Cli, Command},
    bench, chaos, scale,
};

#[tokio::main]
async fn main() -> ExitCode {
    // Usage errors exit 2 and `--help` 0, before anything starts (clap's `exit`).
    let cli = Cli::parse();
    service_kit::install_crypto_provider();
    let (name, outcome) = match &cli.command {
        Command::Bench(args) => ("bench", bench::run(args).await),
        Command::Chaos(args) => ("chaos", chaos::run(args).await),
        Command::Scale(args) => ("scale", scale::run(args).await),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("paymsa-loadgen {name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
