import type { Config } from '../config';
import type { Meta } from '../lib/api';

/** The indexer's view of the chain under every answer: its head and the last confirmed block; a warning when
 * it follows another chain or contract than the app is configured for. */
export function Head({ meta, config }: { meta: Meta | null; config: Config }) {
  if (!meta) return null;
  const wrongChain = meta.chainId !== config.chainId;
  const wrongMarket = config.market !== '' && meta.contract.toLowerCase() !== config.market.toLowerCase();
  return (
    <>
      {(wrongChain || wrongMarket) && (
        <p role="alert" class="error">
          The indexer follows {wrongChain ? `chain ${meta.chainId}` : `contract ${meta.contract}`}, but this app is configured for{' '}
          {wrongChain ? `chain ${config.chainId}` : `contract ${config.market}`}: check config.json.
        </p>
      )}
      <p class="head" aria-label="Indexer status">
        indexed to block {meta.indexedBlock} of {meta.headBlock}, confirmed to {meta.confirmedBlock} ({meta.confirmations}{' '}
        confirmations), chain {meta.chainId}
      </p>
    </>
  );
}
