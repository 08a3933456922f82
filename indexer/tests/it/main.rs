//! Integration tests of the indexer against a real anvil and a real Postgres (the project's private cluster,
//! started by `scripts/pg.sh`): backfill, live tail, reorgs, RPC outages, misbehaving providers, SIGKILL restarts and the API.

mod api;
mod committees;
mod crash;
mod harness;
mod history;
mod provider;
mod sync;
