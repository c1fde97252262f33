// LZW as Go's compress/lzw does it with LSB bit order and 8-bit literals, the
// only compression memberlist uses (compress message, Algo 0). Codes start 9
// bits wide and grow to 12; 256 is the clear code, 257 end of data.
import { WireError } from './errors.js';

const LIT_WIDTH = 8;
const CLEAR = 1 << LIT_WIDTH;
const EOF = CLEAR + 1;
const MAX_WIDTH = 12;
const MAX_CODE = (1 << MAX_WIDTH) - 1;

class BitWriter {
  private out: number[] = [];
  private bits = 0;
  private nBits = 0;
  write(code: number, width: number): void {
    this.bits |= code << this.nBits;
    this.nBits += width;
    while (this.nBits >= 8) {
      this.out.push(this.bits & 0xff);
      this.bits >>>= 8;
      this.nBits -= 8;
    }
  }
  finish(): Uint8Array {
    if (this.nBits > 0) this.out.push(this.bits & 0xff);
    return Uint8Array.from(this.out);
  }
}

/** Compresses like Go's lzw.NewWriter(w, lzw.LSB, 8): leading clear code, trailing EOF code. */
export function lzwCompress(input: Uint8Array): Uint8Array {
  const w = new BitWriter();
  let width = LIT_WIDTH + 1;
  let hi = EOF;
  let overflow = 1 << width;
  let table = new Map<number, number>();
  // Returns false when the code space ran out and the table was reset.
  const incHi = (): boolean => {
    hi++;
    if (hi === overflow) {
      width++;
      overflow <<= 1;
    }
    if (hi === MAX_CODE) {
      w.write(CLEAR, width);
      width = LIT_WIDTH + 1;
      hi = EOF;
      overflow = CLEAR << 1;
      table = new Map();
      return false;
    }
    return true;
  };
  w.write(CLEAR, width);
  if (input.length === 0) {
    w.write(EOF, width);
    return w.finish();
  }
  let code = input[0]!;
  for (let i = 1; i < input.length; i++) {
    const literal = input[i]!;
    const key = (code << 8) | literal;
    const hit = table.get(key);
    if (hit !== undefined) {
      code = hit;
      continue;
    }
    w.write(code, width);
    code = literal;
    if (incHi()) table.set(key, hi);
  }
  w.write(code, width);
  incHi();
  w.write(EOF, width);
  return w.finish();
}

/** Decompresses Go LSB/8 LZW; output is bounded by `maxOutputBytes`. */
export function lzwDecompress(input: Uint8Array, maxOutputBytes: number): Uint8Array {
  const prefix = new Uint16Array(1 << MAX_WIDTH);
  const suffix = new Uint8Array(1 << MAX_WIDTH);
  const out: number[] = [];
  let width = LIT_WIDTH + 1;
  let hi = EOF;
  let overflow = 1 << width;
  let last = -1;
  let bits = 0;
  let nBits = 0;
  let pos = 0;
  const scratch = new Uint8Array(1 << MAX_WIDTH);
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
      out.push(code);
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
      return Uint8Array.from(out);
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
      for (let j = i; j < scratch.length; j++) out.push(scratch[j]!);
      if (last !== -1) {
        suffix[hi] = c;
        prefix[hi] = last;
      }
    } else {
      throw new WireError('malformed', 'lzw invalid code');
    }
    if (out.length > maxOutputBytes) throw new WireError('oversized', `lzw output over ${maxOutputBytes} bytes`);
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
