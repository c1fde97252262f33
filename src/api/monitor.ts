// Log streams (GET /v1/monitor?level=info): every log line at or above the
// stream's level, as pino NDJSON. Each stream has a byte-bounded queue; while a
// slow reader's queue is full, lines for it are dropped and counted, and when
// it catches up it gets one warn line saying how many it missed. A log stream
// is for watching, not for collecting: nothing here ever blocks the logger.
import type { ServerResponse } from 'node:http';
import type { LogTap } from '../daemon/logger.js';

interface Subscriber {
  res: ServerResponse;
  minLevel: number;
  queue: string[];
  head: number;
  /** Bytes queued from head on (the lines are ASCII-escaped JSON, so length is bytes except for non-ASCII text). */
  queuedBytes: number;
  waitingForDrain: boolean;
  /** Lines dropped since the reader last caught up. */
  missed: number;
}

export class MonitorHub implements LogTap {
  private readonly subscribers = new Set<Subscriber>();
  private readonly levelListeners: (() => void)[] = [];
  private lowest = Infinity;
  /** Lines dropped for slow readers, over the daemon's life. */
  dropped = 0;

  constructor(
    /** Bytes queued per stream at most (limits.monitorQueueBytes). */
    readonly maxQueuedBytes: number,
  ) {}

  count(): number {
    return this.subscribers.size;
  }

  lowestLevel(): number {
    return this.lowest;
  }

  onLevelsChanged(listener: () => void): void {
    this.levelListeners.push(listener);
  }

  add(res: ServerResponse, minLevel: number): void {
    const s: Subscriber = { res, minLevel, queue: [], head: 0, queuedBytes: 0, waitingForDrain: false, missed: 0 };
    this.subscribers.add(s);
    res.on('close', () => {
      this.subscribers.delete(s);
      this.recomputeLowest();
    });
    res.on('drain', () => this.flush(s));
    this.recomputeLowest();
  }

  publish(line: string, level: number): void {
    for (const s of this.subscribers) if (level >= s.minLevel) this.write(s, line);
  }

  closeAll(): void {
    for (const s of this.subscribers) s.res.end();
    this.subscribers.clear();
    this.recomputeLowest();
  }

  private recomputeLowest(): void {
    let lowest = Infinity;
    for (const s of this.subscribers) lowest = Math.min(lowest, s.minLevel);
    if (lowest === this.lowest) return;
    this.lowest = lowest;
    for (const l of this.levelListeners) l();
  }

  private write(s: Subscriber, line: string): void {
    if (!s.waitingForDrain) {
      if (!s.res.write(line)) s.waitingForDrain = true;
      return;
    }
    if (s.queuedBytes + line.length > this.maxQueuedBytes) {
      s.missed++;
      this.dropped++;
      return;
    }
    s.queue.push(line);
    s.queuedBytes += line.length;
  }

  private flush(s: Subscriber): void {
    s.waitingForDrain = false;
    while (s.head < s.queue.length && !s.waitingForDrain) {
      const next = s.queue[s.head++]!;
      s.queuedBytes -= next.length;
      if (!s.res.write(next)) s.waitingForDrain = true;
    }
    if (s.head === s.queue.length) {
      s.queue = [];
      s.head = 0;
    }
    if (!s.waitingForDrain && s.missed > 0) {
      const note = `${JSON.stringify({ level: 40, time: Date.now(), msg: 'monitor stream dropped lines: the reader was too slow (limits.monitorQueueBytes)', missed: s.missed })}\n`;
      s.missed = 0;
      if (!s.res.write(note)) s.waitingForDrain = true;
    }
  }
}
