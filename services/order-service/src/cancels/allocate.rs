//! How a partial cancel by amount is spread over an order's lines (docs/payments.md): in
//! proportion to what is still refundable of each line, rounded down to whole won, and the
//! won left over by the rounding to the lines in `paymentOrderNo` order, each up to what is
//! refundable of it. The shares always add up to the amount exactly, and no line is refunded
//! more than it has left.

use rust_decimal::Decimal;

/// `refundable`: (paymentOrderNo, refundable amount) in paymentOrderNo order. `None` when
/// `amount` exceeds their sum. Lines with a zero share are left out.
pub fn allocate(refundable: &[(i64, Decimal)], amount: Decimal) -> Option<Vec<(i64, Decimal)>> {
    let total: Decimal = refundable.iter().map(|l| l.1).sum();
    if amount > total || amount <= Decimal::ZERO {
        return None;
    }
    let mut shares: Vec<(i64, Decimal)> = refundable
        .iter()
        .map(|&(no, left)| (no, (amount * left / total).floor().min(left)))
        .collect();
    let mut rest = amount - shares.iter().map(|s| s.1).sum::<Decimal>();
    for (share, &(_, left)) in shares.iter_mut().zip(refundable) {
        if rest <= Decimal::ZERO {
            break;
        }
        let extra = (left - share.1).min(rest);
        share.1 += extra;
        rest -= extra;
    }
    shares.retain(|s| s.1 > Decimal::ZERO);
    Some(shares)
}

#[cfg(test)]
mod tests {
    use super::allocate;
    use rust_decimal::Decimal;

    fn d(v: i64) -> Decimal {
        Decimal::from(v)
    }

    #[test]
    fn shares_are_proportional_whole_and_exact() {
        let lines = [(1, d(10_000)), (2, d(20_000)), (3, d(3_333))];
        for amount in [1, 2, 3, 999, 10_001, 33_332, 33_333] {
            let shares = allocate(&lines, d(amount)).expect("within balance");
            let sum: Decimal = shares.iter().map(|s| s.1).sum();
            assert_eq!(sum, d(amount), "{amount}: {shares:?}");
            for (no, share) in &shares {
                let left = lines.iter().find(|l| l.0 == *no).map(|l| l.1);
                assert!(Some(*share) <= left, "{amount}: line {no} over-refunded");
                assert_eq!(share.fract(), Decimal::ZERO, "whole won");
            }
        }
        assert_eq!(
            allocate(&lines, d(3_000)),
            Some(vec![(1, d(901)), (2, d(1_800)), (3, d(299))])
        );
    }

    #[test]
    fn more_than_the_balance_is_refused() {
        assert_eq!(allocate(&[(1, d(100))], d(101)), None);
        assert_eq!(allocate(&[(1, d(100))], d(0)), None);
        assert_eq!(allocate(&[], d(1)), None);
    }
}
