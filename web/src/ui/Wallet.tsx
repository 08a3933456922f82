import { createContext, type ComponentChildren } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { Address } from 'viem';
import type { Config } from '../config';
import { formatAmount } from '../lib/amount';
import { distributedRenderAbi } from '../generated/abi';
import { connect, discover, explain, reader, send, switchChain, watch, type Connection, type MarketWrite, type TxStage, type WalletInfo } from '../lib/wallet';
import { shortAddress } from './format';

export interface WalletState {
  conn: Connection | null;
  market: Address | null;
  /** The indexer's confirmation count ("final"); null until the indexer answered: no action before. */
  confirmations: number | null;
}

export const WalletContext = createContext<WalletState>({ conn: null, market: null, confirmations: null });

export function useWallet() {
  return useContext(WalletContext);
}

/** Whether a transaction is under way (no second one from the same control until it is final). */
export function busy(tx: TxStage | null): boolean {
  return tx !== null && ['checking', 'signing', 'sent', 'included'].includes(tx.stage);
}

/** A transaction's progress in words, announced to screen readers. */
export function TxStatus({ tx }: { tx: TxStage | null }) {
  if (!tx) return null;
  let text: string;
  switch (tx.stage) {
    case 'checking':
      text = 'Checking the call against the contract…';
      break;
    case 'signing':
      text = 'Confirm in your wallet…';
      break;
    case 'sent':
      text = `Sent (${shortAddress(tx.hash)}), waiting for a block…`;
      break;
    case 'included':
      text = `Included in block ${tx.block}, waiting for finality…`;
      break;
    case 'final':
      text = `Final: included in block ${tx.block} and confirmed.`;
      break;
    case 'unfinal':
      text = `Included in block ${tx.block}, not final yet (${tx.message}).`;
      break;
    case 'failed':
      text = `Failed: ${tx.message}`;
      break;
  }
  return (
    <p role={tx.stage === 'failed' ? 'alert' : 'status'} class={tx.stage === 'failed' ? 'error tx' : 'tx'}>
      {text}
    </p>
  );
}

/**
 * A button that sends one of the market's functions from the connected account (simulated first, then
 * followed to finality into `setTx`); disabled while a transaction of its control is under way or before the
 * wallet and the indexer's confirmation count are known.
 */
export function MarketAction({
  config,
  fn,
  args,
  value,
  tx,
  setTx,
  children,
}: {
  config: Config;
  fn: MarketWrite;
  args: readonly unknown[];
  value?: bigint;
  tx: TxStage | null;
  setTx: (s: TxStage) => void;
  children: ComponentChildren;
}) {
  const { conn, market, confirmations } = useWallet();
  return (
    <button
      type="button"
      disabled={busy(tx) || !conn || !market || confirmations === null}
      onClick={() => {
        if (conn && market && confirmations !== null) void send(conn, config, market, fn, args, confirmations, setTx, value);
      }}
    >
      {children}
    </button>
  );
}

const ETH = '0x0000000000000000000000000000000000000000';

/** The connected account's credit in `token` on the market and a Withdraw button for it. */
export function Credit({ config, state, token, symbol }: { config: Config; state: WalletState; token: Address; symbol: string }) {
  const [credit, setCredit] = useState<bigint | null>(null);
  const [tx, setTx] = useState<TxStage | null>(null);
  const [error, setError] = useState('');
  const { conn, market, confirmations } = state;
  const account = conn?.account;
  useEffect(() => {
    if (!account || !market) return;
    let live = true;
    const read = () =>
      reader(config)
        .readContract({ address: market, abi: distributedRenderAbi, functionName: 'balanceOf', args: [account, token] })
        .then((v) => {
          if (!live) return;
          setCredit(v as bigint);
          setError('');
        })
        .catch((e) => live && setError(explain(e)));
    void read();
    const t = setInterval(read, 5000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [account, market, token, tx?.stage]);
  if (!conn || !market || credit === null) {
    return error ? (
      <span role="alert" class="error">
        {error}
      </span>
    ) : null;
  }
  return (
    <>
      <span aria-label={token === ETH ? 'Credited balance' : `Credited ${symbol}`}>
        credit {formatAmount(credit, 18, 6)} {symbol}
      </span>
      <button
        type="button"
        disabled={credit === 0n || busy(tx) || confirmations === null}
        onClick={() => void send(conn, config, market, 'withdraw', [token], confirmations ?? 0, setTx)}
      >
        {token === ETH ? 'Withdraw' : `Withdraw ${symbol}`}
      </button>
      <TxStatus tx={tx} />
    </>
  );
}

/** The header's wallet: discovered wallets to connect, the account, the chain check and the ETH credit. */
export function WalletBar({
  config,
  state,
  onConnect,
}: {
  config: Config;
  state: WalletState;
  onConnect: (c: Connection | null) => void;
}) {
  const [wallets, setWallets] = useState<WalletInfo[]>([]);
  const [error, setError] = useState('');
  useEffect(
    () => discover((w) => setWallets((prev) => (prev.some((p) => p.uuid === w.uuid) ? prev : [...prev, w]))),
    [],
  );
  const { conn } = state;
  // The wallet may change account or chain at any time: follow it (no account left: disconnected).
  useEffect(() => {
    if (!conn) return;
    return watch(conn, (ch) => {
      if (ch.account === null) onConnect(null);
      else onConnect({ ...conn, ...(ch.account ? { account: ch.account } : {}), ...(ch.chainId ? { chainId: ch.chainId } : {}) });
    });
  }, [conn]);

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
                .then((c) => {
                  setError('');
                  onConnect(c);
                })
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
              switchChain(conn, config)
                .then((chainId) => {
                  setError('');
                  onConnect({ ...conn, chainId });
                })
                .catch((e) => setError(explain(e)))
            }
          >
            Switch to chain {config.chainId}
          </button>
        </span>
      ) : (
        <Credit config={config} state={state} token={ETH} symbol="ETH" />
      )}
      {error && (
        <span role="alert" class="error">
          {error}
        </span>
      )}
    </div>
  );
}
