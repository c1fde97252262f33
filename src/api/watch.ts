// Watch streams. Each watcher has a bounded queue; a reader too slow to keep up
// loses its queue, gets a resync line and a fresh snapshot, never unbounded
// buffering in the daemon.
import type { ServerResponse } from 'node:http';
import type { WatchFormat, WatchLine } from './views.js';

/** A line ready to write: JSON text and a newline, as a string or as its UTF-8 bytes. */
type LineText = string | Uint8Array;

interface Watcher {
  res: ServerResponse;
  /** How this watcher's partitions lines are written (the other lines are the same in both). */
  format: WatchFormat;
  queue: LineText[];
  /** Index of the next line to write, so taking one is O(1). */
  head: number;
  /** Length of the lines queued from head on (UTF-16 units of a string, bytes of bytes): the byte bound's measure (at most 3 bytes per unit in UTF-8, 1 for the ASCII the lines are). */
  queuedChars: number;
  waitingForDrain: boolean;
  resyncPending: boolean;
}

export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  resyncs = 0;

  constructor(
    /** Lines queued per watcher at most (limits.watchQueueDepth). */
    private readonly maxQueued: number,
    private readonly snapshotLine: () => WatchLine,
    /** Bytes queued per watcher at most (limits.watchQueueBytes): one line can hold the whole table. */
    private readonly maxQueuedBytes = 4 * 1024 * 1024,
    /** Publishes lines still waiting to be (AfterTurn.drain): a snapshot shows the state after them, so they go first. */
    private readonly beforeSnapshot: () => void = () => {},
  ) {}

  count(): number {
    return this.watchers.size;
  }

  add(res: ServerResponse, format: WatchFormat = 'full'): void {
    // Lines already due reach the current watchers only: the new one's snapshot includes them.
    this.beforeSnapshot();
    const w: Watcher = { res, format, queue: [], head: 0, queuedChars: 0, waitingForDrain: false, resyncPending: false };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
    res.on('drain', () => this.flush(w));
    this.write(w, JSON.stringify(this.snapshotLine()) + '\n');
  }

  publish(line: WatchLine): void {
    if (this.watchers.size === 0) return;
    this.publishText(JSON.stringify(line) + '\n');
  }

  /** A line already serialised (one JSON value and a newline), e.g. by PartitionsLineWriter; bytes are not copied, so the caller must not reuse them. */
  publishText(text: LineText): void {
    for (const w of this.watchers) this.write(w, text);
  }

  /**
   * A partitions line, written in each format at most once and only if a
   * watcher reads it; both go through the same per-watcher bounds.
   */
  publishPartitions(full: () => LineText, compact: () => LineText): void {
    let fullText: LineText | null = null;
    let compactText: LineText | null = null;
    for (const w of this.watchers) this.write(w, w.format === 'compact' ? (compactText ??= compact()) : (fullText ??= full()));
  }

  /** Whether anyone would read a line: callers skip serialising it when not. */
  hasWatchers(): boolean {
    return this.watchers.size > 0;
  }

  closeAll(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  private write(w: Watcher, text: LineText): void {
    if (w.resyncPending) return; // everything before the resync is dropped anyway
    if (w.waitingForDrain) {
      if (w.queue.length - w.head >= this.maxQueued || w.queuedChars + text.length > this.maxQueuedBytes) {
        w.queue = [];
        w.head = 0;
        w.queuedChars = 0;
        w.resyncPending = true;
        this.resyncs++;
        return;
      }
      w.queue.push(text);
      w.queuedChars += text.length;
      return;
    }
    if (!w.res.write(text)) w.waitingForDrain = true;
  }

  private flush(w: Watcher): void {
    w.waitingForDrain = false;
    if (w.resyncPending) {
      // Due lines are skipped for this watcher (still resyncing): its snapshot follows.
      this.beforeSnapshot();
      w.resyncPending = false;
      this.write(w, JSON.stringify({ type: 'resync', reason: 'reader too slow; queue dropped' } satisfies WatchLine) + '\n');
      this.write(w, JSON.stringify(this.snapshotLine()) + '\n');
      return;
    }
    while (w.head < w.queue.length && !w.waitingForDrain) {
      const next = w.queue[w.head++]!;
      w.queuedChars -= next.length;
      if (!w.res.write(next)) w.waitingForDrain = true;
    }
    if (w.head === w.queue.length) {
      w.queue = [];
      w.head = 0;
    }
  }
}
