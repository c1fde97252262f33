// The history checker: a fenced storage that every member's application writes
// to, and the rules a run is judged by. It knows nothing of the cluster; the
// harness feeds it writes, daemon answers and convergence times.
//
// A run fails on:
//  - a stale write: storage accepted a write for partition p from member A
//    while a write from another member B with a token at least as high had
//    already been accepted (with a storage that keeps the highest token and
//    accepts ≥, that is two writers sharing one token, or a lower token
//    accepted, which the storage itself must never do);
//  - a token that decreases on one daemon (one process of a member) for a
//    partition it names itself primary of;
//  - a stall: after the last fault healed and the views converged, a partition
//    without a writable primary (named primary by its own daemon with quorum,
//    and holding a token storage would accept) for longer than the bound.

export interface Violation {
  kind: 'stale-write' | 'token-decrease' | 'stall' | 'no-convergence';
  atMs: number;
  detail: string;
}

interface Mark {
  token: number;
  writer: string;
}

export class FencedStorage {
  private readonly highest = new Map<number, Mark>();
  accepted = 0;
  rejected = 0;

  constructor(private readonly onViolation: (v: Violation) => void) {}

  /** One write: accepted iff token ≥ the highest accepted for the partition; check and update are one step. */
  write(atMs: number, partition: number, writer: string, token: number): boolean {
    const h = this.highest.get(partition);
    if (h !== undefined && token < h.token) {
      this.rejected++;
      return false;
    }
    if (h !== undefined && token === h.token && writer !== h.writer) {
      this.onViolation({ kind: 'stale-write', atMs, detail: `partition ${partition}: ${writer} wrote with token ${token} after ${h.writer} wrote with the same token` });
    }
    this.highest.set(partition, { token, writer });
    this.accepted++;
    return true;
  }

  highestToken(partition: number): number {
    return this.highest.get(partition)?.token ?? -Infinity;
  }

  lastWriter(partition: number): string | null {
    return this.highest.get(partition)?.writer ?? null;
  }
}

export class HistoryChecker {
  readonly violations: Violation[] = [];
  readonly storage: FencedStorage;
  /** Last token each daemon process named itself primary with, per partition. */
  private readonly lastToken = new Map<string, number>();

  constructor(private readonly maxViolations = 20) {
    this.storage = new FencedStorage((v) => this.add(v));
  }

  add(v: Violation): void {
    if (this.violations.length < this.maxViolations) this.violations.push(v);
  }

  /** A daemon process (member name + process number) answered that it is primary of p with `token`. */
  answered(atMs: number, process: string, partition: number, token: number): void {
    const key = `${process}\u0000${partition}`;
    const last = this.lastToken.get(key);
    if (last !== undefined && token < last) this.add({ kind: 'token-decrease', atMs, detail: `${process} named itself primary of ${partition} with token ${token} after ${last}` });
    this.lastToken.set(key, token);
  }
}
