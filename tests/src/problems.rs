//! Checks of `application/problem+json` error answers.

use serde_json::Value;

use crate::http::Answer;

/// Checks an error answer: `status`, `application/problem+json`, the body's `status` and, when
/// given, its `code`.
pub fn assert_problem(answer: &Answer, status: u16, code: Option<&str>) {
    let Answer {
        status: actual,
        content_type,
        body,
    } = answer;
    assert_eq!(*actual, status, "status; body {body}");
    assert!(body.is_object(), "problem body is JSON: {body}");
    assert!(
        content_type.starts_with("application/problem+json"),
        "content-type {content_type:?} for {body}"
    );
    assert_eq!(body["status"], status, "{body}");
    if let Some(code) = code {
        assert_eq!(body["code"], code, "{body}");
    }
}

/// [`assert_problem`] on a response not read yet; answers the problem body.
pub async fn expect_problem(resp: reqwest::Response, status: u16, code: Option<&str>) -> Value {
    let answer = Answer::read(resp).await;
    assert_problem(&answer, status, code);
    answer.body
}

/// The fields named in a validation problem's `errors`, in order.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
