// A fenced store in a directory, shared by every writer process on the host:
// per partition, a log of accepted records and the highest token accepted.
// A write is accepted iff its token is at least that mark; the check, the
// append and the new mark happen under one per-partition lock (an atomic
// mkdir), so no two writers interleave between them. This is the rule
// README's "Primaries and fencing tokens" asks of real storage.
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StoredRecord {
  partition: number;
  token: number;
  writer: string;
  seq: number;
  atMs: number;
}

export type WriteResult = { accepted: true } | { accepted: false; highestToken: number };

export class LockTimeoutError extends Error {
  readonly code = 'LOCK_TIMEOUT';
}

/** How long a writer waits for a partition's lock before giving up on one write (it waits synchronously, so briefly). */
const LOCK_WAIT_MS = 200;
/** A lock older than this was left by a writer that died holding it (the critical section takes well under a millisecond). */
const STALE_LOCK_MS = 2_000;
const pause = new Int32Array(new SharedArrayBuffer(4));

export class FencedFileStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private file(partition: number, kind: 'log' | 'mark' | 'lock'): string {
    return join(this.dir, `p${partition}.${kind}`);
  }

  /** The highest token accepted for a partition (0 before any write). */
  highestToken(partition: number): number {
    const f = this.file(partition, 'mark');
    return existsSync(f) ? Number(readFileSync(f, 'utf8')) : 0;
  }

  write(record: StoredRecord): WriteResult {
    this.lock(record.partition);
    try {
      const highest = this.highestToken(record.partition);
      if (record.token < highest) return { accepted: false, highestToken: highest };
      appendFileSync(this.file(record.partition, 'log'), JSON.stringify(record) + '\n');
      if (record.token > highest) {
        const tmp = `${this.file(record.partition, 'mark')}.tmp`;
        writeFileSync(tmp, String(record.token));
        renameSync(tmp, this.file(record.partition, 'mark'));
      }
      return { accepted: true };
    } finally {
      rmdirSync(this.file(record.partition, 'lock'));
    }
  }

  /** Every accepted record of a partition, in the order accepted. */
  records(partition: number): StoredRecord[] {
    const f = this.file(partition, 'log');
    if (!existsSync(f)) return [];
    return readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as StoredRecord);
  }

  /** Partitions with at least one accepted record. */
  partitions(): number[] {
    return readdirSync(this.dir)
      .map((n) => /^p(\d+)\.log$/.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  private lock(partition: number): void {
    const f = this.file(partition, 'lock');
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        mkdirSync(f);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      try {
        if (Date.now() - statSync(f).mtimeMs > STALE_LOCK_MS) rmdirSync(f);
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline) throw new LockTimeoutError(`partition ${partition}: lock ${f} held for over ${LOCK_WAIT_MS} ms`);
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
