// The indexer's live stream (`/v1/stream`, Server-Sent Events whose ids are feed positions). The browser's
// EventSource resends `Last-Event-ID` when it reconnects by itself; when the server refuses or the
// connection is closed for good, this opens a new one after a pause with `?after=` the last position
// received, so that no event between the two connections is lost.

import type { StreamEvent } from './tasks';

export interface StreamHandle {
  close(): void;
  /** Settles when the first connection is open (the server has chosen where the stream starts). */
  opened: Promise<void>;
}

/**
 * Follows the stream from `after` (the current end when null), calling `onEvent` for every event in feed
 * order and `onState` with `true` while connected. When a connection is lost before any event gave a
 * position to resume from, the new one starts at the feed's end again: `onGap` is called, so that the
 * caller re-reads what it shows.
 */
export function follow(
  indexerUrl: string,
  after: number | null,
  onEvent: (ev: StreamEvent) => void,
  onState: (connected: boolean) => void,
  onGap: () => void = () => {},
): StreamHandle {
  let last = after;
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  let pause = 500;
  let opens = 0;
  let resolveOpened: () => void = () => {};
  const opened = new Promise<void>((r) => (resolveOpened = r));

  const handle = (e: MessageEvent<string>) => {
    let ev: StreamEvent;
    try {
      ev = JSON.parse(e.data) as StreamEvent;
    } catch {
      return;
    }
    if (last !== null && ev.seq <= last) return; // already seen (a resumed connection)
    last = ev.seq;
    onEvent(ev);
  };

  const open = () => {
    const url = new URL('v1/stream', `${indexerUrl}/`);
    if (last !== null) url.searchParams.set('after', String(last));
    const resumable = last !== null;
    source = new EventSource(url);
    source.addEventListener('open', () => {
      pause = 500;
      opens += 1;
      onState(true);
      resolveOpened();
      if (opens > 1 && !resumable && last === null) onGap();
    });
    source.addEventListener('log', handle);
    source.addEventListener('removed', handle);
    source.addEventListener('error', () => {
      onState(false);
      if (source && source.readyState === EventSource.CLOSED && !closed) {
        source = null;
        timer = setTimeout(open, pause);
        pause = Math.min(pause * 2, 10_000);
      }
    });
  };
  open();
  return {
    opened,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      source?.close();
    },
  };
}
