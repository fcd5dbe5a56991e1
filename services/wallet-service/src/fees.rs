//! Commission: the rate a seller pays and the rounding rules (docs/ledger.md).
//!
//! - A sold line of `A` won at rate `r` pays `fee = floor(A × r)` won; the seller is owed
//!   `A − fee`. Per line, so an order's fee is exactly Σ of its lines' fees.
//! - A refund of `x` won of that line gives back fee and net in proportion, rounded down on the
//!   *cumulative* refund: after refunds totalling `R`, `floor(F × R / A)` of the fee has gone
//!   back. The first refund gives back `floor(F × x / A)`; the refund that completes the line
//!   (`R = A`) gives back exactly what is left of fee and net, so a line refunded in full in
//!   any number of steps returns exactly what its sale posted. Rounding the cumulative sum
//!   (rather than each refund) keeps every refund's net share ≥ 0: with a per-refund floor,
//!   nine refunds of 111 and one of 1 on a line of 1000 at 5 % would give the last refund a fee
//!   share of 5 on 1 won refunded, i.e. credit the seller 4 won on a refund.

use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::ids::SellerNo;

/// `floor(amount × rate)` in whole won.
pub fn fee_of(amount: Decimal, rate: Decimal) -> Decimal {
    (amount * rate).floor()
}

/// What a refund of `refund` gives back of a line of `gross` with fee `fee`, of which
/// `refunded` was refunded (and `fee_returned` of the fee given back) before: `(fee, net)`.
/// The caller checks `refund ≤ gross − refunded`.
///
/// The proportional share is kept within what is left of fee and net. For whole-won lines it
/// always is (the cumulative floor above); a line with a fraction of a won (a 1000.50 line at
/// 5 %: fee 50, net 950.50; a refund of 1000 has the share 49) would otherwise give back more
/// net than the seller was owed, which the ledger's checks refuse, and the cancel's reversal
/// would never post. A fee given back stays whole won unless a fraction of a won refunded
/// leaves no other choice.
pub fn refund_split(
    gross: Decimal,
    fee: Decimal,
    refunded: Decimal,
    fee_returned: Decimal,
    refund: Decimal,
) -> (Decimal, Decimal) {
    let after = refunded + refund;
    let share = if after >= gross {
        fee - fee_returned
    } else {
        (fee * after / gross).floor() - fee_returned
    };
    let fee_left = fee - fee_returned;
    let net_left = gross - fee - (refunded - fee_returned);
    let least = (refund - net_left).max(Decimal::ZERO);
    let most = refund.min(fee_left);
    let fee_back = share.max(least).min(most);
    let fee_back = if fee_back.fract().is_zero() || fee_back.ceil() > most {
        fee_back
    } else {
        fee_back.ceil()
    };
    (fee_back, refund - fee_back)
}

/// The seller's own rate, or `default`.
pub async fn rate_for(
    conn: &mut PgConnection,
    seller_no: SellerNo,
    default: Decimal,
) -> Result<Decimal, sqlx::Error> {
    let own = sqlx::query_scalar!(
        "select fee_rate from seller_fee_rates where seller_no = $1",
        seller_no.0,
    )
    .fetch_optional(conn)
    .await?;
    Ok(own.unwrap_or(default).normalize())
}

/// Sets the seller's rate (applies to sales posted from now on) and records the change with
/// the rate it replaced and `changed_by`; returns when it was set. Call in a transaction.
pub async fn set_rate(
    conn: &mut PgConnection,
    seller_no: SellerNo,
    rate: Decimal,
    changed_by: &str,
) -> Result<chrono::DateTime<chrono::Utc>, sqlx::Error> {
    // A rate set before the change log existed has no change of its own: read (and locked)
    // here. The upsert then holds the row until commit, so a second change waits for this
    // one and reads it as the latest change — also when both found no row to lock.
    let before = sqlx::query_scalar!(
        "select fee_rate from seller_fee_rates where seller_no = $1 for update",
        seller_no.0,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let updated_at = sqlx::query_scalar!(
        "insert into seller_fee_rates (seller_no, fee_rate) values ($1, $2)
         on conflict (seller_no) do update set fee_rate = excluded.fee_rate, updated_at = now()
         returning updated_at",
        seller_no.0,
        rate,
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!(
        "insert into seller_fee_rate_changes (seller_no, fee_rate, previous_rate, changed_by)
         values ($1, $2,
                 coalesce((select fee_rate from seller_fee_rate_changes
                            where seller_no = $1 order by id desc limit 1), $3),
                 $4)",
        seller_no.0,
        rate,
        before,
        changed_by,
    )
    .execute(conn)
    .await?;
    Ok(updated_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: i64) -> Decimal {
        Decimal::from(n)
    }

    #[test]
    fn fee_is_floored_per_line_and_sums_exactly() {
        let rate = Decimal::new(5, 2);
        assert_eq!(fee_of(d(1999), rate), d(99));
        assert_eq!(fee_of(d(19), rate), d(0));
        let lines = [d(1999), d(19), d(20), d(333_333)];
        let fees: Decimal = lines.iter().map(|a| fee_of(*a, rate)).sum();
        assert_eq!(fees, d(99 + 1 + 16_666));
    }

    /// Any sequence of partial refunds ending in a full one returns exactly fee and net, and
    /// no refund's net share is negative.
    #[test]
    fn refunds_return_exactly_the_sale() {
        let cases: &[(i64, &str, &[i64])] = &[
            (
                1000,
                "0.05",
                &[111, 111, 111, 111, 111, 111, 111, 111, 111, 1],
            ),
            (1000, "0.05", &[999, 1]),
            (3, "0.7", &[1, 1, 1]),
            (10_001, "0.123456", &[1, 2, 3, 4, 9991]),
            (5000, "0", &[2500, 2500]),
        ];
        for (gross, rate, refunds) in cases {
            let (gross, rate) = (d(*gross), rate.parse::<Decimal>().expect("rate"));
            let fee = fee_of(gross, rate);
            let (mut refunded, mut fee_back, mut net_back) = (d(0), d(0), d(0));
            for x in refunds.iter().map(|x| d(*x)) {
                let (f, n) = refund_split(gross, fee, refunded, fee_back, x);
                assert!(
                    f >= d(0) && n >= d(0),
                    "{gross} {rate} {refunds:?}: {f} {n}"
                );
                assert_eq!(f + n, x);
                refunded += x;
                fee_back += f;
                net_back += n;
            }
            assert_eq!((fee_back, net_back), (fee, gross - fee), "{refunds:?}");
        }
    }

    /// A line with a fraction of a won: no refund gives back more fee or net than is left of
    /// it, and refunded in full in any steps it returns exactly the sale.
    #[test]
    fn a_line_with_a_fraction_of_a_won_never_returns_more_than_it_left() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("1000.50", "0.05", &["1000", "0.50"]),
            ("1000.50", "0.05", &["0.50", "1000"]),
            ("1000.50", "0.05", &["999", "1", "0.50"]),
            ("1000.50", "0.05", &["0.25", "0.25", "1000"]),
            ("19.99", "0.5", &["19", "0.99"]),
            ("1.50", "0.9", &["1", "0.5"]),
        ];
        for (gross, rate, refunds) in cases {
            let gross = gross.parse::<Decimal>().expect("gross");
            let fee = fee_of(gross, rate.parse().expect("rate"));
            let (mut refunded, mut fee_back, mut net_back) = (d(0), d(0), d(0));
            for x in refunds
                .iter()
                .map(|x| x.parse::<Decimal>().expect("refund"))
            {
                let (f, n) = refund_split(gross, fee, refunded, fee_back, x);
                assert_eq!(f + n, x);
                refunded += x;
                fee_back += f;
                net_back += n;
                assert!(
                    f >= d(0) && n >= d(0) && fee_back <= fee && net_back <= gross - fee,
                    "{gross} {refunds:?}: {f} {n} (given back {fee_back} of {fee}, {net_back})"
                );
            }
            assert_eq!((fee_back, net_back), (fee, gross - fee), "{refunds:?}");
        }
        // The first case's refund of 1000: 50 of fee back (whole won), 950 of the 950.50 net.
        let gross = "1000.50".parse::<Decimal>().expect("gross");
        assert_eq!(
            refund_split(gross, d(50), d(0), d(0), d(1000)),
            (d(50), d(950))
        );
    }

    #[test]
    fn a_first_partial_refund_returns_the_floored_share() {
        // Line 1000, fee 50: refund 333 → fee back floor(50 × 333 / 1000) = 16.
        assert_eq!(
            refund_split(d(1000), d(50), d(0), d(0), d(333)),
            (d(16), d(317))
        );
    }
}
