// The compress message `[9]{Algo, Buf}`: Buf is the LZW-compressed inner message
// (with its own type byte). Algo 0 (LZW) is the only algorithm memberlist defines.
import { WireError } from './errors.js';
import { fieldBytes, fieldInt, GoMsgpackReader, GoMsgpackWriter } from './gomsgpack.js';
import { lzwCompress, lzwDecompress } from './lzw.js';
import { MessageType } from './messages.js';

const LZW_ALGO = 0;

export function compressMessage(msg: Uint8Array): Uint8Array {
  const w = new GoMsgpackWriter(msg.length + 16);
  w.byte(MessageType.Compress).mapHeader(2);
  w.str('Algo').uint(LZW_ALGO);
  w.str('Buf').raw(lzwCompress(msg));
  return w.finish();
}

/** Returns the inner message of a `[9]…` compress message, bounded by `maxOutputBytes`. */
export function decompressMessage(buf: Uint8Array, maxOutputBytes: number): Uint8Array {
  const r = new GoMsgpackReader(buf, 1);
  const m = r.map();
  const algo = fieldInt(m, 'Algo');
  if (algo !== LZW_ALGO) throw new WireError('unsupported-compression', `compression algorithm ${algo}`);
  const data = fieldBytes(m, 'Buf', buf.length);
  if (data === null) throw new WireError('malformed', 'compress message without Buf');
  return lzwDecompress(data, maxOutputBytes);
}
