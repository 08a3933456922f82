//! End-to-end tests of the whole network live in `e2e/`; this crate has no library code.
