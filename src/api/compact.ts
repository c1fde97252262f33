// The compact partitions line (GET /v1/watch?format=compact): the same changes
// as the full line, in a few bytes per changed partition. Member names appear
// once per line in a table and cells hold table indices; ids are varint deltas
// with runs; tokens are varint offsets from the line's smallest. The columns
// are packed bytes in base64, so a reader decodes each with one Buffer.from and
// a loop, never a JSON array of objects. README.md ("Using it from an
// application") describes the format; src/client/compact.ts decodes it.
import type { LeadershipDiff } from '../partition/leadership.js';
import { writeLeb128 } from '../wire/leb128.js';
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
  /** Cells, one byte each while every slot fits one (fewer than 255 names), else four. */
  private cells8 = new Uint8Array(1024);
  private cells32 = new Uint32Array(0);
  private tokenValues = new Float64Array(256);
  private idBytes = new Uint8Array(1024);
  private tokenBytes = new Uint8Array(1024);
  private readonly fill: FillResult = { members: 0, c: 0, tokenMin: 0, tokensAreCounts: true };

  /** The line for `diff`, its own Buffer (it may sit in a watcher's queue while the next one is written). */
  write(diff: LeadershipDiff): Buffer {
    const t = diff.table;
    const S = t.stride;
    const count = diff.count;
    const cellCount = count * (S + 1); // old primary, new primary, S - 1 replicas
    if (this.localOf.length < t.names.length) this.localOf = grownInt32(this.localOf, t.names.length);
    if (this.tokenValues.length < count) this.tokenValues = new Float64Array(Math.max(count, this.tokenValues.length * 2));
    // A line's table never holds more members than there are names: with under 255, a cell is one byte from the start.
    const narrow = t.names.length < 0xff;
    if (narrow && this.cells8.length < cellCount) this.cells8 = new Uint8Array(Math.max(cellCount, this.cells8.length * 2));
    if (!narrow && this.cells32.length < cellCount) this.cells32 = new Uint32Array(Math.max(cellCount, this.cells32.length * 2));
    const cells: Uint8Array | Uint32Array = narrow ? this.cells8 : this.cells32;
    const localOf = this.localOf;
    const used = this.used;
    const tokens = this.tokenValues;
    const ids = diff.ids;
    const r = this.fill;
    fillCells(r, t, ids, diff.oldPrimarySlots, count, cells, localOf, used, tokens);
    const { members, c, tokenMin, tokensAreCounts } = r;
    const names = new Array<string>(members);
    for (let i = 0; i < used.length; i++) {
      const slot = used[i]!;
      names[localOf[slot]! - 1] = t.names[slot]!;
      localOf[slot] = 0;
    }
    used.length = 0;
    const width = members <= 0xff ? 1 : members <= 0xffff ? 2 : 4;

    if (this.idBytes.length < count * 2 * VARINT_MAX) this.idBytes = new Uint8Array(count * 2 * VARINT_MAX);
    const idsEnd = writeIds(this.idBytes, 0, ids, count);
    const slots = narrow ? bufferOf(this.cells8, c) : packCells(this.cells32, c, width);
    if (this.tokenBytes.length < count * VARINT_MAX) this.tokenBytes = new Uint8Array(count * VARINT_MAX);
    const tb = this.tokenBytes;
    const at = tokensAreCounts ? writeTokenOffsets(tb, tokens, count, tokenMin) : writeTokenFloats(tb, tokens, count);
    // The line's pieces: ASCII text and base64 copied as latin1 (a byte per character), the names as UTF-8.
    const head = `{"type":"partitions","format":"compact","viewVersion":${JSON.stringify(diff.viewVersion)},"quorum":${JSON.stringify(diff.quorum)},"count":${count},"members":`;
    const namesJson = JSON.stringify(names);
    const idsText = bufferOf(this.idBytes, idsEnd).toString('base64');
    const slotsText = slots.toString('base64');
    const tokensText = bufferOf(tb, at).toString('base64');
    const mid = `,"width":${width},"replicaSlots":${S - 1},"ids":"`;
    const tokenKey = tokensAreCounts ? `","tokenBase":${count === 0 ? 0 : tokenMin},"tokens":"` : '","tokens64":"';
    const pieces = [head, namesJson, mid, idsText, '","slots":"', slotsText, tokenKey, tokensText, '"}\n'];
    let size = 0;
    for (const piece of pieces) size += piece === namesJson ? Buffer.byteLength(piece, 'utf8') : piece.length;
    const out = Buffer.allocUnsafeSlow(size);
    let w = 0;
    for (const piece of pieces) w += out.write(piece, w, piece === namesJson ? 'utf8' : 'latin1');
    return out;
  }
}

interface FillResult {
  members: number;
  c: number;
  tokenMin: number;
  tokensAreCounts: boolean;
}

/**
 * The hot loop, alone in its function so it is optimised once and stays so:
 * per changed partition its cells (old primary, new primary, replicas; 1 +
 * the member's index in the line's table, 0 for none) and its token.
 */
function fillCells(r: FillResult, t: LeadershipDiff['table'], ids: Int32Array, olds: Int32Array, count: number, cells: Uint8Array | Uint32Array, localOf: Int32Array, used: number[], tokens: Float64Array): void {
  const S = t.stride;
  const rows = t.rows;
  const tokenChunks = t.tokens;
  let members = 0;
  let c = 0;
  let tokenMin = Infinity;
  let tokensAreCounts = true;
  for (let j = 0; j < count; j++) {
    const p = ids[j]!;
    const row = rows[p >>> CHUNK_BITS]!;
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
    const token = tokenChunks[p >>> CHUNK_BITS]![p & CHUNK_MASK]!;
    tokens[j] = token;
    if (token < tokenMin) tokenMin = token;
    if (!(token >= 0 && token <= Number.MAX_SAFE_INTEGER && Math.floor(token) === token)) tokensAreCounts = false;
  }
  r.members = members;
  r.c = c;
  r.tokenMin = tokenMin;
  r.tokensAreCounts = tokensAreCounts;
}

/** Tokens as varint offsets from the smallest; returns the end. */
function writeTokenOffsets(b: Uint8Array, tokens: Float64Array, count: number, tokenMin: number): number {
  let at = 0;
  for (let j = 0; j < count; j++) {
    const offset = tokens[j]! - tokenMin;
    if (offset < 0x80) b[at++] = offset;
    else at = writeLeb128(b, at, offset);
  }
  return at;
}

/** Tokens as float64, little-endian whatever the host's order; returns the end. */
function writeTokenFloats(b: Uint8Array, tokens: Float64Array, count: number): number {
  const f = new Float64Array(1);
  const fb = new Uint8Array(f.buffer);
  let at = 0;
  for (let j = 0; j < count; j++) {
    f[0] = tokens[j]!;
    for (let i = 0; i < 8; i++) b[at++] = fb[LITTLE_ENDIAN ? i : 7 - i]!;
  }
  return at;
}

/** The first `length` bytes of a scratch array as a Buffer over the same memory (no copy). */
function bufferOf(a: Uint8Array, length: number): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, length);
}

/** Cells of `width` bytes each, little-endian, in a fresh Buffer. */
function packCells(cells: Uint32Array, n: number, width: 1 | 2 | 4): Buffer {
  const b = Buffer.allocUnsafe(n * width);
  let at = 0;
  if (width === 1) for (let i = 0; i < n; i++) b[at++] = cells[i]!;
  else if (width === 2) {
    for (let i = 0; i < n; i++) {
      const v = cells[i]!;
      b[at++] = v & 0xff;
      b[at++] = v >>> 8;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = cells[i]!;
      b[at++] = v & 0xff;
      b[at++] = (v >>> 8) & 0xff;
      b[at++] = (v >>> 16) & 0xff;
      b[at++] = v >>> 24;
    }
  }
  return b;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function grownInt32(a: Int32Array, atLeast: number): Int32Array {
  const bigger = new Int32Array(Math.max(atLeast, a.length * 2));
  bigger.set(a);
  return bigger;
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
      at = writeLeb128(b, at, 2 * zz + 1);
      at = writeLeb128(b, at, more);
      prev = id + more;
      j = end;
    } else {
      at = writeLeb128(b, at, 2 * zz);
      prev = id;
      j++;
    }
  }
  return at;
}
