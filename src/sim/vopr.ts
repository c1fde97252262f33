// Seeded fault-schedule runs: one seed draws a whole scenario (cluster size,
// profile, quorum, partitions, and a schedule of crashes, restarts, pauses,
// leaves, joins, symmetric and one-way network splits aimed at primaries,
// loss, delay, full restarts and stalled applications), runs it in virtual
// time, heals everything, and lets the history checker judge the result.
import { lanConfig, localConfig } from '../config/presets.js';
import { SeededRandom, shuffleInPlace } from '../core/prng.js';
import type { Hasher } from '../partition/engine.js';
import type { FlapDampingOptions } from '../partition/flap-damping.js';
import type { Violation } from './history.js';
import { OwnershipCluster } from './ownership-cluster.js';

export type FaultStep =
  | { atMs: number; kind: 'crash' | 'restart' | 'leave' | 'join'; member: number }
  | { atMs: number; kind: 'pause' | 'app-stall'; member: number; ms: number }
  | { atMs: number; kind: 'split'; groupA: number[]; groupB: number[]; oneWay: boolean; ms: number }
  | { atMs: number; kind: 'isolate-primary'; partition: number; direction: 'both' | 'towards' | 'from'; ms: number }
  | { atMs: number; kind: 'minority-with-primary'; partition: number; size: number; ms: number }
  | { atMs: number; kind: 'loss'; loss: number; ms: number }
  | { atMs: number; kind: 'delay'; delayMs: number; jitterMs: number; ms: number }
  | { atMs: number; kind: 'full-restart'; gapMs: number };

export interface Scenario {
  seed: number;
  size: number;
  profile: 'lan' | 'local';
  quorum: number;
  partitions: number;
  /** Members that start only at a 'join' step. */
  late: number[];
  steps: FaultStep[];
  faultWindowMs: number;
}

export interface RunResult {
  scenario: Scenario;
  fencing: 'granted' | 'view';
  violations: Violation[];
  writes: number;
  accepted: number;
  rejected: number;
  /** Virtual ms from the heal to converged views, and from there to every partition writable. */
  convergeMs: number;
  writableMs: number;
  virtualMs: number;
}

/** Bound on how long a partition may stay without a writable primary after the heal and convergence. */
export const STALL_BOUND_MS = 2_000;

export function drawScenario(seed: number): Scenario {
  const r = new SeededRandom(seed);
  const size = 3 + Math.floor(r.next() ** 2 * 30);
  const profile = r.next() < 0.6 ? 'local' : 'lan';
  const quorum = Math.floor(size / 2) + 1;
  const partitions = r.next() < 0.5 ? 16 : 64;
  const faultWindowMs = profile === 'local' ? 20_000 : 40_000;
  const unit = profile === 'local' ? 200 : 1_000; // one probe interval
  const late: number[] = [];
  const lateCount = size > 4 ? r.int(3) : 0;
  while (late.length < lateCount) {
    const m = 1 + r.int(size - 1);
    if (!late.includes(m)) late.push(m);
  }
  const steps: FaultStep[] = [];
  let t = 0;
  let networkFreeAt = 0;
  const count = 2 + r.int(7);
  const member = (): number => r.int(size);
  const dur = (min: number, max: number): number => Math.round(min + r.next() * (max - min));
  for (let i = 0; i < count && t < faultWindowMs; i++) {
    t += dur(0, faultWindowMs / count);
    const pick = r.next();
    const join = late.find((m) => !steps.some((s) => s.kind === 'join' && s.member === m));
    if (join !== undefined && pick < 0.12) {
      steps.push({ atMs: t, kind: 'join', member: join });
      continue;
    }
    if (pick < 0.62) {
      // Network faults do not overlap each other (a heal ends one before the next begins).
      const at = Math.max(t, networkFreeAt);
      const ms = dur(5 * unit, 25 * unit);
      const which = r.next();
      let step: FaultStep;
      if (which < 0.3) step = { atMs: at, kind: 'isolate-primary', partition: r.int(partitions), direction: r.next() < 0.6 ? 'both' : r.next() < 0.5 ? 'towards' : 'from', ms };
      else if (which < 0.5) step = { atMs: at, kind: 'minority-with-primary', partition: r.int(partitions), size: 1 + r.int(Math.max(1, Math.ceil(size / 2) - 1)), ms };
      else if (which < 0.7) {
        const shuffled = shuffleInPlace(Array.from({ length: size }, (_, k) => k), r);
        const cut = 1 + r.int(size - 1);
        step = { atMs: at, kind: 'split', groupA: shuffled.slice(0, cut), groupB: shuffled.slice(cut), oneWay: r.next() < 0.3, ms };
      } else if (which < 0.87) step = { atMs: at, kind: 'loss', loss: Math.round((0.05 + r.next() * 0.3) * 100) / 100, ms };
      else step = { atMs: at, kind: 'delay', delayMs: dur(10, 150), jitterMs: dur(0, 100), ms };
      steps.push(step);
      networkFreeAt = at + ms;
      continue;
    }
    const which = r.next();
    if (which < 0.25) steps.push({ atMs: t, kind: 'crash', member: member() });
    else if (which < 0.45) steps.push({ atMs: t, kind: 'restart', member: member() });
    else if (which < 0.65) steps.push({ atMs: t, kind: 'pause', member: member(), ms: dur(2 * unit, 20 * unit) });
    else if (which < 0.75) steps.push({ atMs: t, kind: 'leave', member: member() });
    else if (which < 0.9) steps.push({ atMs: t, kind: 'app-stall', member: member(), ms: dur(unit, 15 * unit) });
    else steps.push({ atMs: t, kind: 'full-restart', gapMs: dur(unit, 10 * unit) });
  }
  steps.sort((a, b) => a.atMs - b.atMs);
  return { seed, size, profile, quorum, partitions, late, steps, faultWindowMs: Math.max(faultWindowMs, networkFreeAt) };
}

export function describeScenario(s: Scenario): string {
  const hb = heartbeatsOf(s);
  const lines = [`seed ${s.seed}: ${s.size} members, ${s.profile}, quorum ${s.quorum}, ${s.partitions} partitions, late joiners [${s.late.join(',')}], heartbeats ${hb ? `${hb.intervalMs}/${hb.timeoutMs} ms` : 'off'}`];
  for (const st of s.steps) lines.push(`  ${String(st.atMs).padStart(6)} ms  ${JSON.stringify(st)}`);
  return lines.join('\n');
}

/**
 * Heartbeats as the daemon runs them by default on the local profile (100 ms, silent after 350 ms);
 * on the LAN profile (off by default) every odd seed runs them at 250 ms, so both paths are judged.
 * Drawn from the seed without a random draw, so every other part of a scenario stays as it was.
 */
export function heartbeatsOf(s: Scenario): { intervalMs: number; timeoutMs: number } | null {
  if (s.profile === 'local') return { intervalMs: 100, timeoutMs: 350 };
  return s.seed % 2 === 1 ? { intervalMs: 250, timeoutMs: 875 } : null;
}

/** Flap damping as every member runs it (the daemon's defaults), or off. */
export type VoprDamping = Omit<FlapDampingOptions, 'maxMembers'> | null;

export function runScenario(s: Scenario, fencing: 'granted' | 'view', hasher: Hasher, damping: VoprDamping = null): RunResult {
  const config = s.profile === 'local' ? localConfig() : lanConfig();
  const hb = heartbeatsOf(s);
  const oc = new OwnershipCluster({ seed: s.seed, size: s.size, config, fencing, quorum: s.quorum, partitions: s.partitions, ...(damping ? { damping } : {}), ...(hb ? { heartbeatIntervalMs: hb.intervalMs, heartbeatTimeoutMs: hb.timeoutMs } : {}) }, hasher);
  const c = oc.cluster;
  const name = (i: number): string => c.members[i]!.name;
  const startedAt = c.nowMs();
  c.startAll();
  for (const i of s.late) oc.crash(name(i));
  c.joinAll();
  const result = (convergeMs: number, writableMs: number): RunResult => ({
    scenario: s,
    fencing,
    violations: oc.checker.violations,
    writes: oc.writes,
    accepted: oc.checker.storage.accepted,
    rejected: oc.checker.storage.rejected,
    convergeMs,
    writableMs,
    virtualMs: c.nowMs() - startedAt,
  });
  try {
    c.runUntil(() => c.converged(), 60_000, 100, 'initial convergence');
  } catch {
    oc.checker.add({ kind: 'no-convergence', atMs: c.nowMs(), detail: 'the cluster did not form within 60 s' });
    return result(-1, -1);
  }
  c.run(2_000);
  const t0 = c.nowMs();
  const addresses = (idx: number[]): string[] => idx.map(name);
  const others = (group: Set<string>): string[] => c.members.map((m) => m.name).filter((n) => !group.has(n));
  const primaryOrAny = (p: number): string => oc.primaryOf(p) ?? name(c.random.int(s.size));
  for (const st of s.steps) {
    c.clock.setTimer(t0 + st.atMs - c.nowMs(), () => {
      switch (st.kind) {
        case 'crash':
          // Half the crashes leave the host up, so its refusals move the partitions before the death (from the drawn time: no extra draw).
          if (c.members[st.member]!.status === 'up') oc.crash(name(st.member), Math.floor(st.atMs) % 2 === 0);
          return;
        case 'restart':
        case 'join':
          oc.restart(name(st.member));
          return;
        case 'leave':
          if (c.members[st.member]!.status === 'up') oc.leave(name(st.member));
          return;
        case 'pause':
          if (c.members[st.member]!.status === 'up') c.pause(name(st.member), st.ms);
          return;
        case 'app-stall':
          oc.stallApp(name(st.member), st.ms);
          return;
        case 'full-restart': {
          const up = c.up().map((m) => m.name);
          for (const n of up) oc.crash(n);
          c.clock.setTimer(st.gapMs, () => {
            for (const n of up) oc.restart(n);
          });
          return;
        }
        case 'split':
          c.partition(addresses(st.groupA), addresses(st.groupB), st.oneWay);
          c.clock.setTimer(st.ms, () => c.heal());
          return;
        case 'isolate-primary': {
          const victim = primaryOrAny(st.partition);
          const rest = others(new Set([victim]));
          if (st.direction === 'both') c.partition([victim], rest);
          else if (st.direction === 'towards') c.partition(rest, [victim], true);
          else c.partition([victim], rest, true);
          c.clock.setTimer(st.ms, () => c.heal());
          return;
        }
        case 'minority-with-primary': {
          const victim = primaryOrAny(st.partition);
          const group = new Set([victim]);
          const pool = others(group);
          while (group.size < st.size && pool.length > 0) group.add(pool.splice(c.random.int(pool.length), 1)[0]!);
          c.partition([...group], others(group));
          c.clock.setTimer(st.ms, () => c.heal());
          return;
        }
        case 'loss':
          c.setLoss(st.loss);
          c.clock.setTimer(st.ms, () => c.setLoss(0));
          return;
        case 'delay':
          c.network.setDefaultLink({ delayMs: st.delayMs, jitterMs: st.jitterMs });
          c.clock.setTimer(st.ms, () => c.network.setDefaultLink({ delayMs: 1, jitterMs: 2 }));
          return;
      }
    });
  }
  const lastStepEnd = Math.max(s.faultWindowMs, ...s.steps.map((st) => st.atMs + ('ms' in st ? st.ms : 'gapMs' in st ? st.gapMs : 0)));
  c.run(t0 + lastStepEnd - c.nowMs() + 1);
  // Heal everything: network, paused members, and every member not running.
  c.heal();
  c.setLoss(0);
  c.network.setDefaultLink({ delayMs: 1, jitterMs: 2 });
  for (const m of c.members) if (m.scheduler.isPaused()) c.resume(m.name);
  c.run(1);
  for (const m of c.members) if (m.status !== 'up') oc.restart(m.name);
  const healedAt = c.nowMs();
  let convergeMs: number;
  try {
    convergeMs = c.runUntil(() => c.converged(), 90_000, 50, 'convergence after the heal');
  } catch {
    oc.checker.add({ kind: 'no-convergence', atMs: c.nowMs(), detail: `views did not converge within 90 s of the heal at ${healedAt} ms` });
    return result(-1, -1);
  }
  let writableMs = 0;
  try {
    writableMs = c.runUntil(() => oc.unwritable().length === 0, STALL_BOUND_MS, 10, 'writable primaries');
  } catch {
    const stuck = oc.unwritable();
    const detail = stuck.slice(0, 5).map((p) => {
      const views = c.up().map((m) => {
        const e = oc.leadership(m.name).snapshot().partitions.get(p);
        return `${m.name}:${e.primary ?? '-'}/${e.token}`;
      });
      return `p${p} (storage at ${oc.checker.storage.highestToken(p)} by ${oc.checker.storage.lastWriter(p)}) seen as ${views.join(' ')}`;
    });
    oc.checker.add({ kind: 'stall', atMs: c.nowMs(), detail: `${stuck.length} partitions without a writable primary ${STALL_BOUND_MS} ms after convergence: ${detail.join('; ')}` });
    writableMs = -1;
  }
  c.run(1_000);
  return result(convergeMs, writableMs);
}
