// Serf's queries and their responses, carried in memberlist user messages
// (type 8): one byte of Serf message type, then a msgpack map keyed by Go field
// names, in go-msgpack's legacy raw-string form (see gomsgpack.ts).
//  - query (4): LTime, ID, Addr (raw IP bytes), Port, Filters ([][]byte: a
//    filter-type byte, then msgpack), Flags (1 = ack wanted, 2 = do not
//    rebroadcast), RelayFactor, Timeout (Go time.Duration: nanoseconds), Name, Payload;
//  - query response (5): LTime, ID, From (node name), Flags (1 = this is the
//    ack, not the answer), Payload; sent straight to Addr:Port as a user message;
//  - relay (9): { DestAddr: { IP, Port, Zone } } (a Go net.UDPAddr), then a
//    whole Serf message (a query response) to forward to DestAddr as is;
//  - key request (7) in a query's payload: { Key []byte };
//  - key response (8) in a response's payload: { Result bool, Message string, Keys []string (base64) }.
// Serf's key queries are named _serf_install-key, _serf_use-key,
// _serf_remove-key and _serf_list-keys.
import { fieldBool, fieldBytes, fieldString, fieldUint, GoMsgpackReader, GoMsgpackWriter, type MsgValue } from './gomsgpack.js';

export const SERF_QUERY = 4;
export const SERF_QUERY_RESPONSE = 5;
export const SERF_KEY_REQUEST = 7;
export const SERF_KEY_RESPONSE = 8;
export const SERF_RELAY = 9;
export const SERF_QUERY_FLAG_ACK = 1;
export const SERF_QUERY_FLAG_NO_BROADCAST = 2;
export const SERF_FILTER_NODE = 0;
export const SERF_FILTER_TAG = 1;

/** Serf's default QueryResponseSizeLimit and QuerySizeLimit: what it sends and accepts, in bytes. */
export const SERF_QUERY_SIZE_LIMIT_BYTES = 1024;
/** Bounds on one query's fields; a query is at most SERF_QUERY_SIZE_LIMIT_BYTES where Serf builds it. */
const MAX_QUERY_NAME_BYTES = 256;
const MAX_QUERY_FILTERS = 16;
const MAX_NODE_BYTES = 512;

export interface SerfQuery {
  lamportTime: number;
  id: number;
  addr: Uint8Array;
  port: number;
  filters: Uint8Array[];
  flags: number;
  relayFactor: number;
  name: string;
  payload: Uint8Array;
}

export type SerfQueryDecode = { ok: true; query: SerfQuery } | { ok: false; detail: string };

/** A Serf query, or null when the payload is not one (another Serf message, other traffic). Never throws. */
export function decodeSerfQuery(payload: Uint8Array): SerfQueryDecode | null {
  if (payload.length < 2 || payload[0] !== SERF_QUERY) return null;
  try {
    if (payload.length > 2 * SERF_QUERY_SIZE_LIMIT_BYTES) return { ok: false, detail: `query of ${payload.length} bytes` };
    const r = new GoMsgpackReader(payload, 1);
    const m = r.map();
    if (r.remaining() !== 0) return { ok: false, detail: 'trailing bytes after the query' };
    const rawFilters = m.Filters ?? null;
    if (rawFilters !== null && !Array.isArray(rawFilters)) return { ok: false, detail: 'Filters is not a list' };
    if ((rawFilters ?? []).length > MAX_QUERY_FILTERS) return { ok: false, detail: 'too many filters' };
    const filters = (rawFilters ?? []).map((f: MsgValue) => {
      if (!(f instanceof Uint8Array) || f.length === 0) throw new Error('a filter is not bytes');
      return new Uint8Array(f);
    });
    const addr = fieldBytes(m, 'Addr', 16) ?? new Uint8Array(0);
    if (addr.length !== 4 && addr.length !== 16) return { ok: false, detail: `Addr of ${addr.length} bytes` };
    return {
      ok: true,
      query: {
        lamportTime: fieldUint(m, 'LTime', Number.MAX_SAFE_INTEGER),
        id: fieldUint(m, 'ID'),
        addr,
        port: fieldUint(m, 'Port', 0xffff),
        filters,
        flags: fieldUint(m, 'Flags'),
        relayFactor: fieldUint(m, 'RelayFactor', 0xff),
        name: fieldString(m, 'Name', MAX_QUERY_NAME_BYTES),
        payload: fieldBytes(m, 'Payload', SERF_QUERY_SIZE_LIMIT_BYTES) ?? new Uint8Array(0),
      },
    };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}

export type SerfQueryFilter = { kind: 'nodes'; nodes: string[] } | { kind: 'tag'; tag: string; expr: string } | { kind: 'unknown' };

/** One of a query's filters (names it must be one of, or a tag's regular expression); unknown or malformed ones are 'unknown'. */
export function decodeSerfQueryFilter(filter: Uint8Array): SerfQueryFilter {
  try {
    const r = new GoMsgpackReader(filter, 1);
    if (filter[0] === SERF_FILTER_NODE) {
      const v = r.value();
      if (!Array.isArray(v) || v.length > 10_000) return { kind: 'unknown' };
      return { kind: 'nodes', nodes: v.map((n) => fieldString({ n }, 'n', MAX_NODE_BYTES)) };
    }
    if (filter[0] === SERF_FILTER_TAG) {
      const m = r.map();
      return { kind: 'tag', tag: fieldString(m, 'Tag', 512), expr: fieldString(m, 'Expr', SERF_QUERY_SIZE_LIMIT_BYTES) };
    }
  } catch {
    // fall through
  }
  return { kind: 'unknown' };
}

/** The key in a key query's payload (type byte 7, then { Key }), or null when it is not one. */
export function decodeSerfKeyRequest(payload: Uint8Array): Uint8Array | null {
  if (payload.length < 2 || payload[0] !== SERF_KEY_REQUEST) return null;
  try {
    const r = new GoMsgpackReader(payload, 1);
    return fieldBytes(r.map(), 'Key', 64);
  } catch {
    return null;
  }
}

export interface SerfQueryResponse {
  lamportTime: number;
  id: number;
  from: string;
  flags: number;
  payload: Uint8Array | null;
}

export function encodeSerfQueryResponse(r: SerfQueryResponse): Uint8Array {
  const w = new GoMsgpackWriter(64 + r.from.length + (r.payload?.length ?? 0));
  w.byte(SERF_QUERY_RESPONSE).mapHeader(5);
  w.str('Flags').uint(r.flags);
  w.str('From').str(r.from);
  w.str('ID').uint(r.id);
  w.str('LTime').uint(r.lamportTime);
  w.str('Payload').rawOrNil(r.payload);
  return w.finish();
}

export function decodeSerfQueryResponse(payload: Uint8Array): SerfQueryResponse | null {
  if (payload.length < 2 || payload[0] !== SERF_QUERY_RESPONSE) return null;
  try {
    const m = new GoMsgpackReader(payload, 1).map();
    return { lamportTime: fieldUint(m, 'LTime', Number.MAX_SAFE_INTEGER), id: fieldUint(m, 'ID'), from: fieldString(m, 'From', MAX_NODE_BYTES), flags: fieldUint(m, 'Flags'), payload: fieldBytes(m, 'Payload', 1 << 16) };
  } catch {
    return null;
  }
}

export interface SerfKeyResponse {
  result: boolean;
  message: string;
  /** Base64 keys (list-keys only). */
  keys: string[];
}

export function encodeSerfKeyResponse(r: SerfKeyResponse): Uint8Array {
  const w = new GoMsgpackWriter(64 + r.message.length + r.keys.length * 48);
  w.byte(SERF_KEY_RESPONSE).mapHeader(3);
  w.str('Keys');
  // Go writes a nil slice as nil.
  if (r.keys.length === 0) w.nil();
  else {
    w.arrayHeader(r.keys.length);
    for (const k of r.keys) w.str(k);
  }
  w.str('Message').str(r.message);
  w.str('Result').bool(r.result);
  return w.finish();
}

export function decodeSerfKeyResponse(payload: Uint8Array): SerfKeyResponse | null {
  if (payload.length < 2 || payload[0] !== SERF_KEY_RESPONSE) return null;
  try {
    const m = new GoMsgpackReader(payload, 1).map();
    const keys = m.Keys ?? null;
    if (keys !== null && !Array.isArray(keys)) return null;
    return { result: fieldBool(m, 'Result'), message: fieldString(m, 'Message'), keys: (keys ?? []).map((k) => fieldString({ k }, 'k', 64)) };
  } catch {
    return null;
  }
}

/** Test and tool side: a query as Serf encodes it. */
export function encodeSerfQuery(q: SerfQuery & { timeoutNs: number }): Uint8Array {
  const w = new GoMsgpackWriter(128 + q.payload.length);
  w.byte(SERF_QUERY).mapHeader(10);
  w.str('Addr').raw(q.addr);
  w.str('Filters');
  if (q.filters.length === 0) w.nil();
  else {
    w.arrayHeader(q.filters.length);
    for (const f of q.filters) w.raw(f);
  }
  w.str('Flags').uint(q.flags);
  w.str('ID').uint(q.id);
  w.str('LTime').uint(q.lamportTime);
  w.str('Name').str(q.name);
  w.str('Payload').raw(q.payload);
  w.str('Port').uint(q.port);
  w.str('RelayFactor').uint(q.relayFactor);
  w.str('Timeout').uint(q.timeoutNs);
  return w.finish();
}

export function encodeSerfKeyRequest(key: Uint8Array): Uint8Array {
  return new GoMsgpackWriter(40).byte(SERF_KEY_REQUEST).mapHeader(1).str('Key').raw(key).finish();
}

export interface SerfRelay {
  /** Raw IP bytes (4, or 16 for IPv6 and IPv4-mapped). */
  ip: Uint8Array;
  port: number;
  /** The Serf message to forward. */
  message: Uint8Array;
}

/** A relayed query response, or null when the payload is not a relay; a relay that does not decode is 'malformed'. */
export function decodeSerfRelay(payload: Uint8Array): SerfRelay | 'malformed' | null {
  if (payload.length < 2 || payload[0] !== SERF_RELAY) return null;
  try {
    const r = new GoMsgpackReader(payload, 1);
    const header = r.map();
    const dest = header.DestAddr;
    if (dest === null || dest === undefined || typeof dest !== 'object' || Array.isArray(dest) || dest instanceof Uint8Array) return 'malformed';
    const ip = fieldBytes(dest, 'IP', 16);
    if (ip === null || (ip.length !== 4 && ip.length !== 16)) return 'malformed';
    const port = fieldUint(dest, 'Port', 0xffff);
    return { ip, port, message: payload.slice(r.pos) };
  } catch {
    return 'malformed';
  }
}

export function encodeSerfRelay(ip: Uint8Array, port: number, message: Uint8Array): Uint8Array {
  const w = new GoMsgpackWriter(48 + message.length);
  w.byte(SERF_RELAY).mapHeader(1).str('DestAddr').mapHeader(3).str('IP').raw(ip).str('Port').uint(port).str('Zone').str('');
  return w.bytes(message).finish();
}
