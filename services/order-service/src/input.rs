//! Checks of client input that the API schema cannot express, shared by the API and the
//! pages (pages/payment.rs).

use service_kit::ApiError;

/// Toss's alphabet for keys and order ids: ASCII letters, digits, `-` and `_`, within
/// `lengths`. Checked before the order is touched, for the API and the success page alike
/// (pages/payment.rs builds a `ConfirmRequest` from the query, past the schema's checks):
/// a control character in the key only failed when the PSP call put it in a header, after
/// the order had moved to EXECUTING with the key bound, and the order then sat UNKNOWN until
/// recovery released it — a way to hold anyone's order whose amount one knows.
pub fn check_toss_id(
    field: &str,
    value: &str,
    lengths: std::ops::RangeInclusive<usize>,
) -> Result<(), ApiError> {
    let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if lengths.contains(&value.len()) && value.chars().all(alphabet) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "INVALID_REQUEST",
        format!(
            "{field} must be {}–{} characters of A–Z, a–z, 0–9, - and _",
            lengths.start(),
            lengths.end()
        ),
    ))
}
