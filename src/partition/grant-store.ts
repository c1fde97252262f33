// Durable grants: what this member promised, per partition. As in Raft's vote
// rule, a grant is recorded durably before the answer that carries it is sent,
// so a restarted member never grants the same epoch twice. The daemon keeps it
// in node.dataDir (src/daemon/grant-file.ts); the simulator keeps it in memory
// across simulated restarts, as a disk would.

export interface Grant {
  readonly partition: number;
  readonly epoch: number;
  /** The member the epoch was granted to (this member itself for its own claims). */
  readonly to: string;
}

export interface GrantStore {
  /** Every partition's latest grant, as recorded. */
  load(): Grant[];
  /** Records grants durably; returns only once they would survive a crash. Throws if they cannot be recorded. */
  record(grants: readonly Grant[]): void;
  /**
   * The same, without blocking: done(null) once they would survive a crash, done(err) if they
   * cannot be recorded. One call at a time (Ownership waits for done before the next).
   */
  recordAsync?(grants: readonly Grant[], done: (err: Error | null) => void): void;
  /** True when the store held nothing when it was opened (a new member, or one that lost its data). */
  readonly fresh: boolean;
}

export class MemoryGrantStore implements GrantStore {
  private readonly grants = new Map<number, Grant>();
  fresh = true;
  /** Number of record() calls, for tests. */
  writes = 0;

  load(): Grant[] {
    return [...this.grants.values()];
  }

  record(grants: readonly Grant[]): void {
    this.writes++;
    for (const g of grants) {
      const old = this.grants.get(g.partition);
      if (old && old.epoch > g.epoch) throw new Error(`grant for partition ${g.partition} would go back from ${old.epoch} to ${g.epoch}`);
      this.grants.set(g.partition, g);
    }
  }

  /** A restarted process opens the same disk: not fresh once something was written. */
  reopen(): MemoryGrantStore {
    this.fresh = this.grants.size === 0;
    return this;
  }
}
