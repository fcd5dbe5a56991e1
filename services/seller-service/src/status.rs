//! A seller's onboarding status.

/// Stored as text (`sellers_status_check` lists the same values); a value the enum does not
/// know fails the row's decoding. The API answers it as a string enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, poem_openapi::Enum)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SellerStatus {
    /// Registered; the wallet does not exist yet.
    Pending,
    /// The wallet exists: the seller can list products and be paid.
    Active,
}
