//! Credits of paid lines, a whole order's sellers at a time: each statement here takes every
//! seller of the order in one round trip (`unnest`), so settling an order costs the same
//! number of statements whether it has one seller or five. Until stop 17 settlement ran its
//! statements once per seller: `just bench e2e` counted 30.2 wallet statements per paid order
//! (eight statements repeated for each seller), 22.0 after (docs/benchmarks.md, "Settling an
//! order's sellers together").

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::ids::{SellerNo, WalletNo};

/// A paid line to credit: the seller is owed `amount` = `gross` − `fee`.
#[derive(Debug, Clone)]
pub struct Credit {
    pub id: i64,
    pub payment_order_no: i64,
    pub order_id: String,
    pub payment_event_no: i64,
    /// What the customer paid for the line.
    pub gross: Decimal,
    /// floor(gross × fee_rate), the platform's commission.
    pub fee: Decimal,
    pub fee_rate: Decimal,
    /// Net: what the seller is credited (wallet_transactions, wallet.settled).
    pub amount: Decimal,
}

impl Credit {
    pub fn new(
        id: i64,
        payment_order_no: i64,
        order_id: String,
        payment_event_no: i64,
        gross: Decimal,
        fee_rate: Decimal,
    ) -> Self {
        let fee = crate::fees::fee_of(gross, fee_rate);
        Self {
            id,
            payment_order_no,
            order_id,
            payment_event_no,
            gross,
            fee,
            fee_rate,
            amount: gross - fee,
        }
    }
}

/// One seller's credits, to its wallet.
#[derive(Debug, Clone)]
pub struct SellerCredits {
    pub seller_no: SellerNo,
    pub wallet_no: WalletNo,
    pub credits: Vec<Credit>,
}

/// What a sale needs of each seller: the wallet's number if it has one, and the seller's
/// commission rate (`default` when it has none of its own; fees.rs).
pub async fn sellers_for_sale(
    conn: &mut PgConnection,
    sellers: &[SellerNo],
    default: Decimal,
) -> Result<BTreeMap<SellerNo, (Option<WalletNo>, Decimal)>, sqlx::Error> {
    let numbers: Vec<i64> = sellers.iter().map(|s| s.0).collect();
    // `seller_no!`: an unnest of a not-null array.
    let rows = sqlx::query!(
        r#"select s.no as "seller_no!: SellerNo", w.wallet_no as "wallet_no?: WalletNo",
                  f.fee_rate as "fee_rate?"
             from unnest($1::bigint[]) as s(no)
             left join wallets w on w.seller_no = s.no
             left join seller_fee_rates f on f.seller_no = s.no"#,
        &numbers,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let rate = r.fee_rate.unwrap_or(default).normalize();
            (r.seller_no, (r.wallet_no, rate))
        })
        .collect())
}

/// The sellers' advisory locks, shared ([`crate::store::lock_seller_shared`]), in ascending
/// order in one statement: the sort is below the locking projection, so they are taken in it.
pub async fn lock_sellers_shared(
    conn: &mut PgConnection,
    sellers: &[SellerNo],
) -> Result<(), sqlx::Error> {
    let numbers: Vec<i64> = sellers.iter().map(|s| s.0).collect();
    sqlx::query!(
        "select pg_advisory_xact_lock_shared(no)
           from (select distinct no from unnest($1::bigint[]) as s(no) order by no) as s",
        &numbers,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// Writes credit rows for the lines not credited before, every seller's in one statement;
/// returns the credits that are new. The unique key per payment order line makes a repeated
/// credit a no-op, not a second payment.
pub async fn insert_credits(
    conn: &mut PgConnection,
    batch: &[SellerCredits],
) -> Result<Vec<SellerCredits>, sqlx::Error> {
    let rows = || {
        batch
            .iter()
            .flat_map(|s| s.credits.iter().map(move |c| (s, c)))
    };
    let ids: Vec<i64> = rows().map(|(_, c)| c.id).collect();
    let wallets: Vec<i64> = rows().map(|(s, _)| s.wallet_no.0).collect();
    let sellers: Vec<i64> = rows().map(|(s, _)| s.seller_no.0).collect();
    let lines: Vec<i64> = rows().map(|(_, c)| c.payment_order_no).collect();
    let orders: Vec<String> = rows().map(|(_, c)| c.order_id.clone()).collect();
    let events: Vec<i64> = rows().map(|(_, c)| c.payment_event_no).collect();
    let amounts: Vec<Decimal> = rows().map(|(_, c)| c.amount).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let inserted = sqlx::query_scalar!(
        "insert into wallet_transactions
                (id, wallet_no, seller_no, amount, type, order_id, payment_event_no, payment_order_no, idempotency_key)
            select id, wallet_no, seller_no, amount, 'CREDIT', order_id, event_no, line_no, 'settle:' || line_no
              from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[],
                          $6::bigint[], $7::numeric[])
                   as c(id, wallet_no, seller_no, line_no, order_id, event_no, amount)
            on conflict do nothing
            returning payment_order_no as \"payment_order_no!\"",
        &ids,
        &wallets,
        &sellers,
        &lines,
        &orders,
        &events,
        &amounts,
    )
    .fetch_all(conn)
    .await?;
    Ok(batch
        .iter()
        .map(|s| SellerCredits {
            seller_no: s.seller_no,
            wallet_no: s.wallet_no,
            credits: s
                .credits
                .iter()
                .filter(|c| inserted.contains(&c.payment_order_no))
                .cloned()
                .collect(),
        })
        .filter(|s| !s.credits.is_empty())
        .collect())
}
