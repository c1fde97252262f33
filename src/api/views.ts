// JSON shapes of the API, shared by the server, the client and the CLI.
import type { MemberSnapshot } from '../core/member-types.js';
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
  return { name: m.name, address: m.host, port: m.port, state: m.state, incarnation: m.incarnation, meta: tags ?? { raw: Buffer.from(m.meta).toString('base64') } };
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
