//! What `POST`/`PATCH /api/products` and the product list accept, checked before anything is
//! written (api.rs): names, descriptions, prices in whole won, the one currency, id lists.

use rust_decimal::Decimal;
use service_kit::{error::ConstraintRule, ApiError, FieldError, Id};

pub(crate) fn check_fields(
    name: Option<&str>,
    description: Option<&str>,
    price: Option<Decimal>,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: &str| {
        errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        })
    };
    // Postgres text cannot hold NUL; left to the insert it would fail as a 500.
    if let Some(name) = name {
        let len = name.trim().chars().count();
        if len == 0 || len > 200 {
            fail("name", "must be 1-200 characters");
        } else if name.contains('\0') {
            fail("name", "must not contain NUL characters");
        }
    }
    if let Some(description) = description {
        if description.chars().count() > 2000 {
            fail("description", "must be at most 2000 characters");
        } else if description.contains('\0') {
            fail("description", "must not contain NUL characters");
        }
    }
    if let Some(price) = price {
        if price <= Decimal::ZERO {
            fail("price", "must be greater than 0");
        } else if price.normalize().scale() > 0 {
            fail("price", "must be whole won (KRW has no minor unit)");
        } else if price >= Decimal::from(1_000_000_000_000_i64) {
            fail("price", "must be below 10^12");
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// A product stored before prices had to be whole won keeps its fractional price until a
/// change sets a whole one (migrations/catalog-service/20261224000001_whole_won_prices.sql).
pub(crate) const UPDATE_CONSTRAINTS: &[ConstraintRule] = &[ConstraintRule {
    constraint: "products_price_whole_won_check",
    status: 422,
    code: "PRICE_NOT_WHOLE_WON",
    detail: "the stored price has a fraction of a won; send a whole-won price with this change",
}];

/// The one currency prices are in; a product in another would be a price the PSP charges
/// in KRW all the same.
pub const CURRENCY: &str = "KRW";

pub(crate) fn check_currency(currency: Option<&str>) -> Result<(), ApiError> {
    match currency {
        None => Ok(()),
        Some(c) if c == CURRENCY => Ok(()),
        Some(_) => Err(ApiError::validation(vec![FieldError {
            field: "currency".into(),
            message: format!("must be {CURRENCY} (the only currency for now)"),
        }])),
    }
}

pub(crate) fn parse_product_list(raw: &str) -> Result<Vec<i64>, ApiError> {
    let ids: Result<Vec<Id>, String> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        // `productNoList` is free text (`1, 2,3`); each id in it is then exact (id.rs).
        .map(str::parse)
        .collect();
    let ids = ids.map_err(|e| ApiError::bad_request("INVALID_PRODUCT_NO_LIST", e))?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::bad_request(
            "INVALID_PRODUCT_NO_LIST",
            "productNoList needs 1-100 comma-separated product numbers",
        ));
    }
    Ok(ids.into_iter().map(|id| id.0).collect())
}
