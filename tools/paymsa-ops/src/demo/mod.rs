//! `paymsa-ops demo [FLOW] [ARGS]`: the user flows against the running stack (`just up`), a
//! header per step, `✓`/`✗` lines and timings; stops at the first failure and names the step
//! (docs/operations.md "Demo"). scripts/demo.sh builds this binary and runs it; the justfile's
//! `just demo`, `just pay` … call that script.
//!
//! Flows remember what they created in `.run/demo.env` ([`state`]); without it they use the
//! seed data (seller 1, products 1, 2, 3). The environment: `ADMIN_TOKEN` (default
//! `paymsa-local-admin`), `NO_COLOR`; `--nats` (the operators' NATS URL, `scripts/nats.sh
//! admin-url`) for `poison`, `--postgres` for `recover`.

mod api;
mod context;
mod engage;
mod hot;
mod out;
mod pay;
mod payout;
mod poison;
mod reads;
mod recover;
mod seller;
mod state;
mod wait;

use std::{path::PathBuf, process::ExitCode};

use context::Demo;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    flow: Option<Flow>,
    /// The state file the flows share
    #[arg(long, default_value = ".run/demo.env", global = true)]
    state: PathBuf,
    /// The stack's NATS URL with the operators' credentials (`scripts/nats.sh admin-url`);
    /// `poison` publishes through it [default: $NATS_URL]
    #[arg(long, global = true)]
    nats: Option<String>,
    /// PostgreSQL without a database (`recover` alters order-query's)
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432",
        global = true
    )]
    postgres: String,
}

#[derive(clap::Subcommand)]
pub enum Flow {
    /// Every flow below, in order, with a fresh seller and member (14 steps)
    All,
    /// Register a seller; wait for the onboarding saga to reach ACTIVE
    Seller { seller_id: Option<String> },
    /// Two products for the demo seller (registers one first if there is none)
    Products,
    /// Checkout → sandbox approval → (tampered amount refused) → confirm → wallet settlement
    Pay {
        /// Product numbers, comma-separated
        products: Option<String>,
        /// The buyer's member number
        member: Option<String>,
    },
    /// Cancel and refund an order (default: the last paid one, in full)
    Cancel {
        order: Option<String>,
        amount: Option<rust_decimal::Decimal>,
    },
    /// Pay available money out through the PSP (default: half of it); wait for COMPLETED
    Payout {
        seller: Option<String>,
        amount: Option<rust_decimal::Decimal>,
    },
    /// A like, and the same like again (nothing changes)
    Like {
        product: Option<String>,
        member: Option<String>,
    },
    /// A review (ONE..FIVE) and the product's review summary
    Review {
        product: Option<String>,
        member: Option<String>,
        stars: Option<String>,
    },
    /// The hot-products ranking
    Hot { limit: Option<u32> },
    /// The member's orders from order-query, 2 per page
    Orders {
        member: Option<String>,
        /// Wait until order-query shows this many settled orders, and check the pages hold them
        expect: Option<usize>,
    },
    /// A seller's balance and ledger
    Wallet {
        seller: Option<String>,
        /// Wait until the balance is this
        expect: Option<rust_decimal::Decimal>,
    },
    /// An undecodable event → dead letters → replay (fails again; the letter stays open)
    Poison,
    /// A valid event dead-lettered by a simulated outage → fix → replay → applied once
    Recover { member: Option<String> },
}

/// Runs the flow on its own runtime; the exit status says whether every step passed.
pub fn main(args: Args) -> ExitCode {
    let flow = args.flow.unwrap_or(Flow::All);
    let total = if matches!(flow, Flow::All) { 14 } else { 0 };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("paymsa-ops: no tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let settings = context::Settings {
        state_path: args.state,
        nats: args
            .nats
            .filter(|url| !url.is_empty())
            .or_else(|| std::env::var("NATS_URL").ok()),
        postgres: args.postgres,
    };
    runtime.block_on(async {
        let mut demo = match Demo::new(settings, total) {
            Ok(demo) => demo,
            Err(e) => {
                out::Out::new(0).failed(&e);
                return ExitCode::FAILURE;
            }
        };
        if !demo.preflight().await {
            return ExitCode::FAILURE;
        }
        match run(&mut demo, flow).await {
            Ok(()) => {
                demo.out.end_step();
                ExitCode::SUCCESS
            }
            Err(e) => {
                demo.out.failed(&e);
                ExitCode::FAILURE
            }
        }
    })
}

/// An argument given as "" is not given (as `${1:-default}` read it in the bash demo), so
/// `just payout "" 1000` pays the demo seller out.
fn given(arg: Option<String>) -> Option<String> {
    arg.filter(|a| !a.is_empty())
}

async fn run(demo: &mut Demo, flow: Flow) -> anyhow::Result<()> {
    match flow {
        Flow::All => all(demo).await,
        Flow::Seller { seller_id } => seller::register(demo, given(seller_id)).await,
        Flow::Products => seller::products(demo).await,
        Flow::Pay { products, member } => {
            let products = given(products).unwrap_or_else(|| demo.default_products());
            let member = demo.member_or_default(given(member))?;
            pay::pay(demo, &products, &member).await
        }
        Flow::Cancel { order, amount } => pay::cancel(demo, given(order), amount).await,
        Flow::Payout { seller, amount } => payout::run(demo, given(seller), amount).await,
        Flow::Like { product, member } => {
            let member = demo.member_or_default(given(member))?;
            engage::like(demo, given(product), &member).await
        }
        Flow::Review {
            product,
            member,
            stars,
        } => {
            let member = demo.member_or_default(given(member))?;
            let stars = given(stars).unwrap_or_else(|| "FIVE".into());
            engage::review(demo, given(product), &member, &stars).await
        }
        Flow::Hot { limit } => hot::ranking(demo, limit.unwrap_or(10)).await,
        Flow::Orders { member, expect } => {
            let member = demo.member_or_default(given(member))?;
            reads::orders(demo, &member, expect).await
        }
        Flow::Wallet { seller, expect } => reads::wallet(demo, given(seller), expect).await,
        Flow::Poison => poison::run(demo).await,
        Flow::Recover { member } => {
            let member = demo.member_or_default(given(member))?;
            recover::run(demo, &member).await
        }
    }
}

/// The whole demo: every flow in order, a fresh seller and member (docs/operations.md "Demo").
async fn all(demo: &mut Demo) -> anyhow::Result<()> {
    demo.all = true;
    let started = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
    let style = demo.out.style();
    demo.out.line(format!(
        "{}paymsa demo{} — {started}",
        style.bold, style.off
    ));
    let member = context::new_member_no();
    demo.state.member_no = member.clone();
    seller::register(demo, None).await?;
    demo.out.note(format!("member for this run: {member}"));
    seller::products(demo).await?;
    let both = format!("{},{}", demo.state.p1, demo.state.p2);
    pay::pay(demo, &both, &member).await?;
    let first_order = demo.state.last_order_id.clone();
    pay::more_orders(demo, &member).await?;
    let before = hot::after_purchases(demo).await?;
    engage::like(demo, Some(demo.state.p2.clone()), &member).await?;
    engage::review(demo, Some(demo.state.p2.clone()), &member, "FIVE").await?;
    hot::after_engagement(demo, &before).await?;
    reads::orders(demo, &member, Some(3)).await?;
    let expected = demo.price(&demo.state.p1_price)? * rust_decimal::Decimal::from(3)
        + demo.price(&demo.state.p2_price)?;
    reads::wallet(demo, Some(demo.state.seller_no.clone()), Some(expected)).await?;
    let p1_price = demo.price(&demo.state.p1_price)?;
    pay::cancel(demo, Some(first_order), Some(p1_price)).await?;
    payout::run(demo, Some(demo.state.seller_no.clone()), None).await?;
    poison::run(demo).await?;
    recover::run(demo, &member).await?;
    demo.out.summary();
    let style = demo.out.style();
    demo.out.line(format!(
        "\n{}✓ demo complete{} (state in {}; inspect: just streams · just dlq)",
        style.green,
        style.off,
        demo.state_path().display()
    ));
    Ok(())
}
