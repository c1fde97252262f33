// A narrow msgpack writer and a bounded reader that follow the rules of the
// go-msgpack 0.5.x codec memberlist 0.2.x encodes with:
//  - structs are maps keyed by the Go field name, fields in sorted name order;
//  - Go strings AND []byte are legacy raw strings: fixstr, str16 or str32, never
//    str8 and never bin; a nil []byte is nil;
//  - unsigned and non-negative signed integers take the smallest unsigned form.
// msgpackr, the project's general msgpack library, writes str8/bin and decodes
// every str as UTF-8 text, which would corrupt raw address bytes, so the fixed
// memberlist schemas go through this codec instead.
import { WireError } from './errors.js';

export class GoMsgpackWriter {
  private buf: Uint8Array;
  private len = 0;

  constructor(initialBytes = 128, buffer?: Uint8Array) {
    this.buf = buffer !== undefined && buffer.length >= initialBytes ? buffer : new Uint8Array(initialBytes);
  }

  /** The buffer written into (for a caller that keeps it to write the next message into, see encodeMessage). */
  scratch(): Uint8Array {
    return this.buf;
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): this {
    this.ensure(1);
    this.buf[this.len++] = b;
    return this;
  }

  bytes(data: Uint8Array): this {
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  private be(value: number, width: 1 | 2 | 4): void {
    this.ensure(width);
    for (let i = width - 1; i >= 0; i--) this.buf[this.len++] = Math.floor(value / 2 ** (8 * i)) & 0xff;
  }

  mapHeader(n: number): this {
    if (n < 16) return this.byte(0x80 | n);
    this.byte(0xde);
    this.be(n, 2);
    return this;
  }

  /** Non-negative integer (Go uint*, or int ≥ 0 which 0.5.x writes the same way). */
  uint(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) throw new WireError('malformed', `not an unsigned integer: ${v}`);
    if (v <= 0x7f) return this.byte(v);
    if (v <= 0xff) return this.byte(0xcc).byte(v);
    if (v <= 0xffff) {
      this.byte(0xcd);
      this.be(v, 2);
      return this;
    }
    if (v <= 0xffffffff) {
      this.byte(0xce);
      this.be(v, 4);
      return this;
    }
    this.byte(0xcf);
    this.be(Math.floor(v / 2 ** 32), 4);
    this.be(v >>> 0, 4);
    return this;
  }

  arrayHeader(n: number): this {
    if (n < 16) return this.byte(0x90 | n);
    this.byte(0xdc);
    this.be(n, 2);
    return this;
  }

  bool(v: boolean): this {
    return this.byte(v ? 0xc3 : 0xc2);
  }

  nil(): this {
    return this.byte(0xc0);
  }

  /** Raw string form for text or bytes: fixstr, str16, str32. */
  raw(data: Uint8Array): this {
    const n = data.length;
    if (n < 32) this.byte(0xa0 | n);
    else if (n <= 0xffff) {
      this.byte(0xda);
      this.be(n, 2);
    } else {
      this.byte(0xdb);
      this.be(n, 4);
    }
    return this.bytes(data);
  }

  str(s: string): this {
    return this.raw(encodeCached(s));
  }

  /** A []byte field: nil stays nil. */
  rawOrNil(data: Uint8Array | null | undefined): this {
    return data == null ? this.nil() : this.raw(data);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: false });

// Field names and member names repeat in every message; caching their bytes
// takes text encoding off the hot path. Bounded: cleared when it grows large.
const ENCODE_CACHE_MAX = 8192;
const encodeCache = new Map<string, Uint8Array>();
function encodeCached(s: string): Uint8Array {
  if (s.length > 64) return textEncoder.encode(s);
  let b = encodeCache.get(s);
  if (b === undefined) {
    if (encodeCache.size >= ENCODE_CACHE_MAX) encodeCache.clear();
    b = textEncoder.encode(s);
    encodeCache.set(s, b);
  }
  return b;
}

/** Short ASCII (map keys, most names) decodes faster by hand than through TextDecoder. */
function decodeText(b: Uint8Array): string {
  return b.length <= 64 ? textAt(b, 0, b.length) : textDecoder.decode(b);
}

// Map keys and member names repeat in every message: the same few dozen field
// names, and each member's name in every alive message about it. Interning
// short ASCII text by a hash of its bytes turns most decodes into a lookup
// with no allocation, and lets every record of one name share one string.
// Bounded: cleared when full.
const INTERN_MAX = 16_384;
const INTERN_MAX_BYTES = 64;
const interned = new Map<number, string>();

/** The text of buf[start, start + len): interned when short ASCII, else decoded. */
function textAt(buf: Uint8Array, start: number, len: number): string {
  if (len > INTERN_MAX_BYTES) return textDecoder.decode(buf.subarray(start, start + len));
  let h = len;
  for (let i = start; i < start + len; i++) {
    const c = buf[i]!;
    if (c >= 0x80) return textDecoder.decode(buf.subarray(start, start + len));
    h = (Math.imul(h, 31) + c) | 0;
  }
  const hit = interned.get(h);
  if (hit !== undefined && hit.length === len) {
    let same = true;
    for (let i = 0; i < len; i++) {
      if (hit.charCodeAt(i) !== buf[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return hit;
  }
  let s = '';
  for (let i = start; i < start + len; i++) s += String.fromCharCode(buf[i]!);
  if (interned.size >= INTERN_MAX) interned.clear();
  interned.set(h, s);
  return s;
}

/**
 * Decoded maps: no prototype to collide with (a key "__proto__" or
 * "constructor" is just a key), yet not Object.create(null), which V8 keeps as
 * a slow dictionary; objects from one constructor share shapes, so reading a
 * decoded struct's fields is a fast property load.
 */
const DecodedMap = function DecodedMap(this: object) {} as unknown as { new (): MsgMap };
DecodedMap.prototype = Object.create(null) as MsgMap;

/** The empty byte string, shared: a zero-length array has nothing to change, and nil/empty fields are common. */
const NO_BYTES = new Uint8Array(0);

export type MsgValue = number | boolean | null | Uint8Array | MsgValue[] | MsgMap;
export interface MsgMap {
  [key: string]: MsgValue;
}

/** Hard bounds so a lying length field can never make the reader allocate or loop much. */
const MAX_CONTAINER_ITEMS = 100_000;
const MAX_DEPTH = 16;

/**
 * Bounded msgpack reader. Strings and binaries come back as bytes (map keys as
 * text); every length is checked against what is left before anything is
 * allocated. Throws WireError('truncated' | 'malformed') on bad input.
 */
export class GoMsgpackReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
  ) {
    this.pos = start;
  }

  remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new WireError('truncated', `needs ${n} more bytes at offset ${this.pos}`);
  }

  private u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  private uN(width: number): number {
    this.need(width);
    let v = 0;
    for (let i = 0; i < width; i++) v = v * 256 + this.buf[this.pos++]!;
    return v;
  }

  private iN(width: number): number {
    const u = this.uN(width);
    const half = 2 ** (8 * width - 1);
    return u >= half ? u - 2 * half : u;
  }

  private take(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Reads any value. */
  value(depth = 0): MsgValue {
    if (depth > MAX_DEPTH) throw new WireError('malformed', 'msgpack nesting too deep');
    const b = this.u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return this.mapBody(b & 0x0f, depth);
    if ((b & 0xf0) === 0x90) return this.arrayBody(b & 0x0f, depth);
    if ((b & 0xe0) === 0xa0) return this.take(b & 0x1f);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
      case 0xd9:
        return this.take(this.uN(1));
      case 0xc5:
      case 0xda:
        return this.take(this.uN(2));
      case 0xc6:
      case 0xdb:
        return this.take(this.uN(4));
      case 0xca: {
        this.need(4);
        const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0);
        this.pos += 4;
        return v;
      }
      case 0xcb: {
        this.need(8);
        const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0);
        this.pos += 8;
        return v;
      }
      case 0xcc:
        return this.uN(1);
      case 0xcd:
        return this.uN(2);
      case 0xce:
        return this.uN(4);
      case 0xcf:
        return this.uN(8);
      case 0xd0:
        return this.iN(1);
      case 0xd1:
        return this.iN(2);
      case 0xd2:
        return this.iN(4);
      case 0xd3:
        return this.iN(8);
      case 0xdc:
        return this.arrayBody(this.uN(2), depth);
      case 0xdd:
        return this.arrayBody(this.uN(4), depth);
      case 0xde:
        return this.mapBody(this.uN(2), depth);
      case 0xdf:
        return this.mapBody(this.uN(4), depth);
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8: {
        const n = [1, 2, 4, 8, 16][b - 0xd4]!;
        this.take(1 + n);
        throw new WireError('malformed', 'msgpack extension types are not part of the protocol');
      }
      default:
        throw new WireError('malformed', `bad msgpack byte 0x${b.toString(16)} at offset ${this.pos - 1}`);
    }
  }

  private arrayBody(n: number, depth: number): MsgValue[] {
    if (n > MAX_CONTAINER_ITEMS || n > this.remaining()) throw new WireError('truncated', `array of ${n} items exceeds input`);
    const out: MsgValue[] = [];
    for (let i = 0; i < n; i++) out.push(this.value(depth + 1));
    return out;
  }

  private mapBody(n: number, depth: number): MsgMap {
    if (n > MAX_CONTAINER_ITEMS || n * 2 > this.remaining()) throw new WireError('truncated', `map of ${n} entries exceeds input`);
    const out = new DecodedMap();
    for (let i = 0; i < n; i++) {
      const key = this.key(depth + 1);
      out[key] = this.value(depth + 1);
    }
    return out;
  }

  /** A map key: short raw strings (every Go field name) straight from the buffer, interned; anything else through value(). */
  private key(depth: number): string {
    const b = this.buf[this.pos];
    if (b !== undefined && (b & 0xe0) === 0xa0) {
      const len = b & 0x1f;
      this.need(1 + len);
      const k = textAt(this.buf, this.pos + 1, len);
      this.pos += 1 + len;
      return k;
    }
    const k = this.value(depth);
    if (k instanceof Uint8Array) return decodeText(k);
    if (typeof k === 'number') return String(k);
    throw new WireError('malformed', 'map key is not a string');
  }

  /** Reads a value that must be a map (a Go struct). */
  map(): MsgMap {
    const v = this.value();
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) {
      throw new WireError('malformed', 'expected a msgpack map');
    }
    return v;
  }
}

// --- field accessors with Go's zero-value semantics for missing keys ---

export function fieldUint(m: MsgMap, key: string, max = 0xffffffff): number {
  const v = m[key];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new WireError('malformed', `field ${key}: expected an unsigned integer ≤ ${max}`);
  }
  return v;
}

export function fieldInt(m: MsgMap, key: string): number {
  const v = m[key];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new WireError('malformed', `field ${key}: expected an integer`);
  return v;
}

export function fieldBool(m: MsgMap, key: string): boolean {
  const v = m[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new WireError('malformed', `field ${key}: expected a bool`);
  return v;
}

/** A []byte field: raw/str/bin, or an array of small ints (go-msgpack accepts both); null when nil or missing. */
export function fieldBytes(m: MsgMap, key: string, maxLen: number): Uint8Array | null {
  const v = m[key];
  if (v === undefined || v === null) return null;
  let out: Uint8Array;
  // Copy so a decoded field never pins (or aliases) the whole received packet.
  if (v instanceof Uint8Array) out = v.length === 0 ? NO_BYTES : new Uint8Array(v);
  else if (Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 255)) {
    out = Uint8Array.from(v as number[]);
  } else throw new WireError('malformed', `field ${key}: expected bytes`);
  if (out.length > maxLen) throw new WireError('oversized', `field ${key}: ${out.length} bytes > ${maxLen}`);
  return out;
}

export function fieldString(m: MsgMap, key: string, maxLen = 65_535): string {
  const v = m[key];
  // Text is a copy already: no need to copy the bytes first.
  if (v instanceof Uint8Array) {
    if (v.length > maxLen) throw new WireError('oversized', `field ${key}: ${v.length} bytes > ${maxLen}`);
    return decodeText(v);
  }
  const b = fieldBytes(m, key, maxLen);
  return b === null ? '' : decodeText(b);
}

export function utf8(s: string): Uint8Array {
  return encodeCached(s);
}

export function fromUtf8(b: Uint8Array): string {
  return decodeText(b);
}
