// Answers Serf's key queries (`serf keys -list/-install/-use/-remove`), which
// a Serf agent sends to every member and counts the answers of: the query
// arrives as a memberlist user message, the operation runs on this member's
// keyring (the one the core seals and opens with, so after -use this member
// sends on the new key at once), and the answer goes straight back to the
// address the query names, as a user message over UDP, as Serf's own members
// answer. Queries arrive several times by gossip: each (LTime, ID) is handled
// once. Other queries are claimed and counted, never answered; this member
// does not rebroadcast queries (the Serf agents gossip them). A Serf member
// answering with a relay factor sends copies of its answer through random
// members, swimd ones included: those relays (type 9) are forwarded, query
// responses only, within the size limit.
import type { Address } from '../base/env.js';
import { bytesToIp } from '../core/addresses.js';
import { KeyringError } from '../wire/keyring.js';
import { decodeTags } from '../wire/serf-tags.js';
import {
  decodeSerfKeyRequest,
  decodeSerfRelay,
  SERF_QUERY_RESPONSE,
  decodeSerfQuery,
  decodeSerfQueryFilter,
  encodeSerfKeyResponse,
  encodeSerfQueryResponse,
  SERF_QUERY_FLAG_ACK,
  SERF_QUERY_SIZE_LIMIT_BYTES,
  type SerfKeyResponse,
  type SerfQuery,
} from '../wire/serf-query.js';
import type { KeyOperation, KeyOps } from './keys.js';

const KEY_QUERIES: Readonly<Record<string, KeyOperation | 'list'>> = {
  '_serf_install-key': 'install',
  '_serf_use-key': 'use',
  '_serf_remove-key': 'remove',
  '_serf_list-keys': 'list',
};

/** How many recent queries are remembered to answer each once (Serf keeps its last 512 Lamport times). */
export const SERF_QUERIES_REMEMBERED = 512;

export interface SerfKeysNode {
  readonly name: string;
  member(name: string): { meta: Uint8Array } | undefined;
  sendUserMessage(to: Address, payload: Uint8Array): boolean;
}

export interface SerfKeyCounters {
  /** Key queries answered. */
  answered: number;
  /** Queries that are not key queries (claimed, not answered). */
  ignored: number;
  /** Repeats of a query already handled. */
  duplicate: number;
  /** Key queries whose filters leave this member out. */
  filteredOut: number;
  /** Queries that did not decode, or named no usable reply address. */
  malformed: number;
  /** Answers that could not be sent (over the size limit, the node stopped). */
  unsent: number;
  /** Query responses relayed for another member, and relays refused (not a query response, too large, no address). */
  relayed: number;
  relayRefused: number;
}

/** A 16-byte IPv4-mapped address (Go's net.IP form of an IPv4 address) is sent to as IPv4. */
function hostOf(ip: Uint8Array): string | null {
  if (ip.length === 16 && ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) return bytesToIp(ip.subarray(12));
  return bytesToIp(ip);
}

export class SerfKeyQueries {
  readonly counters: SerfKeyCounters = { answered: 0, ignored: 0, duplicate: 0, filteredOut: 0, malformed: 0, unsent: 0, relayed: 0, relayRefused: 0 };
  /** Insertion-ordered, so the oldest is evicted first. */
  private readonly seen = new Set<string>();

  constructor(
    private readonly node: SerfKeysNode,
    private readonly keys: KeyOps,
    private readonly log: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void = () => {},
  ) {}

  /** User-message delegate: claims every Serf query, answers the key queries. */
  readonly onUserMessage = (from: Address, payload: Uint8Array): boolean => {
    const relay = decodeSerfRelay(payload);
    if (relay !== null) {
      const host = relay === 'malformed' ? null : hostOf(relay.ip);
      if (relay === 'malformed' || host === null || relay.port === 0 || relay.message[0] !== SERF_QUERY_RESPONSE || relay.message.length > SERF_QUERY_SIZE_LIMIT_BYTES || !this.node.sendUserMessage({ host, port: relay.port }, relay.message)) this.counters.relayRefused++;
      else this.counters.relayed++;
      return true;
    }
    const decoded = decodeSerfQuery(payload);
    if (decoded === null) return false;
    if (!decoded.ok) {
      this.counters.malformed++;
      return true;
    }
    const q = decoded.query;
    const op = Object.hasOwn(KEY_QUERIES, q.name) ? KEY_QUERIES[q.name]! : null;
    if (op === null) {
      this.counters.ignored++;
      return true;
    }
    const id = `${q.lamportTime}:${q.id}`;
    if (this.seen.has(id)) {
      this.counters.duplicate++;
      return true;
    }
    this.seen.add(id);
    if (this.seen.size > SERF_QUERIES_REMEMBERED) this.seen.delete(this.seen.values().next().value!);
    const host = hostOf(q.addr);
    if (host === null || q.port === 0) {
      this.counters.malformed++;
      return true;
    }
    if (!this.selected(q)) {
      this.counters.filteredOut++;
      return true;
    }
    const to = { host, port: q.port };
    if ((q.flags & SERF_QUERY_FLAG_ACK) !== 0) this.send(to, encodeSerfQueryResponse({ lamportTime: q.lamportTime, id: q.id, from: this.node.name, flags: SERF_QUERY_FLAG_ACK, payload: null }));
    const answer = this.perform(op, q);
    this.log(answer.result ? 'info' : 'warn', `serf key query ${q.name}: ${answer.result ? 'done' : answer.message}`, { query: q.name, from: `${from.host}:${from.port}`, replyTo: `${host}:${q.port}`, result: answer.result });
    if (this.send(to, this.responseOf(q, answer))) this.counters.answered++;
    return true;
  };

  private perform(op: KeyOperation | 'list', q: SerfQuery): SerfKeyResponse {
    try {
      if (op === 'list') return { result: true, message: '', keys: this.keys.list().map((k) => k.key) };
      const key = decodeSerfKeyRequest(q.payload);
      if (key === null) return { result: false, message: 'the key request did not decode', keys: [] };
      this.keys.apply(op, key);
      return { result: true, message: '', keys: [] };
    } catch (err) {
      if (err instanceof KeyringError) return { result: false, message: `${err.message} (${err.code})`, keys: [] };
      throw err;
    }
  }

  /** The answer, within Serf's response size limit: a long key list is cut, and says so, as Serf does. */
  private responseOf(q: SerfQuery, answer: SerfKeyResponse): Uint8Array {
    const encode = (a: SerfKeyResponse): Uint8Array => encodeSerfQueryResponse({ lamportTime: q.lamportTime, id: q.id, from: this.node.name, flags: 0, payload: encodeSerfKeyResponse(a) });
    let raw = encode(answer);
    const all = answer.keys.length;
    for (let n = all - 1; raw.length > SERF_QUERY_SIZE_LIMIT_BYTES && n >= 0; n--) {
      raw = encode({ ...answer, keys: answer.keys.slice(0, n), message: `truncated key list response, showing first ${n} of ${all} keys` });
    }
    return raw;
  }

  private send(to: Address, raw: Uint8Array): boolean {
    if (raw.length > SERF_QUERY_SIZE_LIMIT_BYTES || !this.node.sendUserMessage(to, raw)) {
      this.counters.unsent++;
      return false;
    }
    return true;
  }

  /** Serf's filters: every one must select this member (a node list naming it, a tag matching its expression); one not understood selects nothing. */
  private selected(q: SerfQuery): boolean {
    for (const raw of q.filters) {
      const f = decodeSerfQueryFilter(raw);
      if (f.kind === 'unknown') return false;
      if (f.kind === 'nodes' && !f.nodes.includes(this.node.name)) return false;
      if (f.kind === 'tag') {
        const tags = decodeTags(this.node.member(this.node.name)?.meta ?? new Uint8Array(0)) ?? {};
        let re: RegExp;
        try {
          re = new RegExp(f.expr, 'u');
        } catch {
          return false;
        }
        if (!re.test(tags[f.tag] ?? '')) return false;
      }
    }
    return true;
  }
}
