//! Which operations the service's OpenAPI document declares, by path template: the methods a
//! path takes (the `Allow` header a 405 must carry, RFC 9110 §15.5.6; poem's router answers
//! 405 without it) and which of them require a token (jwt mode, docs/identity.md).

use std::sync::Arc;

use poem::http::Method;

/// The schemes of libs/service-kit/src/auth.rs and admin.rs. Another scheme (the PSP
/// sandbox's secret key) answers a missing credential in its own format.
const OUR_SCHEMES: [&str; 2] = ["Identity", "AdminBearer"];

/// The methods each path of the OpenAPI document takes, for the `Allow` header a 405 must
/// carry (RFC 9110 §15.5.6). Poem's router answers 405 without it.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowIndex(Arc<Vec<Route>>);

#[derive(Debug)]
struct Route {
    segments: Vec<Segment>,
    /// `GET, PATCH`, for the `Allow` header.
    methods: String,
    /// Methods whose operation requires a token (a security requirement without the empty
    /// alternative: only in the jwt-mode document, see openapi::require_security).
    guarded: Vec<String>,
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Param,
}

impl AllowIndex {
    /// From a document's `paths` (`/api/products/{productNo}` → `GET, PATCH`).
    pub(crate) fn from_spec(spec: &str) -> Self {
        const METHODS: [&str; 7] = ["get", "head", "post", "put", "patch", "delete", "options"];
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut entries = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (path, ops) in paths {
                let methods: Vec<String> = METHODS
                    .iter()
                    .filter(|m| ops.get(**m).is_some())
                    .map(|m| m.to_uppercase())
                    .collect();
                let guarded = METHODS
                    .iter()
                    .filter(|m| {
                        ops[**m]["security"].as_array().is_some_and(|alternatives| {
                            !alternatives.is_empty()
                                && alternatives.iter().all(|a| {
                                    a.as_object().is_some_and(|o| {
                                        !o.is_empty()
                                            && o.keys().all(|k| OUR_SCHEMES.contains(&k.as_str()))
                                    })
                                })
                        })
                    })
                    .map(|m| m.to_uppercase())
                    .collect();
                if methods.is_empty() {
                    continue;
                }
                let segments = path
                    .split('/')
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            Segment::Param
                        } else {
                            Segment::Literal(s.to_string())
                        }
                    })
                    .collect();
                entries.push(Route {
                    segments,
                    methods: methods.join(", "),
                    guarded,
                });
            }
        }
        Self(Arc::new(entries))
    }

    /// The route of a request path: the template that matches it with the most literal
    /// segments (`/a/b` before `/a/{x}`).
    fn route(&self, path: &str) -> Option<&Route> {
        let parts: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .filter(|r| {
                r.segments.len() == parts.len()
                    && r.segments.iter().zip(&parts).all(|(s, p)| match s {
                        Segment::Literal(l) => l == p,
                        Segment::Param => !p.is_empty(),
                    })
            })
            .max_by_key(|r| {
                r.segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count()
            })
    }

    /// The `Allow` value for a request path.
    pub(crate) fn methods(&self, path: &str) -> Option<&str> {
        self.route(path).map(|r| r.methods.as_str())
    }

    /// Whether the operation at `method path` refuses a request without a token.
    pub(crate) fn requires_token(&self, method: &Method, path: &str) -> bool {
        self.route(path)
            .is_some_and(|r| r.guarded.iter().any(|m| m == method.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_operations_whose_every_alternative_names_a_scheme_require_a_token() {
        let spec = r#"{"paths":{
            "/api/orders/{id}":{"get":{"security":[{"Identity":[]}]},
                                "post":{"security":[{"Identity":[]},{}]}},
            "/api/orders/mine":{"get":{}},
            "/v1/payments":{"post":{"security":[{"SecretKey":[]}]}}}}"#;
        let index = AllowIndex::from_spec(spec);
        assert!(index.requires_token(&Method::GET, "/api/orders/7"));
        assert!(!index.requires_token(&Method::POST, "/api/orders/7"));
        // the literal template wins over the parameter one
        assert!(!index.requires_token(&Method::GET, "/api/orders/mine"));
        assert!(!index.requires_token(&Method::GET, "/elsewhere"));
        // another service's own scheme answers for itself
        assert!(!index.requires_token(&Method::POST, "/v1/payments"));
        assert_eq!(index.methods("/api/orders/7"), Some("GET, POST"));
    }
}
