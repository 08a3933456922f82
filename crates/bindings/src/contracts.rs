//! `sol!` bindings over the ABIs and bytecode in `artifacts/`, copied from forge's output by
//! `scripts/gen-bindings.cjs` (CI regenerates them and fails on any difference). Building this crate needs no
//! Solidity toolchain.
#![allow(missing_docs)]
// The generated `deploy` functions take the provider plus every constructor argument (seven for the market).
#![allow(clippy::too_many_arguments)]

alloy::sol!(
    /// The Tessera render marketplace (`contracts/src/DistributedRender.sol`).
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    DistributedRender,
    "artifacts/DistributedRender.json"
);

alloy::sol!(
    /// A mintable ERC-20 for local networks and tests (`contracts/test/mocks/TestToken.sol`).
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    TestToken,
    "artifacts/TestToken.json"
);

alloy::sol!(
    /// A USDT-style ERC-20 for tests (`contracts/test/mocks/TestToken.sol`): no return values, and `approve`
    /// from a non-zero allowance to another non-zero one reverts.
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    UsdtStyleToken,
    "artifacts/UsdtStyleToken.json"
);
