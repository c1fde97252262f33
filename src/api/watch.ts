// Watch streams. Each watcher has a bounded queue; a reader too slow to keep up
// loses its queue, gets a resync line and a fresh snapshot, never unbounded
// buffering in the daemon.
import type { ServerResponse } from 'node:http';
import type { WatchLine } from './views.js';

interface Watcher {
  res: ServerResponse;
  queue: string[];
  waitingForDrain: boolean;
  resyncPending: boolean;
}

export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  resyncs = 0;

  constructor(
    private readonly maxQueued: number,
    private readonly snapshotLine: () => WatchLine,
  ) {}

  count(): number {
    return this.watchers.size;
  }

  add(res: ServerResponse): void {
    const w: Watcher = { res, queue: [], waitingForDrain: false, resyncPending: false };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
    res.on('drain', () => this.flush(w));
    this.write(w, JSON.stringify(this.snapshotLine()) + '\n');
  }

  publish(line: WatchLine): void {
    if (this.watchers.size === 0) return;
    this.publishText(JSON.stringify(line) + '\n');
  }

  /** A line already serialised (one JSON value and a newline), e.g. by partitionsLineText. */
  publishText(text: string): void {
    for (const w of this.watchers) this.write(w, text);
  }

  /** Whether anyone would read a line: callers skip serialising it when not. */
  hasWatchers(): boolean {
    return this.watchers.size > 0;
  }

  closeAll(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  private write(w: Watcher, text: string): void {
    if (w.resyncPending) return; // everything before the resync is dropped anyway
    if (w.waitingForDrain) {
      if (w.queue.length >= this.maxQueued) {
        w.queue = [];
        w.resyncPending = true;
        this.resyncs++;
        return;
      }
      w.queue.push(text);
      return;
    }
    if (!w.res.write(text)) w.waitingForDrain = true;
  }

  private flush(w: Watcher): void {
    w.waitingForDrain = false;
    if (w.resyncPending) {
      w.resyncPending = false;
      this.write(w, JSON.stringify({ type: 'resync', reason: 'reader too slow; queue dropped' } satisfies WatchLine) + '\n');
      this.write(w, JSON.stringify(this.snapshotLine()) + '\n');
      return;
    }
    while (w.queue.length > 0 && !w.waitingForDrain) {
      const next = w.queue.shift()!;
      if (!w.res.write(next)) w.waitingForDrain = true;
    }
  }
}
