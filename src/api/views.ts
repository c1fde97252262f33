// JSON shapes of the API, shared by the server, the client and the CLI.
import type { MemberSnapshot } from '../core/member-types.js';
import type { DampingState } from '../partition/flap-damping.js';
import type { LeadershipSnapshot, OwnedPartition } from '../partition/leadership.js';
import { decodeTags } from '../wire/serf-tags.js';

export interface MemberView {
  name: string;
  address: string;
  port: number;
  state: string;
  incarnation: number;
  /** Tags when the metadata is in Serf's tag format, else { raw: base64 }. */
  meta: Record<string, string>;
  /** This daemon has reached the member at its address itself; until then it holds no partition role. */
  contacted: boolean;
  /** Flap damping as this daemon scores the member (absent when damping is off): suppressed members are never primary. */
  damping?: { score: number; suppressed: boolean; flaps: number };
}

export interface PartitionView {
  id: number;
  primary: string | null;
  replicas: string[];
  token: number;
}

export interface PartitionsView {
  viewVersion: number;
  quorum: 'ok' | 'no-quorum';
  liveMembers: number;
  partitions: PartitionView[];
}

export function memberView(m: MemberSnapshot): MemberView {
  const tags = m.meta.length === 0 ? {} : decodeTags(m.meta);
  return { name: m.name, address: m.host, port: m.port, state: m.state, incarnation: m.incarnation, meta: tags ?? { raw: Buffer.from(m.meta).toString('base64') }, contacted: m.contacted };
}

/** The member view with its flap-damping state (score rounded to 3 decimals). */
export function withDamping(v: MemberView, d: DampingState | null): MemberView {
  if (d === null) return v;
  return { ...v, damping: { score: Math.round(d.score * 1000) / 1000, suppressed: d.suppressed, flaps: d.flaps } };
}

export function partitionView(p: OwnedPartition): PartitionView {
  return { id: p.id, primary: p.primary, replicas: [...p.replicas], token: p.token };
}

export function partitionsView(s: LeadershipSnapshot): PartitionsView {
  return { viewVersion: s.viewVersion, quorum: s.quorum, liveMembers: s.liveMembers, partitions: Array.from(s.partitions, partitionView) };
}

/** Lines of the watch stream (NDJSON). */
export type WatchLine =
  | { type: 'snapshot'; members: MemberView[]; partitions: PartitionsView }
  | { type: 'member'; event: string; member: MemberView }
  | { type: 'partitions'; viewVersion: number; quorum: 'ok' | 'no-quorum'; changed: readonly { readonly id: number; readonly oldPrimary: string | null; readonly newPrimary: string | null; readonly replicas: readonly string[]; readonly token: number }[] }
  | { type: 'resync'; reason: string };

type PartitionsLine = Extract<WatchLine, { type: 'partitions' }>;

/**
 * The partitions line as NDJSON text, the same bytes as JSON.stringify of the
 * line plus a newline, written out directly: the line for one death can carry
 * thousands of entries, and each member name is quoted once, not once per entry.
 */
export function partitionsLineText(line: PartitionsLine): string {
  const quoted = new Map<string, string>();
  const q = (name: string | null): string => {
    if (name === null) return 'null';
    let text = quoted.get(name);
    if (text === undefined) quoted.set(name, (text = JSON.stringify(name)));
    return text;
  };
  // String(n) is JSON's form of every finite number; JSON writes the others as null.
  const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');
  const entries = new Array<string>(line.changed.length);
  for (let i = 0; i < line.changed.length; i++) {
    const c = line.changed[i]!;
    let replicas = '';
    for (let j = 0; j < c.replicas.length; j++) replicas += (j > 0 ? ',' : '') + q(c.replicas[j]!);
    entries[i] = `{"id":${num(c.id)},"oldPrimary":${q(c.oldPrimary)},"newPrimary":${q(c.newPrimary)},"replicas":[${replicas}],"token":${num(c.token)}}`;
  }
  return `{"type":"partitions","viewVersion":${num(line.viewVersion)},"quorum":${JSON.stringify(line.quorum)},"changed":[${entries.join(',')}]}\n`;
}

