// Decodes the compact partitions line (README.md, "Using it from an
// application"; written by src/api/compact.ts) into the same typed
// `partitions` line the full format gives: its columns at once, one pass over
// each packed column, and the `changed` objects on first read.
import type { PartitionChange, PartitionColumns, WatchPartitionsEvent } from '../api/views.js';
import { SwimdError } from '../base/errors.js';

/** A compact partitions line that does not follow the format (fields missing, columns of the wrong length, indices out of range). */
export class CompactLineError extends SwimdError {
  constructor(message: string) {
    super('BAD_COMPACT_LINE', `compact partitions line: ${message}`);
  }
}

/** A compact partitions line as JSON.parse gives it. */
export interface CompactPartitionsJson {
  type: 'partitions';
  format: 'compact';
  viewVersion: number;
  quorum: 'ok' | 'no-quorum';
  count: number;
  members: string[];
  width: 1 | 2 | 4;
  replicaSlots: number;
  ids: string;
  slots: string;
  tokenBase?: number;
  tokens?: string;
  tokens64?: string;
}

/** Whether a parsed watch line is a compact partitions line. */
export function isCompactPartitions(line: unknown): line is CompactPartitionsJson {
  return typeof line === 'object' && line !== null && (line as { type?: unknown }).type === 'partitions' && (line as { format?: unknown }).format === 'compact';
}

/** The `partitions` line of a compact one: `columns` decoded, `changed` made from them on first read. */
export class CompactPartitionsEvent implements WatchPartitionsEvent {
  readonly type = 'partitions' as const;
  private expanded: readonly PartitionChange[] | null = null;

  constructor(
    readonly viewVersion: number,
    readonly quorum: 'ok' | 'no-quorum',
    readonly columns: PartitionColumns,
  ) {}

  get changed(): readonly PartitionChange[] {
    return (this.expanded ??= expand(this.columns));
  }

  /** The full format's line, so JSON.stringify of either format's line is the same text. */
  toJSON(): { type: 'partitions'; viewVersion: number; quorum: 'ok' | 'no-quorum'; changed: readonly PartitionChange[] } {
    return { type: 'partitions', viewVersion: this.viewVersion, quorum: this.quorum, changed: this.changed };
  }
}

function expand(c: PartitionColumns): PartitionChange[] {
  const out = new Array<PartitionChange>(c.count);
  const names = c.members;
  const R = c.replicaSlots;
  for (let j = 0; j < c.count; j++) {
    const replicas: string[] = [];
    for (let k = 0; k < R; k++) {
      const r = c.replicas[j * R + k]!;
      if (r < 0) break;
      replicas.push(names[r]!);
    }
    const old = c.oldPrimary[j]!;
    const now = c.newPrimary[j]!;
    out[j] = { id: c.ids[j]!, oldPrimary: old < 0 ? null : names[old]!, newPrimary: now < 0 ? null : names[now]!, replicas, token: c.tokens[j]! };
  }
  return out;
}

/** Most replica slots a line may claim per entry: far above any replicas setting, low enough that count × slots cannot overflow. */
const MAX_REPLICA_SLOTS = 255;

/** Decodes a parsed compact line; a CompactLineError when it does not follow the format. */
export function decodeCompactPartitions(line: CompactPartitionsJson): CompactPartitionsEvent {
  const { count, members, width, replicaSlots: R } = line;
  if (!Number.isSafeInteger(count) || count < 0) throw new CompactLineError(`count: expected a non-negative integer, got ${String(count)}`);
  if (!Array.isArray(members) || !members.every((m) => typeof m === 'string')) throw new CompactLineError('members: expected an array of names');
  if (width !== 1 && width !== 2 && width !== 4) throw new CompactLineError(`width: expected 1, 2 or 4, got ${String(width)}`);
  if (!Number.isInteger(R) || R < 0 || R > MAX_REPLICA_SLOTS) throw new CompactLineError(`replicaSlots: expected 0..${MAX_REPLICA_SLOTS}, got ${String(R)}`);
  if (typeof line.viewVersion !== 'number' || (line.quorum !== 'ok' && line.quorum !== 'no-quorum')) throw new CompactLineError('viewVersion or quorum missing');
  // The slots' length bounds count by the line's own size before anything is allocated for it.
  const slots = base64(line.slots, 'slots');
  const perEntry = R + 2;
  if (slots.length !== count * perEntry * width) throw new CompactLineError(`slots: expected ${count * perEntry * width} bytes, got ${slots.length}`);
  const ids = decodeIds(base64(line.ids, 'ids'), count);
  const oldPrimary = new Int32Array(count);
  const newPrimary = new Int32Array(count);
  const replicas = new Int32Array(count * R);
  const M = members.length;
  // Cell v: 0 is none, else members[v − 1]; anything past the table is refused.
  const highest = readCells(slots, width, count, R, oldPrimary, newPrimary, replicas);
  if (highest > M) throw new CompactLineError(`slots: member index ${highest - 1} past the ${M} members`);

  const tokens = new Float64Array(count);
  if (line.tokens !== undefined) {
    const base = line.tokenBase;
    if (typeof base !== 'number' || !Number.isSafeInteger(base)) throw new CompactLineError('tokenBase: expected an integer');
    const b = base64(line.tokens, 'tokens');
    let p = 0;
    for (let j = 0; j < count; j++) {
      if (p >= b.length) throw new CompactLineError('tokens: ends early');
      let byte = b[p++]!;
      // The common token offset is one byte.
      if (byte < 0x80) {
        tokens[j] = base + byte;
        continue;
      }
      let v = byte & 0x7f;
      let scale = 0x80;
      for (;;) {
        if (p >= b.length) throw new CompactLineError('tokens: ends early');
        byte = b[p++]!;
        v += (byte & 0x7f) * scale;
        if (byte < 0x80) break;
        scale *= 0x80;
        if (scale > 2 ** 56) throw new CompactLineError('tokens: varint too long');
      }
      tokens[j] = base + v;
    }
    if (p !== b.length) throw new CompactLineError('tokens: bytes after the last token');
  } else if (line.tokens64 !== undefined) {
    const b = base64(line.tokens64, 'tokens64');
    if (b.length !== count * 8) throw new CompactLineError(`tokens64: expected ${count * 8} bytes, got ${b.length}`);
    for (let j = 0; j < count; j++) tokens[j] = b.readDoubleLE(j * 8);
  } else if (count > 0) throw new CompactLineError('tokens missing');

  return new CompactPartitionsEvent(line.viewVersion, line.quorum, { count, members, ids, oldPrimary, newPrimary, replicaSlots: R, replicas, tokens });
}

/** Cells into the three columns (each cell − 1); returns the largest cell, for the range check. One loop per width, no call per cell. */
function readCells(b: Buffer, width: 1 | 2 | 4, count: number, R: number, oldPrimary: Int32Array, newPrimary: Int32Array, replicas: Int32Array): number {
  let highest = 0;
  let at = 0;
  let r = 0;
  if (width === 1) {
    for (let j = 0; j < count; j++) {
      const o = b[at++]!;
      const n = b[at++]!;
      oldPrimary[j] = o - 1;
      newPrimary[j] = n - 1;
      if (o > highest) highest = o;
      if (n > highest) highest = n;
      for (let k = 0; k < R; k++) {
        const v = b[at++]!;
        replicas[r++] = v - 1;
        if (v > highest) highest = v;
      }
    }
  } else if (width === 2) {
    for (let j = 0; j < count; j++) {
      const o = b[at]! | (b[at + 1]! << 8);
      const n = b[at + 2]! | (b[at + 3]! << 8);
      at += 4;
      oldPrimary[j] = o - 1;
      newPrimary[j] = n - 1;
      if (o > highest) highest = o;
      if (n > highest) highest = n;
      for (let k = 0; k < R; k++) {
        const v = b[at]! | (b[at + 1]! << 8);
        at += 2;
        replicas[r++] = v - 1;
        if (v > highest) highest = v;
      }
    }
  } else {
    // Four bytes: the top one scaled, not shifted, so a cell past 2^31 stays positive and fails the range check.
    const cell = (i: number): number => b[i]! + b[i + 1]! * 0x100 + b[i + 2]! * 0x10000 + b[i + 3]! * 0x1000000;
    for (let j = 0; j < count; j++) {
      const o = cell(at);
      const n = cell(at + 4);
      at += 8;
      oldPrimary[j] = o - 1;
      newPrimary[j] = n - 1;
      if (o > highest) highest = o;
      if (n > highest) highest = n;
      for (let k = 0; k < R; k++) {
        const v = cell(at);
        at += 4;
        replicas[r++] = v - 1;
        if (v > highest) highest = v;
      }
    }
  }
  return highest;
}

function base64(text: unknown, field: string): Buffer {
  if (typeof text !== 'string') throw new CompactLineError(`${field}: expected base64 text`);
  return Buffer.from(text, 'base64');
}

/** The ids column: varint tokens 2 · zigzag(id − (previous + 1)) + run, a run followed by how many consecutive ids come after. */
function decodeIds(b: Buffer, count: number): Int32Array {
  const ids = new Int32Array(count);
  let p = 0;
  let j = 0;
  let prev = -1;
  const varint = (): number => {
    let v = 0;
    let scale = 1;
    for (;;) {
      if (p >= b.length) throw new CompactLineError('ids: ends early');
      const byte = b[p++]!;
      v += (byte & 0x7f) * scale;
      if (byte < 0x80) return v;
      scale *= 0x80;
      if (scale > 2 ** 42) throw new CompactLineError('ids: varint too long');
    }
  };
  while (j < count) {
    // One byte in the common case: a gap of up to 32 or a run start.
    const v = p < b.length && b[p]! < 0x80 ? b[p++]! : varint();
    const zz = Math.floor(v / 2);
    const id = prev + 1 + (zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2);
    if (id < 0 || id > 0x7fffffff) throw new CompactLineError(`ids: id ${id} out of range`);
    ids[j++] = id;
    prev = id;
    if (v % 2 === 1) {
      const more = varint();
      if (more > count - j || id + more > 0x7fffffff) throw new CompactLineError('ids: run past the count');
      for (let i = 1; i <= more; i++) ids[j++] = id + i;
      prev = id + more;
    }
  }
  if (p !== b.length) throw new CompactLineError('ids: bytes after the last id');
  return ids;
}
