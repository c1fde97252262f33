// Serf keeps a member's tags in memberlist's Meta as 0xFF followed by a msgpack
// map[string]string. swimd uses the same format for its own metadata (zone,
// weight, drain), so Serf shows swimd's metadata as tags and the reverse.
// Both directions use the go-msgpack-compatible codec: it writes exactly the
// forms Serf writes, and its reader is strict (a general decoder such as
// msgpackr turns some invalid bytes into values instead of refusing them).
import { fromUtf8, GoMsgpackReader, GoMsgpackWriter } from './gomsgpack.js';
import { META_MAX_BYTES } from './messages.js';
import { WireError } from './errors.js';

export const TAG_MAGIC_BYTE = 0xff;

export function encodeTags(tags: Record<string, string>): Uint8Array {
  const keys = Object.keys(tags).sort();
  const w = new GoMsgpackWriter(64);
  w.byte(TAG_MAGIC_BYTE).mapHeader(keys.length);
  for (const k of keys) w.str(k).str(String(tags[k]));
  const out = w.finish();
  if (out.length > META_MAX_BYTES) throw new WireError('oversized', `tags encode to ${out.length} bytes > ${META_MAX_BYTES}`);
  return out;
}

/** The tags in a member's meta, or null when the meta is not in Serf's tag format. */
export function decodeTags(meta: Uint8Array): Record<string, string> | null {
  if (meta.length === 0 || meta[0] !== TAG_MAGIC_BYTE) return null;
  try {
    const r = new GoMsgpackReader(meta, 1);
    const m = r.map();
    if (r.remaining() !== 0) return null;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(m)) {
      if (!(v instanceof Uint8Array)) return null;
      out[k] = fromUtf8(v);
    }
    return out;
  } catch {
    return null;
  }
}
