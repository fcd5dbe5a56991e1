//! The OpenAPI documents under `openapi/`: each is exactly what its service serves at
//! `/openapi.json`, and every operation in them is documented well enough to call it from the
//! document alone.
//!
//! - `checked_in_specs_match_the_code` builds every document from the API types (no backends)
//!   and compares it with `openapi/<service>.json`; `just openapi` rewrites the files.
//! - `every_operation_is_documented` checks each operation: operationId, a one-line summary, a
//!   typed success response, problem+json errors when it takes input, and examples.
//! - `running_services_serve_the_checked_in_specs` starts the whole system and fetches every
//!   `/openapi.json`, so the exported document and the served one cannot drift apart.

use std::{collections::HashSet, fs};

use paymsa_e2e::{
    openapi::{all_specs, spec_dir, spec_file, stray_files},
    TestSystem,
};
use serde_json::Value;

const REGENERATE: &str = "run `just openapi` to regenerate the checked-in specs";

/// The longest summary Swagger UI shows on one line next to the path.
const MAX_SUMMARY_CHARS: usize = 80;

/// Why `checked_in` is not `served`: the first line that differs.
fn first_difference(checked_in: &str, served: &str) -> String {
    first_difference_of(("checked in", checked_in), ("served", served))
}

fn first_difference_of((a_name, a_text): (&str, &str), (b_name, b_text): (&str, &str)) -> String {
    let (mut a, mut b) = (a_text.lines(), b_text.lines());
    let mut line = 1;
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (x, y) => {
                let width = a_name.len().max(b_name.len()) + 1;
                return format!(
                    "first difference at line {line}:\n      {:width$} {}\n      {:width$} {}",
                    format!("{a_name}:"),
                    x.unwrap_or("<end of file>").trim(),
                    format!("{b_name}:"),
                    y.unwrap_or("<end of file>").trim()
                );
            }
        }
    }
}

#[test]
fn checked_in_specs_match_the_code() {
    let dir = spec_dir();
    let mut stale = Vec::new();
    for (service, build) in all_specs() {
        let path = spec_file(&dir, service);
        let served = build();
        match fs::read_to_string(&path) {
            Ok(checked_in) if checked_in == served => {}
            Ok(checked_in) => stale.push(format!(
                "{service}: openapi/{service}.json differs from the spec the service serves, {}",
                first_difference(&checked_in, &served)
            )),
            Err(e) => stale.push(format!(
                "{service}: openapi/{service}.json cannot be read ({e})"
            )),
        }
    }
    for path in stray_files(&dir).expect("openapi/ is readable") {
        stale.push(format!(
            "{} belongs to no service",
            path.strip_prefix(dir.parent().unwrap_or(&dir))
                .unwrap_or(&path)
                .display()
        ));
    }
    assert!(
        stale.is_empty(),
        "the checked-in OpenAPI specs are out of date:\n  {}\n{REGENERATE}",
        stale.join("\n  ")
    );
}

/// `#/components/schemas/<name>` of a `$ref`.
fn ref_name(schema: &Value) -> Option<&str> {
    schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
}

/// The named schema a body schema stands for: a `$ref`, an array of `$ref`, or a single
/// `allOf` around a `$ref` (how the problem responses carry their per-status example).
fn named_schema(schema: &Value) -> Option<&str> {
    ref_name(schema)
        .or_else(|| (schema["type"] == "array").then(|| ref_name(&schema["items"]))?)
        .or_else(|| match schema["allOf"].as_array().map(Vec::as_slice) {
            Some([inner]) => ref_name(inner),
            _ => None,
        })
}

/// Problems with one JSON body schema: it must be a named (typed) schema with an example.
fn check_json_body(doc: &Value, schema: &Value, what: &str, problems: &mut Vec<String>) {
    let Some(name) = named_schema(schema) else {
        problems.push(format!("{what} is not a named schema: {schema}"));
        return;
    };
    let component = &doc["components"]["schemas"][name];
    if component.is_null() {
        problems.push(format!("{what} refers to the missing schema {name}"));
    } else if component.get("example").is_none() && schema.get("example").is_none() {
        problems.push(format!("{what} ({name}) has no example"));
    }
}

/// The Toss-compatible operations of psp-sandbox answer Toss's `{code, message}` JSON, not
/// problem+json: clients are written against Toss (docs/architecture.md §3).
fn answers_toss_errors(service: &str, path: &str) -> bool {
    // Toss's own APIs (v1 payments, v2 payouts) answer Toss's {code, message}, as Toss does.
    service == "psp-sandbox" && (path.starts_with("/v1/") || path.starts_with("/v2/"))
}

/// Everything missing from one operation's documentation.
fn operation_problems(
    service: &str,
    doc: &Value,
    path: &str,
    method: &str,
    op: &Value,
) -> Vec<String> {
    let mut problems = Vec::new();
    match op["summary"].as_str() {
        None | Some("") => problems.push("no summary".into()),
        Some(s) if s.contains('\n') || s.chars().count() > MAX_SUMMARY_CHARS => {
            problems.push(format!(
                "the summary is not one line of at most {MAX_SUMMARY_CHARS} characters (put \
                 details after a blank line of the doc comment): {s:?}"
            ))
        }
        Some(_) => {}
    }
    if op["operationId"].as_str().is_none_or(str::is_empty) {
        problems.push("no operationId".into());
    }
    let responses = op["responses"].as_object().cloned().unwrap_or_default();

    // Success: a typed body, or explicitly none (204, or a redirect with its Location).
    let mut successes = 0;
    for (status, response) in &responses {
        let content = response["content"].as_object();
        if status == "204" {
            successes += 1;
            if content.is_some_and(|c| !c.is_empty()) {
                problems.push("204 declares a body".into());
            }
        } else if status.starts_with('3') {
            successes += 1;
            let headers = response["headers"].as_object();
            if !headers.is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("location"))) {
                problems.push(format!("{status} redirect without a Location header"));
            }
        } else if status.starts_with('2') {
            successes += 1;
            let Some(content) = content.filter(|c| !c.is_empty()) else {
                problems.push(format!(
                    "{status} has no body schema (use 204 for no content)"
                ));
                continue;
            };
            for (media, body) in content {
                let what = format!("{status} {media} body");
                if media.contains("json") {
                    check_json_body(doc, &body["schema"], &what, &mut problems);
                } else if body["schema"]["type"] != "string" {
                    problems.push(format!("{what} has no string schema"));
                }
            }
        }
    }
    if successes == 0 {
        problems.push("no success (2xx or redirect) response".into());
    }

    // Errors: an operation that takes input says how it refuses bad input.
    let takes_input = op["parameters"].as_array().is_some_and(|p| !p.is_empty())
        || op.get("requestBody").is_some()
        || op["security"].as_array().is_some_and(|s| !s.is_empty());
    let client_errors: Vec<_> = responses
        .iter()
        .filter(|(status, _)| status.starts_with('4'))
        .collect();
    if answers_toss_errors(service, path) {
        let toss = client_errors.iter().any(|(_, r)| {
            r["content"].as_object().is_some_and(|content| {
                content.iter().any(|(media, body)| {
                    media.starts_with("application/json")
                        && named_schema(&body["schema"]) == Some("TossError")
                })
            })
        });
        if !toss {
            problems.push("no 4xx response with Toss's error object".into());
        }
    } else {
        let mut problem_json = 0;
        for (status, response) in &client_errors {
            let schema = &response["content"]["application/problem+json"]["schema"];
            if schema.is_null() {
                problems.push(format!("{status} is not application/problem+json"));
                continue;
            }
            problem_json += 1;
            check_json_body(doc, schema, &format!("{status} problem"), &mut problems);
            if named_schema(schema) != Some("Problem") {
                problems.push(format!("{status} problem+json is not the Problem schema"));
            }
        }
        if takes_input && problem_json == 0 {
            problems.push("takes input but declares no 4xx application/problem+json".into());
        }
    }

    // Request bodies: typed, with an example.
    if let Some(content) = op["requestBody"]["content"].as_object() {
        for (media, body) in content {
            check_json_body(
                doc,
                &body["schema"],
                &format!("request body {media}"),
                &mut problems,
            );
        }
    }
    problems
        .into_iter()
        .map(|p| format!("{service} {} {path}: {p}", method.to_uppercase()))
        .collect()
}

#[test]
fn every_operation_is_documented() {
    let mut problems = Vec::new();
    let mut operations = 0;
    for (service, build) in all_specs() {
        let doc: Value = serde_json::from_str(&build()).expect("the spec is JSON");
        let mut ids = HashSet::new();
        let paths = doc["paths"].as_object().expect("the spec has paths");
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("a path item is an object") {
                operations += 1;
                problems.extend(operation_problems(service, &doc, path, method, op));
                if let Some(id) = op["operationId"].as_str() {
                    if !ids.insert(id.to_string()) {
                        problems.push(format!("{service}: operationId {id} is used twice"));
                    }
                }
            }
        }
        // The kit's own operations are part of every service's document.
        for ops_path in ["/health/live", "/health/ready", "/metrics"] {
            if paths.get(ops_path).is_none() {
                problems.push(format!("{service}: {ops_path} is not documented"));
            }
        }
    }
    assert!(operations > 50, "only {operations} operations found");
    assert!(
        problems.is_empty(),
        "{} undocumented details:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// The checks themselves: an operation with none of the required details is reported for
/// each of them.
#[test]
fn the_checks_report_an_undocumented_operation() {
    let doc = serde_json::json!({
        "paths": {"/api/things/{thingNo}": {"get": {
            "summary": "A thing.\nWith a second line.",
            "parameters": [{"name": "thingNo", "in": "path", "schema": {"type": "string"}}],
            "responses": {
                "200": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "404": {"content": {"text/plain": {"schema": {"type": "string"}}}}
            }
        }}},
        "components": {"schemas": {}}
    });
    let op = &doc["paths"]["/api/things/{thingNo}"]["get"];
    let problems = operation_problems("x-service", &doc, "/api/things/{thingNo}", "get", op);
    let expected = [
        "the summary is not one line",
        "no operationId",
        "200 application/json body is not a named schema",
        "404 is not application/problem+json",
        "takes input but declares no 4xx application/problem+json",
    ];
    for text in expected {
        assert!(
            problems.iter().any(|p| p.contains(text)),
            "{text:?} not reported: {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
}

/// The seed's calls carry the seed's own examples.
#[test]
fn the_seed_examples_are_in_the_specs() {
    let doc = |service: &str| -> Value {
        let (_, build) = all_specs()
            .into_iter()
            .find(|(s, _)| *s == service)
            .expect("a known service");
        serde_json::from_str(&build()).expect("the spec is JSON")
    };
    let reviews = doc("catalog-review-service");
    assert_eq!(
        reviews["components"]["schemas"]["CreateReview"]["example"],
        serde_json::json!({
            "productNo": "23423958235",
            "memberNo": "2342352652",
            "title": "타이블11",
            "content": "내용22",
            "starRatingType": "FIVE"
        })
    );
    let catalog = doc("catalog-service");
    let list = &catalog["paths"]["/api/products"]["get"]["parameters"][0];
    assert_eq!(list["name"], "productNoList");
    assert_eq!(list["schema"]["example"], "1,2,3");
}

#[tokio::test]
async fn running_services_serve_the_checked_in_specs() {
    let system = TestSystem::start().await;
    let dir = spec_dir();
    let mut differing = Vec::new();
    for (service, build) in all_specs() {
        let served = system
            .http
            .get(format!("{}/openapi.json", system.url(service)))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("{service} /openapi.json: {e}"));
        let served = served.text().await.expect("a spec body");
        if served != build() {
            differing.push(format!(
                "{service}: /openapi.json differs from {service}'s openapi_spec() — App::serve \
                 and service_kit::openapi::spec_json must build the document the same way, {}",
                first_difference_of(("openapi_spec()", &build()), ("served", &served))
            ));
        }
        let checked_in = fs::read_to_string(spec_file(&dir, service)).unwrap_or_default();
        if served != checked_in {
            differing.push(format!(
                "{service}: /openapi.json differs from openapi/{service}.json, {}\n{REGENERATE}",
                first_difference(&checked_in, &served)
            ));
        }
    }
    system.stop().await;
    assert!(differing.is_empty(), "{}", differing.join("\n"));
}
