// The compact partitions line (GET /v1/watch?format=compact): the same changes
// as the full line, in a few bytes per changed partition. Member names appear
// once per line in a table and cells hold table indices; ids are varint deltas
// with runs; tokens are varint offsets from the line's smallest. The columns
// are packed bytes in base64, so a reader decodes each with one Buffer.from and
// a loop, never a JSON array of objects. README.md ("Using it from an
// application") describes the format; src/client/compact.ts decodes it.
import type { LeadershipDiff } from '../partition/leadership.js';
import { CHUNK_BITS, CHUNK_MASK } from '../partition/table.js';

/** Most bytes one varint of a value below 2^53 takes. */
const VARINT_MAX = 8;

/**
 * Writes the compact partitions line of a leadership diff, straight from its
 * typed arrays and the published table. Scratch arrays grow to the largest
 * line and are reused; the member table is built per line (first use first).
 */
export class CompactPartitionsLineWriter {
  /** By slot: 1 + the slot's index in this line's member table, 0 while unused (cleared after each line). */
  private localOf: Int32Array = new Int32Array(64);
  private used: number[] = [];
  private cells = new Uint32Array(1024);
  private tokenValues = new Float64Array(256);
  private bytes = new Uint8Array(4096);

  /** The line for `diff`, its own Buffer (it may sit in a watcher's queue while the next one is written). */
  write(diff: LeadershipDiff): Buffer {
    const t = diff.table;
    const S = t.stride;
    const count = diff.count;
    const perEntry = S + 1; // old primary, new primary, S - 1 replicas
    if (this.localOf.length < t.names.length) this.localOf = grownInt32(this.localOf, t.names.length);
    if (this.cells.length < count * perEntry) this.cells = new Uint32Array(Math.max(count * perEntry, this.cells.length * 2));
    if (this.tokenValues.length < count) this.tokenValues = new Float64Array(Math.max(count, this.tokenValues.length * 2));
    const localOf = this.localOf;
    const used = this.used;
    const cells = this.cells;
    const tokens = this.tokenValues;
    const ids = diff.ids;
    const olds = diff.oldPrimarySlots;
    let members = 0;
    let c = 0;
    let tokenMin = Infinity;
    let tokensAreCounts = true;
    for (let j = 0; j < count; j++) {
      const p = ids[j]!;
      const row = t.rows[p >>> CHUNK_BITS]!;
      const base = (p & CHUNK_MASK) * S;
      const old = olds[j]!;
      if (old < 0) cells[c++] = 0;
      else {
        let v = localOf[old]!;
        if (v === 0) used.push(old), (localOf[old] = v = ++members);
        cells[c++] = v;
      }
      const primary = row[base]!;
      if (primary < 0) cells[c++] = 0;
      else {
        let v = localOf[primary]!;
        if (v === 0) used.push(primary), (localOf[primary] = v = ++members);
        cells[c++] = v;
      }
      // The replicas up to the first empty slot, as the full line lists them; zeros after.
      let k = 1;
      for (; k < S; k++) {
        const slot = row[base + k]!;
        if (slot < 0) break;
        let v = localOf[slot]!;
        if (v === 0) used.push(slot), (localOf[slot] = v = ++members);
        cells[c++] = v;
      }
      for (; k < S; k++) cells[c++] = 0;
      const token = t.tokens[p >>> CHUNK_BITS]![p & CHUNK_MASK]!;
      tokens[j] = token;
      if (token < tokenMin) tokenMin = token;
      if (!(token >= 0 && Number.isSafeInteger(token))) tokensAreCounts = false;
    }
    const names = new Array<string>(members);
    for (let i = 0; i < used.length; i++) {
      const slot = used[i]!;
      names[localOf[slot]! - 1] = t.names[slot]!;
      localOf[slot] = 0;
    }
    used.length = 0;
    const width = members <= 0xff ? 1 : members <= 0xffff ? 2 : 4;

    // One scratch buffer for the three columns: ids, then cells, then tokens.
    const idsMax = count * 2 * VARINT_MAX;
    const cellBytes = c * width;
    const tokenBytes = tokensAreCounts ? count * VARINT_MAX : count * 8;
    const need = idsMax + cellBytes + tokenBytes + 8;
    if (this.bytes.length < need) this.bytes = new Uint8Array(Math.max(need, this.bytes.length * 2));
    const b = this.bytes;
    const idsEnd = writeIds(b, 0, ids, count);
    let at = idsEnd;
    if (width === 1) for (let i = 0; i < c; i++) b[at++] = cells[i]!;
    else if (width === 2) {
      for (let i = 0; i < c; i++) {
        const v = cells[i]!;
        b[at++] = v & 0xff;
        b[at++] = v >>> 8;
      }
    } else {
      for (let i = 0; i < c; i++) {
        const v = cells[i]!;
        b[at++] = v & 0xff;
        b[at++] = (v >>> 8) & 0xff;
        b[at++] = (v >>> 16) & 0xff;
        b[at++] = v >>> 24;
      }
    }
    const cellsEnd = at;
    if (tokensAreCounts) {
      for (let j = 0; j < count; j++) at = writeVarint(b, at, tokens[j]! - tokenMin);
    } else {
      const f = new Float64Array(1);
      const fb = new Uint8Array(f.buffer);
      for (let j = 0; j < count; j++) {
        f[0] = tokens[j]!;
        // Little-endian, whatever the host's order.
        for (let i = 0; i < 8; i++) b[at++] = fb[LITTLE_ENDIAN ? i : 7 - i]!;
      }
    }
    const view = Buffer.from(b.buffer, b.byteOffset, at);
    const tokenFields = tokensAreCounts
      ? `"tokenBase":${count === 0 ? 0 : tokenMin},"tokens":"${view.toString('base64', cellsEnd, at)}"`
      : `"tokens64":"${view.toString('base64', cellsEnd, at)}"`;
    const line =
      `{"type":"partitions","format":"compact","viewVersion":${JSON.stringify(diff.viewVersion)},"quorum":${JSON.stringify(diff.quorum)},` +
      `"count":${count},"members":${JSON.stringify(names)},"width":${width},"replicaSlots":${S - 1},` +
      `"ids":"${view.toString('base64', 0, idsEnd)}","slots":"${view.toString('base64', idsEnd, cellsEnd)}",${tokenFields}}\n`;
    return Buffer.from(line, 'utf8');
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function grownInt32(a: Int32Array, atLeast: number): Int32Array {
  const bigger = new Int32Array(Math.max(atLeast, a.length * 2));
  bigger.set(a);
  return bigger;
}

/** An unsigned LEB128 varint of a non-negative integer below 2^53. */
function writeVarint(b: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    b[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  b[at++] = v;
  return at;
}

/**
 * Ids as varints: each token is 2 · zigzag(id − (previous id + 1)) + run, where
 * run 1 means a second varint follows with how many consecutive ids come after
 * this one. The previous id starts at −1, so 0, 1, 2, … is one token and a count.
 */
function writeIds(b: Uint8Array, at: number, ids: Int32Array, count: number): number {
  let prev = -1;
  for (let j = 0; j < count; ) {
    const id = ids[j]!;
    let end = j + 1;
    while (end < count && ids[end] === ids[end - 1]! + 1) end++;
    const d = id - (prev + 1);
    const zz = d >= 0 ? 2 * d : -2 * d - 1;
    // A run of two is as short as two tokens; runs start at three.
    const more = end - j - 1;
    if (more >= 2) {
      at = writeVarint(b, at, 2 * zz + 1);
      at = writeVarint(b, at, more);
      prev = id + more;
      j = end;
    } else {
      at = writeVarint(b, at, 2 * zz);
      prev = id;
      j++;
    }
  }
  return at;
}
