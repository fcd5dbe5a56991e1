//! `POST /v2/payouts`: checks the items, replays a used Idempotency-Key, applies payout
//! faults, and creates the payouts (a refPayoutId the merchant used before answers the existing
//! payout) together with the key's stored reply in one transaction.

use std::{collections::HashSet, time::Duration};

use chrono::NaiveDate;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use serde_json::Value;

use crate::{
    codes::{self, TossCode},
    idempotency::internal,
    payment::now_kst,
    payout::{PayoutItems, PayoutList, PayoutRecord, PayoutRequestItem, PayoutStatus},
    payout::{ScheduleType, VERSION},
    payout_api::PayoutListResponse,
    payout_faults::{failure_message, PayoutPlan, INVALID_BANK_ACCOUNT},
    payout_store::{self, NewPayout},
    state::{Sandbox, HEX, KEY_ALPHABET},
};

/// Most items one request may carry.
pub const MAX_ITEMS: usize = 100;
const MAX_METADATA_KEYS: usize = 5;

fn invalid(message: impl Into<String>) -> PayoutListResponse {
    PayoutListResponse::error(codes::get(codes::INVALID_REQUEST), message)
}

/// Toss v2's envelope around `items`.
pub fn list(sandbox: &Sandbox, items: &[PayoutRecord]) -> PayoutList {
    PayoutList {
        version: VERSION.into(),
        trace_id: sandbox.random(32, HEX).to_lowercase(),
        entity_type: "payout".into(),
        entity_body: PayoutItems {
            items: items.iter().map(PayoutRecord::to_item).collect(),
        },
    }
}

/// The payout date an item asks for, or why it cannot have it.
fn payout_date(item: &PayoutRequestItem, today: NaiveDate) -> Result<NaiveDate, String> {
    let given = match item.payout_date.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map_err(|_| format!("payoutDate는 YYYY-MM-DD 형식이어야 합니다. ({raw})"))?,
        ),
    };
    match (item.schedule_type, given) {
        (ScheduleType::Express, None) => Ok(today),
        (ScheduleType::Express, Some(date)) if date == today => Ok(today),
        (ScheduleType::Express, Some(_)) => {
            Err("EXPRESS 지급의 payoutDate는 오늘이어야 합니다.".into())
        }
        (ScheduleType::Scheduled, None) => {
            Err("SCHEDULED 지급에는 payoutDate가 필요합니다.".into())
        }
        (ScheduleType::Scheduled, Some(date)) if date < today => {
            Err("payoutDate는 오늘 이후여야 합니다.".into())
        }
        (ScheduleType::Scheduled, Some(date)) => Ok(date),
    }
}

fn check(items: &[PayoutRequestItem], today: NaiveDate) -> Result<Vec<NaiveDate>, String> {
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(format!("지급대행 요청은 1~{MAX_ITEMS}건이어야 합니다."));
    }
    let mut refs = HashSet::new();
    let mut dates = Vec::with_capacity(items.len());
    for item in items {
        if !refs.insert(item.ref_payout_id.as_str()) {
            return Err(format!(
                "refPayoutId가 중복되었습니다. ({})",
                item.ref_payout_id
            ));
        }
        for (field, text) in [
            ("refPayoutId", &item.ref_payout_id),
            ("destination", &item.destination),
            ("transactionDescription", &item.transaction_description),
        ] {
            if text.trim().is_empty() || text.contains('\0') {
                return Err(format!("{field}가 올바르지 않습니다."));
            }
        }
        match &item.metadata {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) if map.len() <= MAX_METADATA_KEYS => {}
            Some(_) => {
                return Err(format!(
                    "metadata는 최대 {MAX_METADATA_KEYS}개의 키를 가진 객체여야 합니다."
                ))
            }
        }
        dates.push(payout_date(item, today)?);
    }
    Ok(dates)
}

/// What each item runs into; an `Error` plan anywhere refuses the whole request.
fn plans(
    sandbox: &Sandbox,
    items: &[PayoutRequestItem],
) -> Result<Vec<PayoutPlan>, &'static TossCode> {
    let mut memory = sandbox.memory();
    let fail_rate = memory.faults.current().payout_fail_rate;
    let mut plans = Vec::with_capacity(items.len());
    for item in items {
        let mut plan = memory.payout_faults.sample(&item.ref_payout_id);
        // Drawn for every item, so the n-th item's fate depends only on n and the seed.
        let draw = memory.chaos.next_f64();
        if matches!(plan, PayoutPlan::Pass) && draw < fail_rate {
            let code = INVALID_BANK_ACCOUNT.to_string();
            plan = PayoutPlan::Fail(code.clone(), failure_message(&code));
        }
        plans.push(plan);
    }
    match plans.iter().find_map(|p| match p {
        PayoutPlan::Error(code) => Some(*code),
        _ => None,
    }) {
        Some(code) => Err(code),
        None => Ok(plans),
    }
}

fn replay(body: Value) -> PayoutListResponse {
    match PayoutList::parse_from_json(Some(body)) {
        Ok(list) => PayoutListResponse::Ok(poem_openapi::payload::Json(Box::new(list))),
        Err(_) => PayoutListResponse::error(
            codes::get(codes::FAILED_INTERNAL_SYSTEM_PROCESSING),
            "내부 시스템 처리 작업이 실패했습니다. (sandbox: unreadable stored reply)",
        ),
    }
}

pub async fn create(
    sandbox: &Sandbox,
    merchant: &str,
    key: &str,
    items: Vec<PayoutRequestItem>,
) -> PayoutListResponse {
    let now = now_kst();
    let dates = match check(&items, now.date_naive()) {
        Ok(dates) => dates,
        Err(message) => return invalid(message),
    };
    sandbox.latency().await;
    let stored = async {
        let mut conn = sandbox.pool.acquire().await?;
        payout_store::stored_reply(&mut conn, merchant, key).await
    };
    match stored.await {
        Ok(Some(body)) => return replay(body),
        Ok(None) => {}
        Err(err) => return PayoutListResponse::internal(&err),
    }
    let plans = match plans(sandbox, &items) {
        Ok(plans) => plans,
        Err(code) => return PayoutListResponse::error(code, code.message),
    };
    let delay_ms = i64::try_from(sandbox.settings.payout_delay.as_millis()).unwrap_or(i64::MAX);
    let created = async {
        let mut tx = sandbox.pool.begin().await?;
        let mut payouts = Vec::with_capacity(items.len());
        for ((item, date), plan) in items.into_iter().zip(dates).zip(&plans) {
            let record = PayoutRecord {
                id: format!("FPA_{}", sandbox.random(24, KEY_ALPHABET)),
                ref_payout_id: item.ref_payout_id,
                destination: item.destination,
                schedule_type: item.schedule_type,
                payout_date: date,
                amount: item.amount.value.0,
                transaction_description: item.transaction_description,
                metadata: item.metadata.filter(|m| !m.is_null()),
                status: PayoutStatus::Requested,
                requested_at: now,
                error: None,
            };
            let planned_error = match plan {
                PayoutPlan::Fail(code, message) => Some((code.clone(), message.clone())),
                _ => None,
            };
            let new = NewPayout {
                record: &record,
                planned_error,
                delay_ms,
            };
            payouts.push(payout_store::insert_or_existing(&mut tx, merchant, new).await?);
        }
        let body = list(sandbox, &payouts).to_json().unwrap_or_default();
        if !payout_store::store_reply(&mut tx, merchant, key, &body).await? {
            // A concurrent request with this key stored its reply first: answer that one.
            tx.rollback().await?;
            let mut conn = sandbox.pool.acquire().await?;
            let first = payout_store::stored_reply(&mut conn, merchant, key).await?;
            return Ok(first.unwrap_or(body));
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(body)
    };
    let body = match created.await {
        Ok(body) => body,
        Err(err) => return PayoutListResponse::internal(&err),
    };
    sandbox.payouts_due.notify_one();
    let hold = plans
        .iter()
        .filter_map(|p| match p {
            PayoutPlan::Timeout(delay) => Some(*delay),
            _ => None,
        })
        .max();
    if let Some(hold) = hold.filter(|d| *d > Duration::ZERO) {
        tokio::time::sleep(hold).await;
    }
    replay(body)
}

/// Logs a database error and answers Toss's 500, for the payout endpoints.
pub fn database_error(err: &sqlx::Error) -> (&'static TossCode, String) {
    if crate::idempotency::unstorable_text(err) {
        return (
            codes::get(codes::INVALID_REQUEST),
            "잘못된 요청입니다. (NUL or invalid UTF-8 in a value)".into(),
        );
    }
    let _ = internal(err);
    (
        codes::get(codes::FAILED_INTERNAL_SYSTEM_PROCESSING),
        "내부 시스템 처리 작업이 실패했습니다. (sandbox: database error)".into(),
    )
}
