//! `POST /api/sellers` and `GET /api/sellers/{sellerNo}`.

use chrono::{DateTime, Utc};
use events::{Envelope, SellerRegistered};
use outbox::Outbox;
use poem::Request;
use poem_openapi::{
    param::{Header, Path},
    payload::Json,
    ApiResponse, Object, OpenApi, Tags,
};
use service_kit::{
    auth::{self, Identity},
    error::{from_db_error, ConstraintRule},
    strict::json_string,
    ApiError, FieldError, Id,
};
use snowflake::Snowflake;
use sqlx::PgPool;
use std::sync::Arc;

use crate::{
    status::SellerStatus,
    store::{self, SellerRow},
};

#[derive(Tags)]
enum SellerTag {
    /// Seller registration and onboarding status.
    Sellers,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct RegisterSeller {
    /// The seller's public handle, unique, 1–100 characters.
    #[oai(deserialize_with = "json_string")]
    pub seller_id: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Seller {
    pub seller_no: Id,
    pub seller_id: String,
    /// `PENDING` until the seller's wallet exists, then `ACTIVE`.
    pub status: SellerStatus,
    #[oai(skip_serializing_if_is_none)]
    pub wallet_no: Option<Id>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SellerRow> for Seller {
    fn from(row: SellerRow) -> Self {
        Self {
            seller_no: Id(row.seller_no),
            seller_id: row.seller_id,
            status: row.status,
            wallet_no: row.wallet_no.map(Id),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(ApiResponse)]
enum Registered {
    /// Registered; onboarding (wallet creation) finishes asynchronously.
    #[oai(status = 201)]
    Created(Json<Seller>),
    /// The same `Idempotency-Key` and `sellerId` registered this seller before: answered
    /// again, nothing new registered.
    #[oai(status = 200)]
    Repeated(Json<Seller>),
}

const CONSTRAINTS: &[ConstraintRule] = &[
    ConstraintRule {
        constraint: "sellers_seller_id_key",
        status: 409,
        code: "SELLER_ID_TAKEN",
        detail: "a seller with this sellerId already exists",
    },
    ConstraintRule {
        constraint: "sellers_registration_key_key",
        status: 422,
        code: "IDEMPOTENCY_KEY_REUSED",
        detail: "this Idempotency-Key registered another seller",
    },
    ConstraintRule {
        constraint: "sellers_seller_id_check",
        status: 400,
        code: "VALIDATION_FAILED",
        detail: "sellerId must be 1-100 characters",
    },
];

pub struct SellerApi {
    pub pool: PgPool,
    pub ids: Arc<Snowflake>,
    pub outbox: Outbox,
}

fn validate(body: &RegisterSeller) -> Result<String, ApiError> {
    let seller_id = body.seller_id.trim();
    let len = seller_id.chars().count();
    if len == 0 || len > 100 {
        return Err(ApiError::validation(vec![FieldError {
            field: "sellerId".into(),
            message: "must be 1-100 characters (surrounding spaces are ignored)".into(),
        }]));
    }
    // Control characters (NUL included: Postgres text cannot hold it) and invisible format
    // characters (zero-width, bidi overrides) would make handles that look like another
    // seller's: "shop" and "sh\u{200b}op" print alike.
    if seller_id
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Err(ApiError::validation(vec![FieldError {
            field: "sellerId".into(),
            message: "must not contain control, zero-width or bidi characters".into(),
        }]));
    }
    Ok(seller_id.to_string())
}

/// Characters that print as nothing, which a handle has no use for: the format characters
/// (soft hyphen, zero-width spaces and joiners, bidi marks, embeddings, overrides and
/// isolates, word joiners, invisible operators, the byte-order mark, interlinear annotation,
/// tags) and the other default-ignorable ones (the combining grapheme joiner, variation
/// selectors, and the Hangul fillers — a handle of "ㅤ" would look empty on a Korean page).
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

#[OpenApi(tag = "SellerTag::Sellers")]
impl SellerApi {
    /// Register a seller.
    ///
    /// Answers 201 with status PENDING at once; the seller becomes ACTIVE when wallet-service
    /// has created its wallet.
    #[oai(
        path = "/api/sellers",
        method = "post",
        operation_id = "register_seller"
    )]
    async fn register_seller(
        &self,
        req: &Request,
        body: Json<RegisterSeller>,
        /// Optional, random per registration; the same key with the same `sellerId` answers
        /// the seller it registered (200), with another `sellerId` 422 `IDEMPOTENCY_KEY_REUSED`.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Registered, ApiError> {
        // Open to anyone (docs/identity.md), so counted per client address: each registration
        // writes three rows and three events.
        auth::limit_writes(&Identity::anonymous(req), None)?;
        let seller_id = validate(&body.0)?;
        let key = service_kit::idempotency::checked_key(idempotency_key.0.as_deref())?;
        let seller_no = self
            .ids
            .next_id()
            .map_err(|e| ApiError::internal_error(&e))?;
        let mut tx = self.outbox.begin(&self.pool).await?;
        let row = match store::insert_seller(&mut tx, seller_no, &seller_id, key).await {
            Ok(row) => row,
            Err(e) => {
                drop(tx);
                // A repeat of a registration made with this key (sooner or at the same time:
                // its sellerId or its key is taken by then) is answered that seller.
                if let Some(key) = key {
                    let mut conn = self.pool.acquire().await?;
                    if let Some(earlier) = store::find_by_registration_key(&mut conn, key).await? {
                        return match earlier.seller_id == seller_id {
                            true => Ok(Registered::Repeated(Json(earlier.into()))),
                            false => Err(ApiError::unprocessable(
                                "IDEMPOTENCY_KEY_REUSED",
                                "this Idempotency-Key registered another sellerId",
                            )),
                        };
                    }
                }
                return Err(from_db_error(e, CONSTRAINTS));
            }
        };
        let event = Envelope::new(SellerRegistered {
            seller_no,
            seller_id: row.seller_id.clone(),
        });
        self.outbox
            .append(&mut tx, seller_no, &event, &[])
            .await
            .map_err(ApiError::from)?;
        tx.commit().await?;
        Ok(Registered::Created(Json(row.into())))
    }

    /// A seller and its onboarding status.
    #[oai(
        path = "/api/sellers/:sellerNo",
        method = "get",
        operation_id = "get_seller"
    )]
    async fn get_seller(
        &self,
        #[oai(name = "sellerNo")] seller_no: Path<Id>,
    ) -> Result<Json<Seller>, ApiError> {
        let mut conn = self.pool.acquire().await?;
        match store::find_seller(&mut conn, seller_no.0 .0).await? {
            Some(row) => Ok(Json(row.into())),
            None => Err(ApiError::not_found(
                "SELLER_NOT_FOUND",
                format!("no seller {}", seller_no.0),
            )),
        }
    }
}
