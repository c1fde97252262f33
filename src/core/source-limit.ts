// A bound on the datagrams one source (address and port) may make this node
// process per second. A member sends a handful per second even in a large
// cluster; a peer flooding far more is cut off before any decoding, so its
// packets cost a map lookup instead of a decode and a state change, and the
// protocol keeps its rhythm (probe deadlines, refutations). Excess is counted
// as `source-rate`. The table of sources is bounded; when full it starts over.
import type { Address } from '../base/env.js';

interface Window {
  startMs: number;
  count: number;
}

export class SourceRateLimit {
  /** Windows by host, then port: no key string to build and hash for every datagram. */
  private readonly windows = new Map<string, Map<number, Window>>();
  private sources = 0;

  constructor(
    /** Datagrams per second per source (0 disables). */
    private readonly perSecond: number,
    private readonly maxSources: number,
  ) {}

  /** True if a datagram from `from` at `nowMs` may be processed. */
  admit(from: Address, nowMs: number): boolean {
    if (this.perSecond <= 0) return true;
    let ports = this.windows.get(from.host);
    let w = ports?.get(from.port);
    if (w === undefined || nowMs - w.startMs >= 1000) {
      if (w === undefined) {
        if (this.sources >= this.maxSources) {
          this.windows.clear();
          this.sources = 0;
          ports = undefined;
        }
        if (ports === undefined) {
          ports = new Map();
          this.windows.set(from.host, ports);
        }
        this.sources++;
        w = { startMs: nowMs, count: 0 };
        ports.set(from.port, w);
      } else {
        w.startMs = nowMs;
        w.count = 0;
      }
    }
    return ++w.count <= this.perSecond;
  }
}
