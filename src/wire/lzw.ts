// LZW as Go's compress/lzw does it with LSB bit order and 8-bit literals, the
// only compression memberlist uses (compress message, Algo 0). Codes start 9
// bits wide and grow to 12; 256 is the clear code, 257 end of data.
import { WireError } from './errors.js';

const LIT_WIDTH = 8;
const CLEAR = 1 << LIT_WIDTH;
const EOF = CLEAR + 1;
const MAX_WIDTH = 12;
const MAX_CODE = (1 << MAX_WIDTH) - 1;

// The compressor's table maps (prefix code, next byte) to a code. It holds at
// most 4096 codes, so an open-addressing table of 8192 slots, reused by every
// call, does instead of a Map per packet; a slot belongs to the current table
// only when its stamp is the current generation, so a reset costs nothing.
const SLOTS = 1 << 13;
const slotKey = new Int32Array(SLOTS);
const slotCode = new Uint16Array(SLOTS);
const slotStamp = new Uint32Array(SLOTS);
let generation = 0;

function newTable(): void {
  generation++;
  if (generation === 0xffffffff) {
    slotStamp.fill(0);
    generation = 1;
  }
}

function slotOf(key: number): number {
  let i = Math.imul(key, 0x9e3779b1) >>> 19;
  while (slotStamp[i] === generation && slotKey[i] !== key) i = (i + 1) & (SLOTS - 1);
  return i;
}

/** Compresses like Go's lzw.NewWriter(w, lzw.LSB, 8): leading clear code, trailing EOF code. */
export function lzwCompress(input: Uint8Array): Uint8Array {
  // At most one code of ≤ 12 bits per input byte, plus clear codes and EOF.
  const out = new Uint8Array(Math.ceil((input.length * 12) / 8) + 8 + 2 * Math.ceil(input.length / 3000));
  let len = 0;
  let bits = 0;
  let nBits = 0;
  const write = (code: number, width: number): void => {
    bits |= code << nBits;
    nBits += width;
    while (nBits >= 8) {
      out[len++] = bits & 0xff;
      bits >>>= 8;
      nBits -= 8;
    }
  };
  let width = LIT_WIDTH + 1;
  let hi = EOF;
  let overflow = 1 << width;
  newTable();
  // Returns false when the code space ran out and the table was reset.
  const incHi = (): boolean => {
    hi++;
    if (hi === overflow) {
      width++;
      overflow <<= 1;
    }
    if (hi === MAX_CODE) {
      write(CLEAR, width);
      width = LIT_WIDTH + 1;
      hi = EOF;
      overflow = CLEAR << 1;
      newTable();
      return false;
    }
    return true;
  };
  write(CLEAR, width);
  if (input.length > 0) {
    let code = input[0]!;
    for (let i = 1; i < input.length; i++) {
      const literal = input[i]!;
      const key = (code << 8) | literal;
      const slot = slotOf(key);
      if (slotStamp[slot] === generation) {
        code = slotCode[slot]!;
        continue;
      }
      write(code, width);
      code = literal;
      if (incHi()) {
        slotKey[slot] = key;
        slotCode[slot] = hi;
        slotStamp[slot] = generation;
      }
    }
    write(code, width);
    incHi();
  }
  write(EOF, width);
  if (nBits > 0) out[len++] = bits & 0xff;
  return out.slice(0, len);
}

/** Decompresses Go LSB/8 LZW; output is bounded by `maxOutputBytes`. */
/** Written before it is read on every code, so one buffer serves every call. */
const decodeScratch = new Uint8Array(1 << MAX_WIDTH);

export function lzwDecompress(input: Uint8Array, maxOutputBytes: number): Uint8Array {
  const prefix = new Uint16Array(1 << MAX_WIDTH);
  const suffix = new Uint8Array(1 << MAX_WIDTH);
  let out = new Uint8Array(Math.min(maxOutputBytes + 1, Math.max(64, input.length * 4)));
  let len = 0;
  // Grows the output to hold `more` bytes; what is past maxOutputBytes is refused below anyway.
  const room = (more: number): void => {
    if (len + more <= out.length) return;
    const next = new Uint8Array(Math.max(len + more, Math.min(maxOutputBytes + 1 + more, out.length * 2)));
    next.set(out.subarray(0, len));
    out = next;
  };
  let width = LIT_WIDTH + 1;
  let hi = EOF;
  let overflow = 1 << width;
  let last = -1;
  let bits = 0;
  let nBits = 0;
  let pos = 0;
  const scratch = decodeScratch;
  for (;;) {
    while (nBits < width) {
      if (pos >= input.length) throw new WireError('truncated', 'lzw stream ends without an end code');
      bits |= input[pos++]! << nBits;
      nBits += 8;
    }
    const code = bits & ((1 << width) - 1);
    bits >>>= width;
    nBits -= width;
    if (code < CLEAR) {
      room(1);
      out[len++] = code;
      if (last !== -1) {
        suffix[hi] = code;
        prefix[hi] = last;
      }
    } else if (code === CLEAR) {
      width = LIT_WIDTH + 1;
      hi = EOF;
      overflow = 1 << width;
      last = -1;
      continue;
    } else if (code === EOF) {
      return out.slice(0, len);
    } else if (code <= hi) {
      let i = scratch.length - 1;
      let c = code;
      if (code === hi && last !== -1) {
        c = last;
        while (c >= CLEAR) c = prefix[c]!;
        scratch[i--] = c;
        c = last;
      } else if (code === hi) {
        throw new WireError('malformed', 'lzw code refers to an undefined entry');
      }
      while (c >= CLEAR) {
        scratch[i--] = suffix[c]!;
        c = prefix[c]!;
      }
      scratch[i] = c;
      room(scratch.length - i);
      out.set(scratch.subarray(i), len);
      len += scratch.length - i;
      if (last !== -1) {
        suffix[hi] = c;
        prefix[hi] = last;
      }
    } else {
      throw new WireError('malformed', 'lzw invalid code');
    }
    if (len > maxOutputBytes) throw new WireError('oversized', `lzw output over ${maxOutputBytes} bytes`);
    last = code;
    hi++;
    if (hi >= overflow) {
      if (width === MAX_WIDTH) {
        last = -1;
        hi--;
      } else {
        width++;
        overflow = 1 << width;
      }
    }
  }
}
