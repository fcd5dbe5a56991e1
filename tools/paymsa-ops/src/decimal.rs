//! `paymsa-ops decimal OP A B`: the money arithmetic of scripts/demo.sh (a tampered amount, the
//! balance after a refund, half of what is available), exact as the services' `rust_decimal`
//! amounts are; bash has integers only. Comparisons answer with the exit status.

use std::{process::ExitCode, str::FromStr};

use anyhow::{anyhow, Context};
use rust_decimal::Decimal;

#[derive(clap::Args)]
pub struct Args {
    op: Op,
    a: String,
    b: String,
    /// The result without its fraction (towards zero), as Python's `int()`
    #[arg(long)]
    int: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Op {
    Add,
    Sub,
    Div,
    /// Exit 0 when A = B, else 1
    Eq,
    /// Exit 0 when A ≥ B, else 1
    Ge,
}

fn parse(text: &str) -> anyhow::Result<Decimal> {
    let text = text.trim();
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .with_context(|| format!("not a decimal number: {text:?}"))
}

/// The printed result, or for a comparison whether it holds.
pub fn eval(args: &Args) -> anyhow::Result<Result<String, bool>> {
    let (a, b) = (parse(&args.a)?, parse(&args.b)?);
    let value = match args.op {
        Op::Add => a.checked_add(b),
        Op::Sub => a.checked_sub(b),
        // Python's exact quotient has the scale of A less B's, or what its digits need
        Op::Div => a.checked_div(b).map(|q| {
            let mut q = q.normalize();
            q.rescale(q.scale().max(a.scale().saturating_sub(b.scale())));
            q
        }),
        Op::Eq => return Ok(Err(a == b)),
        Op::Ge => return Ok(Err(a >= b)),
    }
    .ok_or_else(|| anyhow!("{} {} {}: no result", args.a, args.op_name(), args.b))?;
    Ok(Ok(if args.int { value.trunc() } else { value }.to_string()))
}

impl Args {
    fn op_name(&self) -> &'static str {
        match self.op {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Div => "/",
            Op::Eq => "=",
            Op::Ge => "≥",
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    Ok(match eval(&args)? {
        Ok(value) => {
            sayln!("{value}");
            ExitCode::SUCCESS
        }
        Err(true) => ExitCode::SUCCESS,
        Err(false) => ExitCode::FAILURE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval_of(op: Op, a: &str, b: &str, int: bool) -> Result<String, bool> {
        let args = Args {
            op,
            a: a.into(),
            b: b.into(),
            int,
        };
        eval(&args).unwrap_or_else(|e| panic!("{a} {b}: {e:#}"))
    }

    #[test]
    fn arithmetic_keeps_the_scale_as_pythons_decimal() {
        assert_eq!(eval_of(Op::Sub, "45000", "1", false), Ok("44999".into()));
        assert_eq!(
            eval_of(Op::Sub, "45000.0", "1", false),
            Ok("44999.0".into())
        );
        assert_eq!(
            eval_of(Op::Sub, "115000", "500", false),
            Ok("114500".into())
        );
        assert_eq!(
            eval_of(Op::Add, "114500.50", "1", true),
            Ok("114501".into())
        );
        assert_eq!(eval_of(Op::Div, "114501", "2", true), Ok("57250".into()));
        assert_eq!(eval_of(Op::Div, "114501", "2", false), Ok("57250.5".into()));
        assert_eq!(
            eval_of(Op::Div, "45000.00", "2", false),
            Ok("22500.00".into())
        );
        assert_eq!(eval_of(Op::Div, "1", "2", true), Ok("0".into()));
        assert_eq!(eval_of(Op::Add, "1e3", "0", false), Ok("1000".into()));
    }

    #[test]
    fn comparisons_ignore_the_scale() {
        assert_eq!(eval_of(Op::Eq, "45000.00", "45000", false), Err(true));
        assert_eq!(eval_of(Op::Eq, "45000", "45001", false), Err(false));
        assert_eq!(eval_of(Op::Ge, "10", "9.99", false), Err(true));
        assert_eq!(eval_of(Op::Ge, "0", "1", false), Err(false));
    }

    #[test]
    fn a_non_number_or_a_division_by_zero_is_an_error() {
        let args = |a: &str, b: &str| Args {
            op: Op::Div,
            a: a.into(),
            b: b.into(),
            int: false,
        };
        assert!(eval(&args("", "1")).is_err());
        assert!(eval(&args("abc", "1")).is_err());
        assert!(eval(&args("1", "0")).is_err());
    }
}
