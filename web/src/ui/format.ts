// Words for what the API returns in codes.

export const PHASE_WORDS: Record<string, string> = {
  none: 'open to dispute',
  awaiting_draw: 'awaiting draw',
  commit: 'committee voting (commit)',
  reveal: 'committee voting (reveal)',
  data_challenge: 'data challenged',
  appealable: 'verdict, appealable',
};

/** `2h 5m`, `40s`. */
export function span(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [d && `${d}d`, h && `${h}h`, m && `${m}m`].filter(Boolean) as string[];
  if (parts.length < 2 && s % 60) parts.push(`${s % 60}s`);
  return parts.join(' ') || '0s';
}

export function shortAddress(a: string | null | undefined): string {
  return a ? `${a.slice(0, 6)}…${a.slice(-4)}` : '—';
}
