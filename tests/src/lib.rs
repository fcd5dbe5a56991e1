//! End-to-end tests of the whole paymsa system live in `tests/tests/`.
