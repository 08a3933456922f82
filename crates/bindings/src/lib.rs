//! Typed bindings for the Tessera contracts and the encodings that the contracts, the renderer, the workers
//! and the verifiers must agree on.
//!
//! Data flows through the modules in this order: [`deployment`] finds the deployed contracts (the file the
//! deploy script writes), [`contracts`] calls them and decodes their events through alloy `sol!` bindings
//! generated from the committed forge artifacts, [`cells`] computes the cell leaves and Merkle root a worker
//! commits, and [`committee`] holds the drawn-committee protocol's off-chain rules (the cells a draw samples,
//! the render proof, the vote commitment). [`types`] gives the contract's enums, which the ABI carries as plain
//! `uint8`, [`errors`] its custom errors in words, and [`market`] is the client every participant calls it
//! through.

pub mod cells;
pub mod committee;
pub mod contracts;
pub mod deployment;
pub mod errors;
pub mod market;
pub mod types;

pub use contracts::{DistributedRender, IDistributedRenderTypes, TestToken, UsdtStyleToken};
pub use deployment::Deployment;
pub use types::{
    JobField, MemberState, PayReason, Phase, RefundReason, RejectReason, ReopenReason, TaskState,
    Verdict,
};
