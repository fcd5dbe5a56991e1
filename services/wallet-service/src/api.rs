//! `GET /api/wallets/sellers/{sellerNo}`: balance, version and recent wallet rows (credits and
//! reversals), and the seller's ledger balances (pending, available, in transit, paid out).

use chrono::{DateTime, Utc};
use poem_openapi::{param::Path, payload::Json, Object, OpenApi, Tags};
use rust_decimal::Decimal;
use service_kit::{ApiError, Id};
use sqlx::PgPool;

use crate::{ids::SellerNo, ledger, store, transaction_kind::TransactionKind};

#[derive(Tags)]
enum WalletTag {
    /// Seller wallets and their ledger.
    Wallets,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct WalletTransaction {
    pub transaction_no: Id,
    /// Always positive; `type` gives the direction.
    pub amount: Decimal,
    /// `CREDIT` (a paid order line settled), `REVERSAL` (a cancel taking a seller's credit
    /// back), `DEBIT` (a payout) or `PAYOUT_RETURN` (a failed payout's money, available again).
    #[oai(rename = "type")]
    pub kind: TransactionKind,
    #[oai(skip_serializing_if_is_none)]
    pub order_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub payment_order_no: Option<Id>,
    /// The cancel a `REVERSAL` takes back.
    #[oai(skip_serializing_if_is_none)]
    pub cancel_no: Option<Id>,
    /// The payout a `DEBIT` or `PAYOUT_RETURN` belongs to.
    #[oai(skip_serializing_if_is_none)]
    pub payout_no: Option<Id>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Wallet {
    pub wallet_no: Id,
    pub seller_no: Id,
    /// What the platform owes the seller and has not paid out: `pending` + `available`
    /// (= Σ credits − Σ reversals − Σ debits, all net of commission). May be negative: a
    /// reversal always posts, because the customer already has the money back; the seller
    /// then owes the difference.
    pub balance: Decimal,
    /// Net of sales still on hold (`SETTLEMENT_HOLD`); never negative.
    pub pending: Decimal,
    /// Released, payable to the seller. Negative when refunds took back more than was pending.
    pub available: Decimal,
    /// Paid out, not yet confirmed by the PSP (`POST …/payouts`; no longer in `balance`).
    pub in_transit: Decimal,
    /// Paid out so far (payouts the PSP completed), cumulative.
    pub paid_out: Decimal,
    /// Commission charged on the seller's sales, less what refunds gave back.
    pub fees_charged: Decimal,
    /// Version of the stored wallet row: grows by one per stored balance change (a reversal,
    /// a payout, or a fold of sales — several sales may be folded at once). `balance` also
    /// counts sales not folded yet, so it can change without `version` (docs/ledger.md).
    pub version: i64,
    /// Newest first, at most 20.
    pub recent_transactions: Vec<WalletTransaction>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct WalletApi {
    pub pool: PgPool,
}

#[OpenApi(tag = "WalletTag::Wallets")]
impl WalletApi {
    /// A seller's wallet: balance, version and the 20 most recent transactions.
    #[oai(
        path = "/api/wallets/sellers/:sellerNo",
        method = "get",
        operation_id = "get_seller_wallet"
    )]
    async fn get_seller_wallet(
        &self,
        identity: service_kit::auth::Identity,
        #[oai(name = "sellerNo")] seller_no: Path<Id>,
    ) -> Result<Json<Wallet>, ApiError> {
        service_kit::auth::require_seller(&identity, seller_no.0 .0)?;
        let seller_no = SellerNo::from(seller_no.0);
        let mut conn = self.pool.acquire().await?;
        let Some(wallet) = store::find_wallet_by_seller(&mut conn, seller_no).await? else {
            return Err(ApiError::not_found(
                "WALLET_NOT_FOUND",
                format!("seller {} has no wallet (yet)", seller_no.0),
            ));
        };
        let transactions = store::recent_transactions(&mut conn, wallet.wallet_no, 20).await?;
        let ledger = ledger::accounts::seller_balances(&mut conn, wallet.seller_no).await?;
        let fees_charged = ledger::accounts::fees_charged(&mut conn, wallet.seller_no).await?;
        Ok(Json(Wallet {
            wallet_no: wallet.wallet_no.into(),
            seller_no: wallet.seller_no.into(),
            balance: wallet.balance,
            pending: ledger.pending,
            available: ledger.available,
            in_transit: ledger.in_transit,
            paid_out: ledger.paid_out,
            fees_charged,
            version: wallet.version,
            recent_transactions: transactions
                .into_iter()
                .map(|t| WalletTransaction {
                    transaction_no: Id(t.id),
                    amount: t.amount,
                    kind: t.kind,
                    order_id: t.order_id,
                    payment_order_no: t.payment_order_no.map(Id),
                    cancel_no: t.cancel_no.map(Id),
                    payout_no: t.payout_no.map(Id::from),
                    created_at: t.created_at,
                })
                .collect(),
            created_at: wallet.created_at,
            updated_at: wallet.updated_at,
        }))
    }
}
