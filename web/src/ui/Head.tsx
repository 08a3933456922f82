import type { Meta } from '../lib/api';

/** The indexer's view of the chain under every answer: its head and the last confirmed block. */
export function Head({ meta }: { meta: Meta | null }) {
  if (!meta) return null;
  return (
    <p class="head" aria-label="Indexer status">
      indexed to block {meta.indexedBlock} of {meta.headBlock}, confirmed to {meta.confirmedBlock} ({meta.confirmations}{' '}
      confirmations), chain {meta.chainId}
    </p>
  );
}
