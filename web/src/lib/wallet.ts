// Browser wallets: discovered through EIP-6963 (each injected wallet announces an EIP-1193 provider), used
// through viem's `custom` transport. The chain is checked against config.json's before anything is sent.

import {
  BaseError,
  ContractFunctionRevertedError,
  UserRejectedRequestError,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  http,
  type Address,
  type Abi,
  type EIP1193Provider,
  type Hash,
  type PublicClient,
  type TransactionReceipt,
  type WalletClient,
} from 'viem';
import type { Config } from '../config';
import { distributedRenderAbi } from '../generated/abi';
import { errorInWords } from './errors';

/** An announced wallet (EIP-6963 `EIP6963ProviderDetail`). */
export interface WalletInfo {
  uuid: string;
  name: string;
  icon: string;
  rdns: string;
  provider: EIP1193Provider;
}

/** Listens for wallets announcing themselves and asks the page's wallets to announce; returns a stop. */
export function discover(onWallet: (w: WalletInfo) => void): () => void {
  const on = (e: Event) => {
    const d = (e as CustomEvent<{ info: Omit<WalletInfo, 'provider'>; provider: EIP1193Provider }>).detail;
    if (d?.info?.uuid && d.provider && typeof d.provider.request === 'function') {
      onWallet({ ...d.info, name: String(d.info.name).slice(0, 40), provider: d.provider });
    }
  };
  window.addEventListener('eip6963:announceProvider', on);
  window.dispatchEvent(new Event('eip6963:requestProvider'));
  return () => window.removeEventListener('eip6963:announceProvider', on);
}

export interface Connection {
  wallet: WalletInfo;
  account: Address;
  chainId: number;
  client: WalletClient;
}

/** Asks the wallet for an account and reads its chain. */
export async function connect(wallet: WalletInfo): Promise<Connection> {
  const client = createWalletClient({ transport: custom(wallet.provider) });
  const [account] = await client.requestAddresses();
  if (!account) throw new Error(`${wallet.name} gave no account`);
  const chainId = await client.getChainId();
  return { wallet, account, chainId, client };
}

/** The configured chain as viem describes one (its RPC for a wallet that does not know it yet). */
export function chainOf(config: Config) {
  return defineChain({
    id: config.chainId,
    name: `Tessera market chain ${config.chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [config.rpcUrl] } },
  });
}

/** Asks the wallet to switch to the configured chain, adding it first when the wallet does not know it
 * (EIP-3326 error 4902, then EIP-3085); returns the chain the wallet is on afterwards. */
export async function switchChain(c: Connection, config: Config): Promise<number> {
  try {
    await c.client.switchChain({ id: config.chainId });
  } catch (e) {
    const unknown = e instanceof BaseError && e.walk((x) => (x as { code?: number }).code === 4902);
    if (!unknown) throw e;
    await c.client.addChain({ chain: chainOf(config) });
  }
  return c.client.getChainId();
}

/** Follows the wallet's account and chain (EIP-1193 `accountsChanged`, `chainChanged`); returns a stop. */
export function watch(
  c: Connection,
  onChange: (change: { account?: Address | null; chainId?: number }) => void,
): () => void {
  const p = c.wallet.provider;
  const accounts = (list: string[]) => onChange({ account: (list[0] as Address | undefined) ?? null });
  const chain = (id: string) => onChange({ chainId: Number(id) });
  p.on?.('accountsChanged', accounts);
  p.on?.('chainChanged', chain);
  return () => {
    p.removeListener?.('accountsChanged', accounts);
    p.removeListener?.('chainChanged', chain);
  };
}

const readers = new Map<string, PublicClient>();

/** The read client of `rpcUrl` (one per URL, shared by every read of the page). */
export function readerAt(rpcUrl: string): PublicClient {
  let r = readers.get(rpcUrl);
  if (!r) {
    r = createPublicClient({ transport: http(rpcUrl) });
    readers.set(rpcUrl, r);
  }
  return r;
}

export function reader(config: Config): PublicClient {
  return readerAt(config.rpcUrl);
}

/** Where a transaction stands, for the page to show from signature to finality. */
export type TxStage =
  | { stage: 'checking' }
  | { stage: 'signing' }
  | { stage: 'sent'; hash: Hash }
  | { stage: 'included'; hash: Hash; block: bigint }
  | { stage: 'final'; hash: Hash; block: bigint }
  | { stage: 'unfinal'; hash: Hash; block: bigint; message: string }
  | { stage: 'failed'; message: string };

export type MarketWrite = 'cancelJob' | 'withdraw' | 'acceptTask' | 'reclaimOpenTasks' | 'appealVerdict' | 'submitRenderJob';

/** A contract call to send: the market's (typed by its ABI) or another contract's, such as a token's approve. */
export interface Call {
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
  /** Wei attached. */
  value?: bigint;
}

/**
 * Sends `call` from the connected account and reports each stage: signing, sent, included, and final once
 * `confirmations` blocks are on top (the indexer's own count). The call is simulated first, so a call the
 * contract would refuse is refused before signing, with its reason. A wallet's refusal and a revert end in
 * `failed` with the reason in words. Returns the receipt once included (null when it failed before).
 */
export async function sendCall(
  c: Connection,
  config: Config,
  call: Call,
  confirmations: number,
  onStage: (s: TxStage) => void,
): Promise<TransactionReceipt | null> {
  const pub = reader(config);
  let included: TransactionReceipt | null = null;
  try {
    onStage({ stage: 'checking' });
    // The chain the wallet is on now (it may have been switched since the page connected).
    const on = await c.client.getChainId();
    if (on !== config.chainId) {
      throw new Error(`the wallet is on chain ${on}; the market is on chain ${config.chainId}: switch chains`);
    }
    // Simulated first: a call the contract would refuse is refused here with its reason, before signing.
    const { request } = await pub.simulateContract({
      address: call.address,
      abi: call.abi,
      functionName: call.functionName,
      args: call.args as never,
      value: call.value,
      account: c.account,
    } as never);
    onStage({ stage: 'signing' });
    // With the chain named, viem checks it again and the wallet signs for it (the chain id is in the request).
    const hash = await c.client.writeContract({ ...(request as object), account: c.account, chain: chainOf(config) } as never);
    onStage({ stage: 'sent', hash });
    const receipt = await pub.waitForTransactionReceipt({ hash, timeout: 600_000 });
    if (receipt.status !== 'success') throw new Error(`the transaction ${hash} reverted`);
    included = receipt;
    onStage({ stage: 'included', hash, block: receipt.blockNumber });
    if (confirmations > 0) {
      // Up to a minute a block before calling it not final yet (a slow chain is not a failed transaction).
      await pub.waitForTransactionReceipt({ hash, confirmations: confirmations + 1, timeout: (confirmations + 2) * 60_000 });
    }
    onStage({ stage: 'final', hash, block: receipt.blockNumber });
    return receipt;
  } catch (e) {
    if (included) {
      onStage({ stage: 'unfinal', hash: included.transactionHash, block: included.blockNumber, message: explain(e) });
      return included;
    }
    onStage({ stage: 'failed', message: explain(e) });
    return null;
  }
}

/** `sendCall` of one of the market's functions; whether it was included. */
export async function send(
  c: Connection,
  config: Config,
  market: Address,
  functionName: MarketWrite,
  args: readonly unknown[],
  confirmations: number,
  onStage: (s: TxStage) => void,
  value?: bigint,
): Promise<boolean> {
  const call = { address: market, abi: distributedRenderAbi, functionName, args, value };
  return (await sendCall(c, config, call, confirmations, onStage)) !== null;
}

/** A wallet or contract error in words: the contract's custom error in the bindings' words (src/lib/errors.ts), a refusal. */
export function explain(e: unknown): string {
  if (e instanceof BaseError) {
    const rejected = e.walk((x) => x instanceof UserRejectedRequestError);
    if (rejected) return 'you declined the request in your wallet';
    const revert = e.walk((x) => x instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
    if (revert?.data?.errorName) {
      const words = errorInWords(
        revert.data.errorName,
        'inputs' in revert.data.abiItem ? revert.data.abiItem.inputs : [],
        revert.data.args ?? [],
      );
      const args = (revert.data.args ?? []).map((a) => String(a)).join(', ');
      return `the contract refused: ${words ?? `${revert.data.errorName}(${args})`}`;
    }
    if (revert?.reason) return `the contract refused: ${revert.reason}`;
    return e.shortMessage;
  }
  return e instanceof Error ? e.message : String(e);
}
