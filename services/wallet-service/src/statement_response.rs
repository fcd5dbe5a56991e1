//! The statement's answer: one 200 with two media types, `application/json` (the
//! [`Statement`] object) and `text/csv`, chosen by the request's `Accept` header.
//! poem-openapi's derive gives each response variant its own status, so this one is written
//! out by hand.

use poem::{IntoResponse, Response};
use poem_openapi::{
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry},
    types::{ToJSON, Type},
    ApiResponse,
};

use crate::ledger_api::Statement;

pub enum StatementResponse {
    Json(Statement),
    Csv(String),
}

const JSON: &str = "application/json; charset=utf-8";
const CSV: &str = "text/csv; charset=utf-8";

impl IntoResponse for StatementResponse {
    fn into_response(self) -> Response {
        match self {
            Self::Json(s) => Response::builder()
                .content_type(JSON)
                .body(s.to_json_string()),
            Self::Csv(body) => Response::builder()
                .content_type(CSV)
                .header(
                    "content-disposition",
                    "attachment; filename=\"statement.csv\"",
                )
                .body(body),
        }
    }
}

impl ApiResponse for StatementResponse {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The statement: JSON, or CSV for `Accept: text/csv`.",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType {
                        content_type: JSON,
                        schema: Statement::schema_ref(),
                    },
                    MetaMediaType {
                        content_type: CSV,
                        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
                    },
                ],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        Statement::register(registry);
    }
}
