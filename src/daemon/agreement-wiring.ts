// The daemon's side of partition-table agreement: the push/pull user state,
// the member events that keep the configuration fingerprints and peer records
// current, a periodic check for lasting disagreements, and the metrics.
import type { Logger } from 'pino';
import { Gauge, type Registry } from './prom.js';
import type { Scheduler, TimerHandle } from '../base/env.js';
import type { SwimNode } from '../core/swim-node.js';
import type { MemberSnapshot } from '../core/member-types.js';
import { Agreement, describeTableConfig, type AgreementReport, type TableConfig } from '../partition/agreement.js';
import { OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE, type Leadership } from '../partition/leadership.js';
import { decodeTags } from '../wire/serf-tags.js';

export interface AgreementWiring {
  readonly agreement: Agreement;
  /** Alive swimd members other than this one. */
  peers(): string[];
  report(): AgreementReport;
  /** One sentence per member set up with other partition settings (for /v1/health). */
  mismatchReasons(): string[];
  stop(): void;
}

const tagsOf = (m: MemberSnapshot): Record<string, string> | null => (m.meta.length > 0 ? decodeTags(m.meta) : null);

export function wireAgreement(
  node: SwimNode,
  leadership: Leadership,
  opts: { config: TableConfig; settleMs: number; warnAfterMs: number; maxPeers: number },
  scheduler: Scheduler,
  log: Logger,
  registry: Registry,
): AgreementWiring {
  const isSwimdAlive = (m: MemberSnapshot | undefined): boolean => m !== undefined && m.state === 'alive' && tagsOf(m)?.[OWNERSHIP_TAG] === OWNERSHIP_TAG_VALUE;
  const agreement = new Agreement(
    { self: node.name, ...opts },
    {
      nowMs: () => scheduler.nowMs(),
      local: () => {
        const snap = leadership.snapshot();
        return { checksum: snap.checksum, tableSeq: snap.tableSeq, eligibleMembers: snap.liveMembers, changedAtMs: leadership.lastTableChangeAtMs() };
      },
      isPeer: (name) => name !== node.name && isSwimdAlive(node.member(name)),
      isMember: (name) => {
        const m = node.member(name);
        return m !== undefined && m.state !== 'left';
      },
      log: (level, msg, fields) => log[level](fields, msg),
    },
  );
  node.setUserState({ localState: (peer, incoming) => agreement.stateFor(peer, incoming), remoteState: (state) => agreement.receive(state) });
  for (const m of node.members()) if (m.state !== 'left') agreement.observeMember(m.name, tagsOf(m));
  const offEvents = node.on((ev) => {
    if (ev.kind === 'left') agreement.forget(ev.member.name, true);
    else if (ev.kind === 'dead') agreement.forget(ev.member.name, false);
    else if (ev.kind === 'join' || ev.kind === 'update' || ev.kind === 'alive-again') agreement.observeMember(ev.member.name, tagsOf(ev.member));
  });
  // Often enough that a lasting disagreement is logged within a quarter of the knob of its due time.
  const tickMs = Math.min(5_000, Math.max(100, Math.floor(opts.warnAfterMs / 4)));
  let timer: TimerHandle | null = null;
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    agreement.tick();
    timer = scheduler.setTimer(tickMs, tick);
  };
  timer = scheduler.setTimer(tickMs, tick);

  const peers = (): string[] => node.members().filter((m) => m.name !== node.name && isSwimdAlive(m)).map((m) => m.name);
  const report = (): AgreementReport => agreement.report(peers());
  new Gauge({
    name: 'swimd_partition_table_checksum',
    help: 'The first 12 hex digits of this member\'s partition-table checksum as an integer: members that publish the same table show the same value.',
    registers: [registry],
    collect() {
      this.set(parseInt(leadership.snapshot().checksum.slice(0, 12), 16));
    },
  });
  new Gauge({
    name: 'swimd_partition_agreement_peers',
    help: 'swimd peers by their last partition-table comparison: agreeing, disagreeing (both tables at rest, or other settings), unknown (not compared yet, or a table was still moving).',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const r = report();
      this.set({ result: 'agreeing' }, r.agreeing);
      this.set({ result: 'disagreeing' }, r.disagreeing.length);
      this.set({ result: 'unknown' }, r.unknown);
    },
  });
  new Gauge({
    name: 'swimd_partition_config_mismatches',
    help: 'Members seen with other partitions.count, replicas or strategy than this member (they compute other tables).',
    registers: [registry],
    collect() {
      this.set(agreement.configMismatches().length);
    },
  });
  return {
    agreement,
    peers,
    report,
    mismatchReasons: () => agreement.configMismatches().map((m) => `member ${m.name} runs ${describeTableConfig(m.theirs)}; this member runs ${describeTableConfig(m.ours)}`),
    stop: () => {
      stopped = true;
      timer?.cancel();
      offEvents();
      node.setUserState(null);
    },
  };
}
