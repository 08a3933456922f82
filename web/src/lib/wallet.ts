// Browser wallets: discovered through EIP-6963 (each injected wallet announces an EIP-1193 provider), used
// through viem's `custom` transport. The chain is checked against config.json's before anything is sent.

import {
  BaseError,
  ContractFunctionRevertedError,
  UserRejectedRequestError,
  createPublicClient,
  createWalletClient,
  custom,
  http,
  type Address,
  type EIP1193Provider,
  type Hash,
  type PublicClient,
  type WalletClient,
} from 'viem';
import type { Config } from '../config';
import { distributedRenderAbi } from '../generated/abi';

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

/** Asks the wallet to switch to the configured chain. */
export async function switchChain(c: Connection, chainId: number): Promise<void> {
  await c.client.switchChain({ id: chainId });
}

export function reader(config: Config): PublicClient {
  return createPublicClient({ transport: http(config.rpcUrl) });
}

/** Where a transaction stands, for the page to show from signature to finality. */
export type TxStage =
  | { stage: 'signing' }
  | { stage: 'sent'; hash: Hash }
  | { stage: 'included'; hash: Hash; block: bigint }
  | { stage: 'final'; hash: Hash; block: bigint }
  | { stage: 'failed'; message: string };

type MarketWrite = 'cancelJob' | 'withdraw' | 'acceptTask' | 'reclaimOpenTasks';

/**
 * Sends a call to the market from the connected account and reports each stage: signing, sent, included,
 * and final once `confirmations` blocks are on top (the indexer's own count). A wallet's refusal and a
 * contract revert end in `failed` with the reason in words.
 */
export async function send(
  c: Connection,
  config: Config,
  market: Address,
  functionName: MarketWrite,
  args: readonly unknown[],
  confirmations: number,
  onStage: (s: TxStage) => void,
): Promise<boolean> {
  const pub = reader(config);
  try {
    if (c.chainId !== config.chainId) {
      throw new Error(`the wallet is on chain ${c.chainId}; the market is on chain ${config.chainId}: switch chains`);
    }
    onStage({ stage: 'signing' });
    // Simulated first: a call the contract would refuse is refused here with its reason, before signing.
    const { request } = await pub.simulateContract({
      address: market,
      abi: distributedRenderAbi,
      functionName,
      args: args as never,
      account: c.account,
    });
    const hash = await c.client.writeContract({ ...request, account: c.account, chain: null });
    onStage({ stage: 'sent', hash });
    const receipt = await pub.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success') throw new Error(`the transaction ${hash} reverted`);
    onStage({ stage: 'included', hash, block: receipt.blockNumber });
    if (confirmations > 0) {
      await pub.waitForTransactionReceipt({ hash, confirmations: confirmations + 1 });
    }
    onStage({ stage: 'final', hash, block: receipt.blockNumber });
    return true;
  } catch (e) {
    onStage({ stage: 'failed', message: explain(e) });
    return false;
  }
}

/** A wallet or contract error in words: the contract's custom error by name and arguments, a refusal. */
export function explain(e: unknown): string {
  if (e instanceof BaseError) {
    const rejected = e.walk((x) => x instanceof UserRejectedRequestError);
    if (rejected) return 'you declined the request in your wallet';
    const revert = e.walk((x) => x instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
    if (revert?.data?.errorName) {
      const args = (revert.data.args ?? []).map((a) => String(a)).join(', ');
      return `the contract refused: ${revert.data.errorName}(${args})`;
    }
    if (revert?.reason) return `the contract refused: ${revert.reason}`;
    return e.shortMessage;
  }
  return e instanceof Error ? e.message : String(e);
}
