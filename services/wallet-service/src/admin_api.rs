//! Operator endpoints (admin token): a seller's commission rate and the ledger's trial balance.

use chrono::{DateTime, Utc};
use poem_openapi::{param::Path, payload::Json, Object, OpenApi, Tags};
use rust_decimal::Decimal;
use service_kit::{admin::AdminAuth, ApiError, Id};
use sqlx::PgPool;

use crate::{fees, ledger, ledger::AccountKind, settings};

#[derive(Tags)]
enum AdminTag {
    /// Commission and ledger checks for operators.
    LedgerAdmin,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct FeeRateRequest {
    /// 0 ≤ rate < 1, at most 6 decimals, as a decimal string (`"0.05"`); applies to sales
    /// settled from now on.
    #[oai(deserialize_with = "decimal_string")]
    pub fee_rate: Decimal,
}

/// A decimal written as a JSON string, as the document declares it; a JSON number is refused
/// (`0.1` as a float is not `0.1`).
fn decimal_string(value: Option<serde_json::Value>) -> poem_openapi::types::ParseResult<Decimal> {
    let raw = service_kit::strict::json_string(value).map_err(|e| e.propagate())?;
    raw.trim()
        .parse::<Decimal>()
        .map_err(|_| poem_openapi::types::ParseError::custom("must be a decimal string"))
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct FeeRate {
    pub seller_no: Id,
    pub fee_rate: Decimal,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct TrialBalanceLine {
    pub kind: AccountKind,
    /// `DEBIT` (PSP_CLEARING) or `CREDIT` (every other kind): the direction `balance` counts.
    pub normal_side: String,
    pub accounts: i64,
    /// Σ debits and Σ credits of the kind's postings, both positive.
    pub debits: Decimal,
    pub credits: Decimal,
    /// debits − credits.
    pub net: Decimal,
    /// Σ of the kind's account balances as maintained with every posting, in the kind's
    /// normal direction; equals `net` (or −`net`) when balances and postings agree.
    pub balance: Decimal,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct TrialBalance {
    pub kinds: Vec<TrialBalanceLine>,
    /// Σ net over every kind: 0 in a sound ledger.
    pub total: Decimal,
    /// `total` is 0 and every kind's maintained balance matches its postings.
    pub balanced: bool,
}

pub struct AdminLedgerApi {
    pub pool: PgPool,
    pub admin_token: Option<String>,
}

#[OpenApi(tag = "AdminTag::LedgerAdmin")]
impl AdminLedgerApi {
    /// Set a seller's commission rate (admin token).
    #[oai(
        path = "/admin/sellers/:sellerNo/fee-rate",
        method = "put",
        operation_id = "set_seller_fee_rate"
    )]
    async fn set_fee_rate(
        &self,
        auth: AdminAuth,
        #[oai(name = "sellerNo")] seller_no: Path<Id>,
        body: Json<FeeRateRequest>,
    ) -> Result<Json<FeeRate>, ApiError> {
        service_kit::admin::authorize(self.admin_token.as_deref(), &auth)?;
        if seller_no.0 .0 <= 0 {
            return Err(ApiError::bad_request(
                "INVALID_SELLER_NO",
                "sellerNo must be positive",
            ));
        }
        let rate = body.0.fee_rate;
        settings::check_fee_rate(rate).map_err(|reason| {
            ApiError::bad_request("INVALID_FEE_RATE", format!("feeRate {reason}"))
        })?;
        let mut tx = self.pool.begin().await?;
        let changed_by = service_kit::admin::actor(&auth);
        let updated_at = fees::set_rate(&mut tx, seller_no.0.into(), rate, &changed_by).await?;
        tx.commit().await?;
        Ok(Json(FeeRate {
            seller_no: seller_no.0,
            fee_rate: rate.normalize(),
            updated_at,
        }))
    }

    /// Every account kind's totals and the grand total, which must be 0 (admin token).
    #[oai(
        path = "/admin/ledger/trial-balance",
        method = "get",
        operation_id = "get_trial_balance"
    )]
    async fn trial_balance(&self, auth: AdminAuth) -> Result<Json<TrialBalance>, ApiError> {
        service_kit::admin::authorize(self.admin_token.as_deref(), &auth)?;
        // One snapshot: postings and balances of the same moment.
        let mut tx = service_kit::db::snapshot(&self.pool).await?;
        let totals = ledger::accounts::trial_balance(&mut tx).await?;
        tx.commit().await?;
        Ok(Json(build(totals)))
    }
}

/// The trial balance, kinds in a fixed order (a kind without accounts shows zeros).
pub fn build(totals: Vec<ledger::accounts::KindTotal>) -> TrialBalance {
    let mut kinds = Vec::with_capacity(AccountKind::ALL.len());
    let mut balanced = true;
    for kind in AccountKind::ALL {
        let t = totals.iter().find(|t| t.kind == kind);
        let (accounts, debits, credits, balance) = t
            .map(|t| (t.accounts, t.debits, t.credits, t.balance))
            .unwrap_or_default();
        let debit_normal = kind.is_debit_normal();
        let net = debits - credits;
        balanced &= if debit_normal {
            balance == net
        } else {
            balance == -net
        };
        kinds.push(TrialBalanceLine {
            kind,
            normal_side: if debit_normal { "DEBIT" } else { "CREDIT" }.to_string(),
            accounts,
            debits,
            credits,
            net,
            balance,
        });
    }
    let total: Decimal = kinds.iter().map(|k| k.net).sum();
    TrialBalance {
        kinds,
        total,
        balanced: balanced && total.is_zero(),
    }
}
