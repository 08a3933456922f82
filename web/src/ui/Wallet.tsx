import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { Address } from 'viem';
import type { Config } from '../config';
import { formatAmount } from '../lib/amount';
import { distributedRenderAbi } from '../generated/abi';
import { connect, discover, explain, reader, send, switchChain, type Connection, type TxStage, type WalletInfo } from '../lib/wallet';
import { shortAddress } from './format';

export interface WalletState {
  conn: Connection | null;
  market: Address | null;
  confirmations: number;
}

export const WalletContext = createContext<WalletState>({ conn: null, market: null, confirmations: 0 });

export function useWallet() {
  return useContext(WalletContext);
}

/** A transaction's progress in words, announced to screen readers. */
export function TxStatus({ tx }: { tx: TxStage | null }) {
  if (!tx) return null;
  const text =
    tx.stage === 'signing'
      ? 'Confirm in your wallet…'
      : tx.stage === 'sent'
        ? `Sent (${shortAddress(tx.hash)}), waiting for a block…`
        : tx.stage === 'included'
          ? `Included in block ${tx.block}, waiting for finality…`
          : tx.stage === 'final'
            ? `Final: included in block ${tx.block} and confirmed.`
            : `Failed: ${tx.message}`;
  return (
    <p role={tx.stage === 'failed' ? 'alert' : 'status'} class={tx.stage === 'failed' ? 'error tx' : 'tx'}>
      {text}
    </p>
  );
}

/** The header's wallet: discovered wallets to connect, the account, the chain check and the credit. */
export function WalletBar({ config, state, onConnect }: { config: Config; state: WalletState; onConnect: (c: Connection) => void }) {
  const [wallets, setWallets] = useState<WalletInfo[]>([]);
  const [error, setError] = useState('');
  const [credit, setCredit] = useState<bigint | null>(null);
  const [tx, setTx] = useState<TxStage | null>(null);
  useEffect(
    () => discover((w) => setWallets((prev) => (prev.some((p) => p.uuid === w.uuid) ? prev : [...prev, w]))),
    [],
  );
  const { conn, market } = state;
  const readCredit = async () => {
    if (!conn || !market) return;
    const v = await reader(config).readContract({
      address: market,
      abi: distributedRenderAbi,
      functionName: 'balanceOf',
      args: [conn.account, '0x0000000000000000000000000000000000000000'],
    });
    setCredit(v as bigint);
  };
  useEffect(() => {
    readCredit().catch((e) => setError(explain(e)));
    const t = setInterval(() => readCredit().catch(() => {}), 5000);
    return () => clearInterval(t);
  }, [conn?.account, market]);

  if (!conn) {
    return (
      <div class="wallet">
        {wallets.length === 0 && <span class="muted">No browser wallet found: browsing read-only</span>}
        {wallets.map((w) => (
          <button
            type="button"
            key={w.uuid}
            onClick={() =>
              connect(w)
                .then(onConnect)
                .catch((e) => setError(explain(e)))
            }
          >
            Connect {w.name}
          </button>
        ))}
        {error && (
          <span role="alert" class="error">
            {error}
          </span>
        )}
      </div>
    );
  }
  const wrongChain = conn.chainId !== config.chainId;
  return (
    <div class="wallet">
      <span aria-label="Connected account" title={conn.account}>
        {conn.wallet.name}: {shortAddress(conn.account)}
      </span>
      {wrongChain ? (
        <span role="alert" class="error">
          wrong chain ({conn.chainId}; the market is on {config.chainId}){' '}
          <button
            type="button"
            onClick={() =>
              switchChain(conn, config.chainId)
                .then(() => onConnect({ ...conn, chainId: config.chainId }))
                .catch((e) => setError(explain(e)))
            }
          >
            Switch to chain {config.chainId}
          </button>
        </span>
      ) : (
        credit !== null &&
        market && (
          <>
            <span aria-label="Credited balance">credit {formatAmount(credit, 18, 6)} ETH</span>
            <button
              type="button"
              disabled={credit === 0n || tx?.stage === 'signing' || tx?.stage === 'sent'}
              onClick={() =>
                send(conn, config, market, 'withdraw', ['0x0000000000000000000000000000000000000000'], state.confirmations, setTx).then(
                  () => readCredit().catch(() => {}),
                )
              }
            >
              Withdraw
            </button>
          </>
        )
      )}
      <TxStatus tx={tx} />
      {error && (
        <span role="alert" class="error">
          {error}
        </span>
      )}
    </div>
  );
}
