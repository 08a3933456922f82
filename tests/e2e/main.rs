//! The whole network end to end, every part a real process (anvil, Postgres, the local IPFS node, the
//! indexer, `tessera-worker` in both modes, the `tessera` CLI): a job from submit to every task paid and
//! fetched through drawn committees; lying verifiers overturned on appeal, a forging and a withholding worker
//! slashed and replaced, a registry smaller than the committee (`verification.rs`); a worker killed mid-task
//! whose lease expires; a
//! worker killed and restarted; cancel, reclaim, accept and the CLI's errors; a malformed scene; IPFS going
//! away and coming back; the Blender add-on driving the CLI from inside Blender (`blender.rs`); the web app in headless Chromium
//! with an injected wallet (`web.rs`). Two networks run at a time (`TESSERA_E2E_PARALLEL`, see
//! `harness::slot`): the tests mostly wait on the chain's clock.
//!
//! They need the binaries of the workspace (`cargo test --workspace` builds them before running any test).

mod artist;
mod blender;
mod faults;
mod harness;
mod round_trip;
mod verification;
mod web;
