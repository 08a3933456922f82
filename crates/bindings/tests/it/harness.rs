//! The local chain of these tests: `tessera-devnet`'s anvil with funded actors.

pub(crate) use tessera_devnet::{Devnet as Chain, gas_cost, mined};
