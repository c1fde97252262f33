// A leave Serf agents record as `left`. Serf marks a member left, not failed,
// when it holds a leave intent for it (a Serf user message: type 0, Lamport
// time, node name) before memberlist reports the member gone. swimd sends that
// intent straight to every Serf agent it sees just before its own memberlist
// leave, and keeps the Lamport clock such an intent needs by witnessing the
// intents Serf agents gossip (and, across restarts, through the snapshot file).
import type { Address } from '../base/env.js';
import type { MemberSnapshot } from '../core/member-types.js';
import { OWNERSHIP_TAG } from '../partition/leadership.js';
import { decodeSerfIntent, encodeSerfLeaveIntent } from '../wire/serf-intent.js';
import { decodeTags, TAG_MAGIC_BYTE } from '../wire/serf-tags.js';

/**
 * A Serf agent: its metadata is in Serf's tag format (0xFF then a msgpack map,
 * which every Serf agent of protocol 3 or later sends, even without tags; nil for
 * a nil map) and it
 * carries no swimd ownership tag. Plain memberlist members have other metadata.
 */
export function isSerfAgent(m: Pick<MemberSnapshot, 'meta'>): boolean {
  // A Serf built with a nil tag map writes msgpack nil after the header.
  if (m.meta.length === 2 && m.meta[0] === TAG_MAGIC_BYTE && m.meta[1] === 0xc0) return true;
  const tags = decodeTags(m.meta);
  return tags !== null && tags[OWNERSHIP_TAG] === undefined;
}

/** Lamport times above this are not witnessed: a forged huge one would leave no room to count on. */
export const MAX_WITNESSED_LAMPORT_TIME = 2 ** 48;

export interface SerfLeaveNode {
  readonly name: string;
  members(): MemberSnapshot[];
  sendUserMessage(to: Address, payload: Uint8Array): boolean;
}

export class SerfLeave {
  private lamportTime: number;
  /** Serf intents seen (kept by the Lamport clock only; nothing else is stored). */
  intentsSeen = 0;

  constructor(
    private readonly node: SerfLeaveNode,
    initialLamportTime: number,
  ) {
    this.lamportTime = Math.min(initialLamportTime, MAX_WITNESSED_LAMPORT_TIME);
  }

  lamport(): number {
    return this.lamportTime;
  }

  /** User-message delegate: claims Serf's join and leave intents and witnesses their clock. */
  readonly onUserMessage = (_from: Address, payload: Uint8Array): boolean => {
    const intent = decodeSerfIntent(payload);
    if (intent === null) return false;
    this.intentsSeen++;
    if (intent.lamportTime > this.lamportTime && intent.lamportTime <= MAX_WITNESSED_LAMPORT_TIME) this.lamportTime = intent.lamportTime;
    return true;
  };

  /** Sends this member's leave intent to every Serf agent not known dead; returns the agents told. */
  announce(): { agents: number; lamportTime: number } {
    this.lamportTime += 1;
    const payload = encodeSerfLeaveIntent(this.lamportTime, this.node.name);
    let agents = 0;
    for (const m of this.node.members()) {
      if (m.name === this.node.name || (m.state !== 'alive' && m.state !== 'suspect') || !isSerfAgent(m)) continue;
      // Twice: a lost datagram would turn this leave into a failure on that agent; Serf ignores the repeat.
      if (this.node.sendUserMessage({ host: m.host, port: m.port }, payload)) {
        this.node.sendUserMessage({ host: m.host, port: m.port }, payload);
        agents++;
      }
    }
    return { agents, lamportTime: this.lamportTime };
  }
}
