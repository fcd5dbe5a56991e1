//! A service's OpenAPI document, built one way whether it is served at `/openapi.json` or
//! exported to `openapi/<service>.json` (`just openapi`).
//!
//! poem-openapi derives the document from the API *types* alone ([`OpenApi::meta`] and
//! [`OpenApi::register`] take no `self`), so [`spec_json`] needs no database, broker or running
//! server: it describes `(A, OpsApi)` exactly as [`crate::App::serve`] does for a value of `A`.
//! Both go through [`service`] (same title, version, description) and [`canonical_json`]
//! (pretty, keys sorted), so the served text and the exported file are byte-for-byte equal.

use std::{collections::HashMap, marker::PhantomData};

use poem::{endpoint::BoxEndpoint, http::Method};
use poem_openapi::{registry::Registry, types::ParseFromJSON, OpenApi, OpenApiService};

use crate::health::OpsApi;

/// The version every service's document carries (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The OpenAPI service for `api`, titled with the service name.
pub fn service<T: OpenApi>(api: T, name: &str, description: &str) -> OpenApiService<T, ()> {
    OpenApiService::new(api, name, VERSION).description(description)
}

/// The document a service serving `A` (plus the kit's health and metrics operations) answers
/// at `/openapi.json`, as canonical JSON. `name` is the service name ([`crate::ServiceSpec`]),
/// `description` the one the service passes to [`crate::App::serve`].
pub fn spec_json<A: OpenApi>(name: &str, description: &str) -> String {
    let spec = service(TypeOnly::<(A, OpsApi)>(PhantomData), name, description).spec();
    canonical_json(&spec)
}

/// A schema example written as the JSON clients send or receive, parsed with the type's own
/// parser so it cannot drift from the wire format. For `impl poem_openapi::types::Example`:
///
/// ```ignore
/// impl Example for RegisterSeller {
///     fn example() -> Self {
///         service_kit::openapi::example(json!({"sellerId": "seoul-coffee"}))
///     }
/// }
/// ```
///
/// # Panics
/// If the JSON is not a valid `T`, naming the type: building the document (the `openapi_specs`
/// test, and every service's start) fails rather than publish a wrong example.
pub fn example<T: ParseFromJSON>(json: serde_json::Value) -> T {
    T::parse_from_json(Some(json)).unwrap_or_else(|e| {
        panic!(
            "the OpenAPI example of {} does not parse: {}",
            T::name(),
            e.into_message()
        )
    })
}

/// Re-serializes a JSON document pretty-printed with every object's keys sorted and a final
/// newline, so equal documents are equal text and diffs stay small.
///
/// # Panics
/// If `json` is not JSON (poem-openapi's output always is).
pub fn canonical_json(json: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(json).expect("an OpenAPI document is JSON");
    let mut text = serde_json::to_string_pretty(&sorted(value)).expect("JSON serializes");
    text.push('\n');
    text
}

/// The document as a jwt-mode service serves it: an operation guarded by a security scheme
/// lists it without the empty alternative (`{}`) that open mode needs, since there a missing
/// token is refused (docs/identity.md). Clients and fuzzers (schemathesis' `ignored_auth`)
/// then know that the operation requires a token. Canonical JSON in, canonical JSON out.
pub fn require_security(json: &str) -> String {
    use serde_json::Value;
    let Ok(mut doc) = serde_json::from_str::<Value>(json) else {
        return json.to_string();
    };
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for op in operation.values_mut() {
                if let Some(Value::Array(security)) = op.get_mut("security") {
                    let guarded = security
                        .iter()
                        .any(|r| r.as_object().is_some_and(|m| !m.is_empty()));
                    if guarded {
                        security.retain(|r| r.as_object().is_some_and(|m| !m.is_empty()));
                    }
                }
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| json.to_string());
    text.push('\n');
    text
}

fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Stands for an API type when only its document is wanted: it has the type's metadata and
/// schemas but no routes, so no value (and no connection pool) is needed.
struct TypeOnly<A>(PhantomData<A>);

impl<A: OpenApi> OpenApi for TypeOnly<A> {
    fn meta() -> Vec<poem_openapi::registry::MetaApi> {
        A::meta()
    }

    fn register(registry: &mut Registry) {
        A::register(registry)
    }

    fn add_routes(self, _: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level_and_keeps_array_order() {
        let text = canonical_json(r#"{"b":1,"a":{"d":[3,1],"c":null}}"#);
        assert_eq!(
            text,
            "{\n  \"a\": {\n    \"c\": null,\n    \"d\": [\n      3,\n      1\n    ]\n  },\n  \"b\": 1\n}\n"
        );
    }

    #[test]
    fn jwt_mode_documents_guarded_operations_without_the_anonymous_alternative() {
        let open = canonical_json(
            r#"{"paths":{"/a":{"post":{"security":[{"Identity":[]},{}]}},
                "/b":{"get":{"security":[{}]}},"/c":{"get":{}}}}"#,
        );
        let jwt: serde_json::Value = serde_json::from_str(&require_security(&open)).unwrap();
        assert_eq!(
            jwt["paths"]["/a"]["post"]["security"],
            serde_json::json!([{"Identity": []}])
        );
        assert_eq!(
            jwt["paths"]["/b"]["get"]["security"],
            serde_json::json!([{}])
        );
        assert!(jwt["paths"]["/c"]["get"].get("security").is_none());
    }

    #[test]
    fn the_ops_operations_are_in_every_document() {
        struct NoApi;
        #[poem_openapi::OpenApi]
        impl NoApi {}
        let doc: serde_json::Value =
            serde_json::from_str(&spec_json::<NoApi>("x-service", "A test.")).unwrap();
        assert_eq!(doc["info"]["title"], "x-service");
        assert_eq!(doc["info"]["version"], VERSION);
        for path in ["/health/live", "/health/ready", "/metrics"] {
            assert!(doc["paths"][path]["get"].is_object(), "{path} missing");
        }
    }
}
