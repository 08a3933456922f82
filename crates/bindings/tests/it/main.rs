//! Integration tests of the bindings against a real anvil: deploy through the bindings and take jobs through
//! their whole lifecycle.

mod fees;
mod harness;
mod lag;
mod lifecycle;
