//! Payouts against real Postgres and NATS and the PSP sandbox in-process: completed through
//! the signed webhook, through the lookup when no webhook comes, failed (money back), refused
//! (over available, bad amounts), idempotent, a timeout recovered; forged and replayed
//! webhooks change nothing; webhook and lookup converge in either order; a payout the PSP
//! acknowledged is never failed by a refusal, even one judged on a stale row. After each: entries
//! sum to 0, balances = postings, wallet balance = pending + available = Σ wallet rows, and
//! the money at the PSP (PSP_CLEARING − SELLER_PAID_OUT) = charged − refunded − paid out.

mod payout_support;
mod support;

use payout_support::{d, Stack};
use serde_json::json;
use wallet_service::{
    ids::PayoutNo,
    payouts::{
        store::{self, PayoutRow},
        PayoutStatus,
    },
};

const A: i64 = 1;

#[tokio::test]
async fn a_payout_completes_through_the_signed_webhook() {
    let s = Stack::start(&[]).await;
    s.webhooks_to_wallet().await;
    s.fund(A, 100, 10_000).await;
    let (status, p) = s.payout(A, json!({"amount": 4000}), None).await;
    assert_eq!(status, 201, "{p}");
    assert!(
        ["SENT", "COMPLETED"].contains(&p["status"].as_str().unwrap_or_default()),
        "{p}"
    );
    let no = p["payoutNo"].as_str().unwrap_or_default().to_string();
    let done = s.wait_status(A, &no, "COMPLETED").await;
    let sources: Vec<&str> = done["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|c| c["source"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(sources.last(), Some(&"webhook"), "{done}");
    assert!(done["pspPayoutId"]
        .as_str()
        .is_some_and(|id| id.starts_with("FPA_")));
    s.expect_wallet(A, 6000, 0, 4000).await;
    let (_, list) =
        s.w.get_json(&format!("/api/wallets/sellers/{A}/payouts"), false)
            .await;
    assert_eq!(list["payouts"][0]["payoutNo"], json!(no), "{list}");
    assert_eq!(s.entries_of(&no).await, ["PAYOUT", "PAYOUT_COMPLETED"]);
    s.assert_sound(10_000, 4000).await;
    s.stop().await;
}

#[tokio::test]
async fn without_a_webhook_the_lookup_completes_it() {
    let s = Stack::start(&[
        ("PAYOUT_LOOKUP_AFTER_MS", "300"),
        ("PAYOUT_RECOVERY_INTERVAL_MS", "200"),
    ])
    .await;
    s.fund(A, 200, 5000).await;
    let (status, p) = s.payout(A, json!({"amount": 5000}), None).await;
    assert_eq!(status, 201, "{p}");
    let no = p["payoutNo"].as_str().unwrap_or_default().to_string();
    let done = s.wait_status(A, &no, "COMPLETED").await;
    assert!(done.to_string().contains("\"lookup\""), "{done}");
    s.expect_wallet(A, 0, 0, 5000).await;
    s.assert_sound(5000, 5000).await;
    s.stop().await;
}

#[tokio::test]
async fn a_failed_payout_puts_the_money_back() {
    // Three seconds in transit (not the stack's 300 ms), so a loaded runner still sees it.
    let s = Stack::start_with(&[("SANDBOX_PAYOUT_DELAY_MS", "3000")], &[]).await;
    s.webhooks_to_wallet().await;
    s.sandbox_put("/sandbox/faults", json!({"payoutFailRate": 1.0}))
        .await;
    s.fund(A, 300, 3000).await;
    let (_, p) = s.payout(A, json!({"amount": 2000}), None).await;
    let no = p["payoutNo"].as_str().unwrap_or_default().to_string();
    s.expect_wallet(A, 1000, 2000, 0).await;
    let failed = s.wait_status(A, &no, "FAILED").await;
    assert_eq!(failed["failureCode"], "INVALID_BANK_ACCOUNT", "{failed}");
    s.expect_wallet(A, 3000, 0, 0).await;
    assert_eq!(s.entries_of(&no).await, ["PAYOUT", "PAYOUT_FAILED"]);
    let (_, wallet) = s.w.wallet(A).await;
    assert_eq!(
        wallet["recentTransactions"][0]["type"], "PAYOUT_RETURN",
        "{wallet}"
    );
    s.assert_sound(3000, 0).await;
    s.stop().await;
}

#[tokio::test]
async fn payouts_above_available_or_of_bad_amounts_are_refused() {
    let s = Stack::start(&[]).await;
    s.fund(A, 400, 1000).await;
    for (amount, code) in [
        (json!(1001), "PAYOUT_EXCEEDS_AVAILABLE"),
        (json!(0), "INVALID_PAYOUT_AMOUNT"),
        (json!(-5), "INVALID_PAYOUT_AMOUNT"),
        (json!("10.5"), "INVALID_PAYOUT_AMOUNT"),
        // Beyond `payouts.amount`'s numeric(19, 2): a 500 from the insert before stop 21.
        (json!(100_000_000_000_000_000_i64), "INVALID_PAYOUT_AMOUNT"),
    ] {
        let (status, body) = s.payout(A, json!({ "amount": amount }), None).await;
        assert_eq!((status, body["code"].as_str()), (422, Some(code)), "{body}");
    }
    let (status, body) = s.payout(A, json!({"amount": 1, "sellerNo": 2}), None).await;
    assert_eq!(status, 400, "an unknown field: {body}");
    let (status, body) = s.payout(999, json!({"amount": 1}), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("WALLET_NOT_FOUND"))
    );
    assert_eq!(s.w.count("select count(*) from payouts").await, 0);
    s.expect_wallet(A, 1000, 0, 0).await;
    s.assert_sound(1000, 0).await;
    s.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_answers_the_same_payout() {
    let s = Stack::start(&[]).await;
    s.fund(A, 500, 3000).await;
    let (first, p1) = s.payout(A, json!({"amount": 1000}), Some("k-1")).await;
    let (again, p2) = s.payout(A, json!({"amount": 1000}), Some("k-1")).await;
    assert_eq!((first, again), (201, 200), "{p1} {p2}");
    assert_eq!(p1["payoutNo"], p2["payoutNo"]);
    let (other, body) = s.payout(A, json!({"amount": 1500}), Some("k-1")).await;
    assert_eq!(
        (other, body["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    assert_eq!(s.w.count("select count(*) from payouts").await, 1);
    assert_eq!(s.w.account(Some(A), "SELLER_AVAILABLE").await, d(2000));
    // The automatic payouts' keys are reserved: a seller holding tomorrow's would make the
    // automatic payout of that day answer the seller's payout and skip.
    let (status, body) = s
        .payout(A, json!({"amount": 1}), Some("payout-auto:1:2026-12-08"))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_IDEMPOTENCY_KEY")),
        "{body}"
    );
    assert_eq!(s.w.count("select count(*) from payouts").await, 1);
    s.assert_sound(3000, -1).await;
    s.stop().await;
}

#[tokio::test]
async fn forged_and_replayed_webhooks_change_nothing() {
    let s = Stack::start(&[]).await;
    s.fund(A, 600, 2000).await;
    let (_, p) = s.payout(A, json!({"amount": 2000}), None).await;
    let no = p["payoutNo"].as_str().unwrap_or_default().to_string();
    let body = s.settled_event(&no, "COMPLETED").await;
    let now = payout_support::kst_now(0);
    for (sig, time, code) in [
        (
            Some("v1:AAAA".to_string()),
            now.clone(),
            "WEBHOOK_SIGNATURE_INVALID",
        ),
        (
            Some(s.sign(&body, &now, "wrong_secret")),
            now.clone(),
            "WEBHOOK_SIGNATURE_INVALID",
        ),
        (None, now.clone(), "WEBHOOK_SIGNATURE_MISSING"),
        (
            Some(s.sign(&body, &payout_support::kst_now(-600), "")),
            payout_support::kst_now(-600),
            "WEBHOOK_REPLAYED",
        ),
    ] {
        let (status, answer) = s.webhook(&body, sig.as_deref(), &time).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (401, Some(code)),
            "{answer}"
        );
    }
    let (_, still) =
        s.w.get_json(&format!("/api/wallets/sellers/{A}/payouts/{no}"), false)
            .await;
    assert_eq!(still["status"], "SENT", "{still}");
    s.expect_wallet(A, 0, 2000, 0).await;
    // Unsigned payment events are not ours: 200, nothing done.
    let payment = json!({"eventType": "PAYMENT_STATUS_CHANGED", "data": {"orderId": "o-1"}});
    let (status, answer) = s.webhook(&payment.to_string(), None, &now).await;
    assert_eq!((status, answer["result"].as_str()), (200, Some("IGNORED")));
    // Not a webhook's shape: 400 before anything else is looked at.
    for bad in [
        json!({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": 5, "data": {}}),
        json!({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": null, "data": {}}),
        json!({"eventType": 1, "data": {}}),
        json!({"eventType": "payout.changed", "data": []}),
        json!([]),
    ] {
        let (status, answer) = s.webhook(&bad.to_string(), None, &now).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("INVALID_WEBHOOK")),
            "{bad}: {answer}"
        );
    }
    // The genuine one, then its redelivery.
    let sig = s.sign(&body, &now, "");
    assert_eq!(
        s.webhook(&body, Some(&sig), &now).await.1["result"],
        "APPLIED"
    );
    assert_eq!(
        s.webhook(&body, Some(&sig), &now).await.1["result"],
        "DUPLICATE"
    );
    s.expect_wallet(A, 0, 0, 2000).await;
    s.assert_sound(2000, 2000).await;
    s.stop().await;
}

#[tokio::test]
async fn webhook_and_lookup_converge_in_either_order() {
    let s = Stack::start(&[]).await;
    s.fund(A, 700, 3000).await;
    let (_, p1) = s.payout(A, json!({"amount": 1000}), None).await;
    let (_, p2) = s.payout(A, json!({"amount": 500}), None).await;
    let (no1, no2) = (
        p1["payoutNo"].as_str().unwrap_or_default(),
        p2["payoutNo"].as_str().unwrap_or_default(),
    );
    // 1: the webhook first, then the lookup.
    let body1 = s.settled_event(no1, "COMPLETED").await;
    let now = payout_support::kst_now(0);
    let sig = s.sign(&body1, &now, "");
    assert_eq!(
        s.webhook(&body1, Some(&sig), &now).await.1["result"],
        "APPLIED"
    );
    assert_eq!(s.admin_lookup(no1).await["status"], "COMPLETED");
    // 2: the lookup first, then the webhook; then a forged outcome (FAILED) signed correctly
    // cannot move a final payout either.
    let body2 = s.settled_event(no2, "COMPLETED").await;
    assert_eq!(s.admin_lookup(no2).await["status"], "COMPLETED");
    let sig = s.sign(&body2, &now, "");
    assert_eq!(
        s.webhook(&body2, Some(&sig), &now).await.1["result"],
        "UNCHANGED"
    );
    let failed = body2.replace("\"COMPLETED\"", "\"FAILED\"");
    let sig = s.sign(&failed, &now, "");
    assert_eq!(
        s.webhook(&failed, Some(&sig), &now).await.1["result"],
        "UNCHANGED"
    );
    for no in [no1, no2] {
        assert_eq!(s.entries_of(no).await, ["PAYOUT", "PAYOUT_COMPLETED"]);
    }
    s.expect_wallet(A, 1500, 0, 1500).await;
    s.assert_sound(3000, 1500).await;
    s.stop().await;
}

/// Seller A with 2,000 available is paid 1,200, which the PSP acknowledges (SENT, with its id;
/// not settled during the test), then refuses to repeat (400) and loses its record of. The
/// refusal is set first: while the PSP still has the payout, a lookup finds it and never
/// repeats the request, so no repeat can re-create it between the two steps. The service's
/// payout job runs every `job_ms`.
async fn a_sent_payout_the_psp_forgets(job_ms: &str) -> (Stack, String) {
    let s = Stack::start_with(
        &[("SANDBOX_PAYOUT_DELAY_MS", "600000")],
        &[
            ("PAYOUT_RECOVERY_INTERVAL_MS", job_ms),
            ("PAYOUT_LOOKUP_AFTER_MS", job_ms),
        ],
    )
    .await;
    s.fund(A, 900, 2000).await;
    let (status, p) = s.payout(A, json!({"amount": 1200}), None).await;
    assert_eq!((status, p["status"].as_str()), (201, Some("SENT")), "{p}");
    let no = p["payoutNo"].as_str().unwrap_or_default().to_string();
    s.sandbox_put(
        &format!("/sandbox/faults/payouts/{no}"),
        json!({"mode": "error", "errorCode": "INVALID_REQUEST", "times": 1000}),
    )
    .await;
    s.psp_forgets(&no).await;
    (s, no)
}

/// The PSP acknowledged a payout (SENT, with its id), then lost its record and refuses the
/// repeat (400). The refusal must never fail the payout: the PSP may still pay it, and failing
/// it would hand the seller the money a second time. Each lookup finds nothing, is refused, and
/// looks once more (flow.rs `second_look`): the payout stays SENT, looked up with backoff, and
/// operators read why. (flow.rs `finish` keeps the same rule on the locked row, for a SENT
/// written after the job read the payout: the next test.)
#[tokio::test]
async fn a_payout_the_psp_acknowledged_then_forgot_is_never_failed_by_a_refusal() {
    let (s, no) = a_sent_payout_the_psp_forgets("100").await;

    // Refused lookups and repeats, several times over, each with its backoff.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let attempts: i32 = sqlx::query_scalar("select attempts from payouts where payout_no = $1")
            .bind(no.parse::<i64>().expect("a number"))
            .fetch_one(&s.w.pool)
            .await
            .expect("the payout");
        if attempts >= 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "looked up {attempts} times"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, own) =
        s.w.get_json(&format!("/api/wallets/sellers/{A}/payouts/{no}"), false)
            .await;
    assert_eq!(own["status"], "SENT", "{own}");
    s.expect_wallet(A, 800, 1200, 0).await;
    assert_eq!(s.entries_of(&no).await, ["PAYOUT"], "no money handed back");
    let looked = s.admin_lookup(&no).await;
    assert!(
        looked["lastError"]
            .as_str()
            .is_some_and(|e| e.starts_with("PSP_RECORD_GONE") && e.contains("INVALID_REQUEST")),
        "{looked}"
    );
    s.assert_sound(2000, 0).await;
    s.stop().await;
}

/// The race flow.rs `finish` guards: a lookup working from the payout as it was read before the
/// PSP's acknowledgement was recorded (UNKNOWN, no PSP id: a timed-out request), while the row
/// is SENT now (a webhook or another instance wrote it meanwhile), and the PSP has since lost
/// the payout and refuses the repeat. The second look sees the stale UNKNOWN and lets the
/// refusal through; only the locked row's SENT, PSP id and `sent_at` keep the money where it is.
#[tokio::test]
async fn a_refusal_judged_on_a_stale_row_never_fails_a_payout_acknowledged_meanwhile() {
    // The service's own job stays out of the way: the test drives the lookup itself.
    let (s, no) = a_sent_payout_the_psp_forgets("600000").await;
    let payout_no = PayoutNo(no.parse().expect("a number"));
    let sent = payout_row(&s, payout_no).await;
    let stale = PayoutRow {
        status: PayoutStatus::Unknown,
        psp_payout_id: None,
        sent_at: None,
        ..sent.clone()
    };
    s.payout_paths()
        .lookup(&stale, "test")
        .await
        .expect("the lookup");

    let after = payout_row(&s, payout_no).await;
    assert_eq!(after.status, PayoutStatus::Sent, "{:?}", after.last_error);
    assert_eq!(
        after.attempts,
        sent.attempts + 1,
        "counted, with its backoff"
    );
    assert!(
        after
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("PSP_REFUSED_ACKNOWLEDGED")),
        "{:?}",
        after.last_error
    );
    s.expect_wallet(A, 800, 1200, 0).await;
    assert_eq!(s.entries_of(&no).await, ["PAYOUT"], "no money handed back");
    s.assert_sound(2000, 0).await;
    s.stop().await;
}

/// wallet-service's row of the payout.
async fn payout_row(s: &Stack, payout_no: PayoutNo) -> PayoutRow {
    let mut conn = s.w.pool.acquire().await.expect("a connection");
    store::find(&mut conn, payout_no)
        .await
        .expect("the payout")
        .expect("found")
}

/// Seller A with 2,000 available asks for 1,200 while the PSP answers after 1.5 s, past the
/// 300 ms timeout, until the test lifts the fault; the job looks every 200 ms.
async fn a_payout_the_psp_does_not_answer_in_time() -> (Stack, u16, serde_json::Value) {
    let s = Stack::start(&[
        ("PSP_TIMEOUT_MS", "300"),
        ("PAYOUT_RECOVERY_INTERVAL_MS", "200"),
        ("PAYOUT_LOOKUP_AFTER_MS", "300"),
    ])
    .await;
    s.fund(A, 800, 2000).await;
    s.sandbox_put("/sandbox/faults", json!({"latencyMs": 1500}))
        .await;
    let (status, p) = s.payout(A, json!({"amount": 1200}), None).await;
    (s, status, p)
}

#[tokio::test]
async fn a_timed_out_payout_is_unknown_until_the_job_resolves_it() {
    let (s, status, p) = a_payout_the_psp_does_not_answer_in_time().await;
    assert_eq!(
        (status, p["status"].as_str()),
        (201, Some("UNKNOWN")),
        "{p}"
    );
    s.expect_wallet(A, 800, 1200, 0).await;
    s.sandbox_put("/sandbox/faults", json!({})).await;
    let no = p["payoutNo"].as_str().unwrap_or_default().to_string();
    s.wait_status(A, &no, "COMPLETED").await;
    s.expect_wallet(A, 800, 0, 1200).await;
    assert_eq!(s.entries_of(&no).await, ["PAYOUT", "PAYOUT_COMPLETED"]);
    let at_psp = s.sandbox_payouts(&no).await;
    assert_eq!(at_psp, 1, "the PSP has the payout once");
    s.assert_sound(2000, 1200).await;
    s.stop().await;
}

#[tokio::test]
async fn a_payout_open_an_hour_is_listed_and_counted_for_a_person() {
    // The PSP never answers in time: the payout stays UNKNOWN, looked up again and again.
    let (s, status, p) = a_payout_the_psp_does_not_answer_in_time().await;
    assert_eq!(
        (status, p["status"].as_str()),
        (201, Some("UNKNOWN")),
        "{p}"
    );
    let no = p["payoutNo"].as_str().unwrap_or_default().to_string();
    let (_, fresh) = s.w.get_json("/admin/payouts/unresolved", true).await;
    assert_eq!(
        fresh,
        json!([]),
        "a payout minutes old is the job's, not a person's"
    );
    sqlx::query(
        "update payouts set requested_at = now() - interval '2 hours' where payout_no = $1",
    )
    .bind(no.parse::<i64>().expect("a number"))
    .execute(&s.w.pool)
    .await
    .expect("backdated");
    let (status, listed) = s.w.get_json("/admin/payouts/unresolved", true).await;
    assert_eq!(status, 200, "{listed}");
    // Operators see why it is still open; its seller does not (it may name our internals).
    assert!(
        listed[0]["lastError"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{listed}"
    );
    let listed: Vec<&str> = listed
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["payoutNo"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(listed, [no.as_str()]);
    let (_, own) =
        s.w.get_json(&format!("/api/wallets/sellers/{A}/payouts/{no}"), false)
            .await;
    assert_eq!(own["status"], "UNKNOWN", "{own}");
    assert!(own.get("lastError").is_none(), "{own}");
    let (status, _) = s.w.get_json("/admin/payouts/unresolved", false).await;
    assert_eq!(status, 401, "operators only");
    // The recovery job's next pass sets the gauge the alert PaymsaPayoutsUnresolved reads.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, _, metrics) = s.w.get_text("/metrics", "text/plain", None).await;
        if metrics
            .lines()
            .any(|l| l == r#"paymsa_payouts_unresolved{service="wallet-service"} 1"#)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no gauge of 1:\n{metrics}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    s.sandbox_put("/sandbox/faults", json!({})).await;
    s.wait_status(A, &no, "COMPLETED").await;
    s.stop().await;
}
