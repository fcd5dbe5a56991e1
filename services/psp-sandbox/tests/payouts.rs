//! Payouts (Toss API v2, 지급대행): REQUESTED → COMPLETED with a signed `payout.changed`
//! webhook, refPayoutId and Idempotency-Key idempotency, faults, validation, and a restart that
//! settles what the stopped sandbox left REQUESTED.

mod common;

use common::{receiver::Receiver, start_with, Sandbox};
use psp_sandbox::webhooks::{verify, SIGNATURE, TRANSMISSION_TIME};
use serde_json::{json, Value};

const SECRET: &str = "payouts_test_security_key";

fn item(ref_payout_id: &str, amount: i64) -> Value {
    json!({
        "refPayoutId": ref_payout_id,
        "destination": "seller-1001",
        "scheduleType": "EXPRESS",
        "amount": {"currency": "KRW", "value": amount},
        "transactionDescription": "paymsa 정산",
        "metadata": {"walletNo": "7001"}
    })
}

fn ref_id() -> String {
    format!("ref-{}", &service_kit::testing::unique_namespace()[1..])
}

async fn sandbox(receiver: &Receiver, delay_ms: &str) -> Sandbox {
    start_with(&[
        ("SANDBOX_WEBHOOK_URLS", receiver.url.as_str()),
        ("SANDBOX_WEBHOOK_SECRET", SECRET),
        ("SANDBOX_PAYOUT_DELAY_MS", delay_ms),
        ("SANDBOX_WEBHOOK_RETRY_MS", "100,200"),
    ])
    .await
}

/// Requests one payout and answers its item.
async fn request(sb: &Sandbox, key: &str, item: Value) -> Value {
    let (status, _, body) = sb.send(sb.payouts(key, &json!([item]))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entityType"], "payout", "{body}");
    body["entityBody"]["items"][0].clone()
}

fn is_ref(r: &str) -> impl Fn(&Value) -> bool + '_ {
    move |data: &Value| data["refPayoutId"] == r
}

#[tokio::test]
async fn a_payout_completes_with_a_signed_webhook() {
    let receiver = Receiver::start().await;
    let sb = sandbox(&receiver, "200").await;
    let r = ref_id();
    let payout = request(&sb, "key-1", item(&r, 2700)).await;
    assert_eq!(payout["status"], "REQUESTED");
    assert_eq!(payout["error"], Value::Null);
    assert_eq!(payout["amount"], json!({"currency": "KRW", "value": 2700}));
    assert_eq!(payout["metadata"], json!({"walletNo": "7001"}));
    let id = payout["id"].as_str().expect("id");
    assert!(id.starts_with("FPA_"), "{id}");

    let hooks = receiver.wait_for("payout.changed", 1, 10, is_ref(&r)).await;
    assert_eq!(hooks.len(), 1, "{:?}", receiver.received());
    let hook = &hooks[0];
    assert_eq!(hook.json["data"]["status"], "COMPLETED");
    assert_eq!(hook.json["data"]["id"], id);
    let time = &hook.headers[TRANSMISSION_TIME];
    let signature = &hook.headers[SIGNATURE];
    assert!(time.ends_with("+09:00"), "{time}");
    assert!(verify(SECRET, &hook.body, time, signature), "{signature}");
    assert!(!verify("another_key", &hook.body, time, signature));

    // Recomputed independently of the sandbox's code: HMAC-SHA256 over "{body}:{time}".
    use base64::Engine;
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(format!("{}:{time}", hook.body).as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(signature, &format!("v1:{expected}"));

    let (status, one) = sb.toss_get(&format!("/v2/payouts/{id}")).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["entityBody"]["status"], "COMPLETED");
    let (_, by_ref) = sb.toss_get(&format!("/v2/payouts?refPayoutId={r}")).await;
    assert_eq!(by_ref["entityBody"]["items"][0]["id"], id);
    let (status, missing) = sb.toss_get("/v2/payouts/FPA_nope").await;
    assert_eq!(
        (status, missing["code"].as_str()),
        (404, Some("NOT_FOUND_PAYOUT"))
    );
    let (_, none) = sb.toss_get("/v2/payouts?refPayoutId=never-used").await;
    assert_eq!(none["entityBody"]["items"], json!([]));
    sb.stop().await;
}

#[tokio::test]
async fn a_repeated_ref_payout_id_or_idempotency_key_answers_the_first_payout() {
    let receiver = Receiver::start().await;
    let sb = sandbox(&receiver, "60000").await;
    let r = ref_id();
    let first = request(&sb, "key-a", item(&r, 1000)).await;
    // Another key, same refPayoutId (even another amount): the existing payout.
    let again = request(&sb, "key-b", item(&r, 5000)).await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["amount"]["value"], 1000);
    // The same key answers its stored reply, whatever the body.
    let (status, _, replay) = sb
        .send(sb.payouts("key-a", &json!([item(&ref_id(), 9)])))
        .await;
    assert_eq!(status, 200);
    assert_eq!(replay["entityBody"]["items"][0]["id"], first["id"]);
    let (_, list) = sb.toss_get("/v2/payouts").await;
    assert_eq!(
        list["entityBody"]["items"].as_array().map(Vec::len),
        Some(1)
    );
    sb.stop().await;
}

#[tokio::test]
async fn a_fail_fault_makes_the_payout_fail_with_a_webhook() {
    let receiver = Receiver::start().await;
    let sb = sandbox(&receiver, "100").await;
    let r = ref_id();
    let fault = json!({"mode": "fail", "errorCode": "INVALID_BANK_ACCOUNT"});
    let (status, view) = sb
        .put_json(&format!("/sandbox/faults/payouts/{r}"), fault)
        .await;
    assert_eq!(status, 200, "{view}");
    let payout = request(&sb, "key-f", item(&r, 3000)).await;
    assert_eq!(payout["status"], "REQUESTED");
    let hooks = receiver.wait_for("payout.changed", 1, 10, is_ref(&r)).await;
    assert_eq!(hooks.len(), 1);
    let data = &hooks[0].json["data"];
    assert_eq!(data["status"], "FAILED");
    assert_eq!(data["error"]["code"], "INVALID_BANK_ACCOUNT");
    assert!(data["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    let (_, one) = sb
        .toss_get(&format!(
            "/v2/payouts/{}",
            payout["id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(one["entityBody"]["status"], "FAILED");
    sb.stop().await;
}

#[tokio::test]
async fn error_and_timeout_faults() {
    let receiver = Receiver::start().await;
    let sb = sandbox(&receiver, "60000").await;
    let r = ref_id();
    sb.put_json(
        &format!("/sandbox/faults/payouts/{r}"),
        json!({"mode": "error"}),
    )
    .await;
    let (status, _, body) = sb.send(sb.payouts("key-e", &json!([item(&r, 1000)]))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (500, Some("FAILED_INTERNAL_SYSTEM_PROCESSING"))
    );
    let (_, none) = sb.toss_get(&format!("/v2/payouts?refPayoutId={r}")).await;
    assert_eq!(none["entityBody"]["items"], json!([]), "nothing created");

    // Timeout: created and stored, the answer held; a retry with the key gets it at once.
    let fault = json!({"mode": "timeout", "timeoutMs": 5000});
    sb.put_json(&format!("/sandbox/faults/payouts/{r}"), fault)
        .await;
    let timed_out = sb
        .payouts("key-t", &json!([item(&r, 1000)]))
        .timeout(std::time::Duration::from_millis(500))
        .send()
        .await;
    assert!(timed_out.is_err(), "the answer is held");
    let payout = request(&sb, "key-t", item(&r, 1000)).await;
    assert_eq!(payout["status"], "REQUESTED");
    sb.stop().await;
}

#[tokio::test]
async fn bad_requests_are_toss_errors() {
    let receiver = Receiver::start().await;
    let sb = sandbox(&receiver, "1000").await;
    let mut scheduled = item(&ref_id(), 1000);
    scheduled["scheduleType"] = json!("SCHEDULED");
    let mut krw = item(&ref_id(), 1000);
    krw["amount"]["currency"] = json!("USD");
    let mut fraction = item(&ref_id(), 1000);
    fraction["amount"]["value"] = json!(1.5);
    let r = ref_id();
    for (what, body) in [
        ("empty list", json!([])),
        ("not a list", item(&ref_id(), 1000)),
        ("zero amount", json!([item(&ref_id(), 0)])),
        ("fraction", json!([fraction])),
        ("SCHEDULED without a date", json!([scheduled])),
        ("not KRW", json!([krw])),
        ("duplicate refs", json!([item(&r, 1), item(&r, 2)])),
    ] {
        let (status, _, answer) = sb.send(sb.payouts("key-bad", &body)).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("INVALID_REQUEST")),
            "{what}: {answer}"
        );
    }
    let no_key = sb
        .client
        .post(sb.url("/v2/payouts"))
        .basic_auth(common::SECRET_KEY, None::<&str>)
        .json(&json!([item(&ref_id(), 1000)]));
    let (status, _, answer) = sb.send(no_key).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("INVALID_REQUEST")),
        "{answer}"
    );
    let wrong_auth = sb
        .client
        .post(sb.url("/v2/payouts"))
        .basic_auth("live_sk_nope", None::<&str>)
        .header("Idempotency-Key", "k")
        .json(&json!([item(&ref_id(), 1000)]));
    let (status, _, answer) = sb.send(wrong_auth).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (401, Some("UNAUTHORIZED_KEY"))
    );
    sb.stop().await;
}

#[tokio::test]
async fn a_restarted_sandbox_settles_a_requested_payout() {
    let receiver = Receiver::start().await;
    let sb = sandbox(&receiver, "1500").await;
    let r = ref_id();
    let payout = request(&sb, "key-r", item(&r, 4200)).await;
    let sb = sb.restart().await;
    let path = format!("/v2/payouts/{}", payout["id"].as_str().unwrap_or_default());
    let (_, now) = sb.toss_get(&path).await;
    assert_eq!(now["entityBody"]["status"], "REQUESTED", "not due yet");
    let done = sb
        .toss_get_until(&path, 10, |v| v["entityBody"]["status"] == "COMPLETED")
        .await;
    assert_eq!(done["entityBody"]["status"], "COMPLETED");
    let hooks = receiver.wait_for("payout.changed", 1, 10, is_ref(&r)).await;
    assert_eq!(hooks.len(), 1);
    sb.stop().await;
}
