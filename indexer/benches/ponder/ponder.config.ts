// The peer of tessera-indexer in scripts/bench-indexer.sh (indexer/benches/indexer.rs starts it): every
// DistributedRender event of one anvil deployment, from env DATABASE_URL, PONDER_RPC_URL_31337, PONDER_WS_URL
// (optional: follow heads over WebSocket), MARKET, START_BLOCK; PONDER_POLLING_MS (default 1000) and
// PONDER_DISABLE_CACHE=1 are Ponder's own knobs. abi.mjs writes the ABI first.
import { createConfig } from "ponder";
import { DistributedRenderAbi } from "./abis/DistributedRenderAbi";

export default createConfig({
  database: { kind: "postgres", connectionString: process.env.DATABASE_URL },
  chains: {
    anvil: {
      id: 31337,
      rpc: process.env.PONDER_RPC_URL_31337!,
      ...(process.env.PONDER_WS_URL ? { ws: process.env.PONDER_WS_URL } : {}),
      pollingInterval: Number(process.env.PONDER_POLLING_MS ?? 1000),
      disableCache: process.env.PONDER_DISABLE_CACHE === "1",
    },
  },
  contracts: {
    DistributedRender: {
      chain: "anvil",
      abi: DistributedRenderAbi,
      address: process.env.MARKET as `0x${string}`,
      startBlock: Number(process.env.START_BLOCK),
    },
  },
});
