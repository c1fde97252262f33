import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heartbeats, HEARTBEAT_MAX_PEERS } from '../../src/partition/heartbeats.js';
import { VirtualScheduler } from '../../src/sim/virtual-scheduler.js';
import type { Scheduler, TimerHandle } from '../../src/base/env.js';
import { decodeHeartbeat, encodeHeartbeat, decodeOwnership } from '../../src/partition/ownership-wire.js';

/** A scheduler whose timers can be held back, as a stalled event loop holds them. */
class StallableScheduler implements Scheduler {
  stalled = false;
  private held: (() => void)[] = [];
  constructor(readonly base: VirtualScheduler) {}
  nowMs(): number {
    return this.base.nowMs();
  }
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    return this.base.setTimer(delayMs, () => (this.stalled ? this.held.push(fn) : fn()));
  }
  release(): void {
    this.stalled = false;
    const held = this.held;
    this.held = [];
    for (const fn of held) fn();
  }
}

function rig(peers: string[], quorum = 1) {
  const clock = new VirtualScheduler();
  const scheduler = new StallableScheduler(clock);
  const set = new Set(peers);
  const sent: string[] = [];
  const flags: boolean[] = [];
  const lates: number[] = [];
  const events: string[] = [];
  const hb = new Heartbeats({ intervalMs: 100, timeoutMs: 350, quorum }, {
    scheduler,
    peers: () => set,
    send: (to, hearsQuorum, lateMs) => {
      lates.push(lateMs);
      sent.push(to);
      flags.push(hearsQuorum);
    },
    onBarred: (names, barred) => {
      for (const n of names) events.push(`${barred ? 'silent' : 'heard'} ${n} @${clock.nowMs()}`);
    },
  });
  hb.start();
  return { clock, scheduler, set, sent, flags, lates, events, hb };
}

test('heartbeats go to every peer each interval', () => {
  const r = rig(['a', 'b', 'c']);
  r.clock.advance(1_000);
  assert.equal(r.sent.length, 30);
  assert.deepEqual([...new Set(r.sent)].sort(), ['a', 'b', 'c']);
});

test('a peer never heard is never silent: a member without heartbeats falls back to SWIM', () => {
  const r = rig(['a']);
  r.clock.advance(5_000);
  assert.deepEqual(r.events, []);
  assert.equal(r.hb.isSilent('a'), false);
});

test('a peer heard once turns silent at the timeout after its last heartbeat, and back when heard again', () => {
  const r = rig(['a', 'b']);
  r.clock.advance(1_000);
  r.hb.heard('a');
  r.hb.heard('b');
  for (let t = 0; t < 5; t++) {
    r.clock.advance(100);
    r.hb.heard('b');
  }
  // a last heard at 1000: silent from 1350 on; b heard throughout.
  r.clock.advance(1_000);
  assert.equal(r.hb.isSilent('a'), true);
  assert.equal(r.hb.isSilent('b'), true, 'b too, after its own heartbeats stopped at 1500');
  const silentA = r.events.find((e) => e.startsWith('silent a'))!;
  assert.equal(silentA, 'silent a @1350');
  assert.ok(r.events.includes('silent b @1850'), r.events.join(', '));
  r.hb.heard('a');
  assert.equal(r.hb.isSilent('a'), false);
  assert.ok(r.events.at(-1)!.startsWith('heard a'));
  assert.equal(r.hb.stats.silences, 2);
  assert.equal(r.hb.stats.returns, 1);
});

test('a stall of this member\'s own timers is not the others\' silence', () => {
  const r = rig(['a']);
  r.clock.advance(100);
  r.hb.heard('a');
  r.scheduler.stalled = true;
  r.clock.advance(2_000);
  // Nothing from a was read during the stall (its datagrams overflowed the socket, say): the clock restarts after it.
  r.scheduler.release();
  r.clock.advance(200);
  assert.deepEqual(r.events, [], 'no one silent right after this member\'s own stall');
  assert.equal(r.hb.stats.ownGaps, 1);
  r.clock.advance(2_000);
  // Judged again from the end of the stall (2100 ms): after the timeout, and the slack its own lateness gives (at most two timeouts).
  const events = r.events as string[];
  assert.equal(events.length, 1, events.join(', '));
  const at = Number(events[0]!.split('@')[1]);
  assert.ok(events[0]!.startsWith('silent a') && at >= 2100 + 350 && at <= 2100 + 350 * 3 + 100, events[0]);
});

test('checkNow judges at once, with slack, for a granter reading a claim', () => {
  const r = rig(['a']);
  r.hb.heard('a');
  r.clock.advance(300);
  assert.equal(r.hb.isSilent('a'), false);
  r.hb.checkNow(50);
  assert.equal(r.hb.isSilent('a'), true, 'silent 300 ms against 350 − 50');
});

test('peers that leave are forgotten; above the peer bound nobody is judged and nothing is sent', () => {
  const many = Array.from({ length: HEARTBEAT_MAX_PEERS + 1 }, (_, i) => `m${i}`);
  const r = rig(many);
  r.hb.heard('m1');
  r.clock.advance(2_000);
  assert.equal(r.sent.length, 0);
  assert.equal(r.hb.isSilent('m1'), false);
  r.set.delete('m0');
  r.clock.advance(1_000);
  assert.ok(r.sent.length > 0, 'at the bound heartbeats go out again');
  assert.equal(r.hb.isSilent('m1'), true, 'and members are judged again');
  r.set.delete('m1');
  r.clock.advance(100);
  assert.equal(r.hb.isSilent('m1'), false, 'a member that is no longer a peer is not silent');
});

test('the heartbeat datagram round-trips and is not an ownership message to older decoders', () => {
  const b = encodeHeartbeat({ sender: 'node-ü', hearsQuorum: true, lateMs: 0 });
  assert.deepEqual(decodeHeartbeat(b), { sender: 'node-ü', hearsQuorum: true, lateMs: 0 });
  assert.deepEqual(decodeHeartbeat(encodeHeartbeat({ sender: 'x', hearsQuorum: false, lateMs: 300 })), { sender: 'x', hearsQuorum: false, lateMs: 300 });
  assert.equal(decodeHeartbeat(b.subarray(0, b.length - 1)), null);
  assert.equal(decodeHeartbeat(new Uint8Array([0xf5, 1, 6, 200])), null);
  assert.equal(decodeHeartbeat(new Uint8Array([0xf5, 1, 6, 1, 0x61, 0, 0, 9])), null, 'trailing bytes');
  assert.equal(decodeHeartbeat(new Uint8Array([0xf5, 1, 6, 1, 0x61, 0])), null, 'no lateness');
  const d = decodeOwnership(b);
  assert.equal(d.ok, false);
  assert.equal(d.ok ? '' : d.reason, 'unknown-kind');
});

test('a member that finds too many silent to hear a quorum says so at once, and says it hears one again when it does', () => {
  // Five members, quorum 3: this one and four peers.
  const r = rig(['a', 'b', 'c', 'd'], 3);
  for (const n of ['a', 'b', 'c', 'd']) r.hb.heard(n);
  r.clock.advance(200);
  assert.ok(r.flags.every((f) => f), 'hears a quorum while it hears everyone');
  // Only a is heard from now on: b, c and d turn silent together; 1 + 4 − 3 = 2 < 3.
  for (let t = 0; t < 5; t++) {
    r.clock.advance(100);
    r.hb.heard('a');
  }
  assert.equal(r.hb.hearsQuorum(), false);
  const firstFalse = r.flags.indexOf(false);
  assert.ok(firstFalse >= 0, 'its heartbeats say it hears no quorum');
  assert.equal(r.hb.stats.sentCutOff % 4, 0, 'to every peer at once');
  r.hb.heard('b');
  assert.equal(r.hb.hearsQuorum(), true, 'one silent member heard again: 1 + 4 − 2 = 3');
  assert.equal(r.flags.at(-1), true, 'and it says so at once');
});

test('a peer whose heartbeat says it hears no quorum is barred until one says it does', () => {
  const r = rig(['a', 'b'], 2);
  r.hb.heard('a', false);
  assert.equal(r.hb.isBarred('a'), true);
  assert.equal(r.hb.isSilent('a'), false);
  assert.deepEqual(r.events, ['silent a @0']);
  r.hb.heard('a', false);
  assert.equal(r.events.length, 1, 'no second event while nothing changed');
  r.hb.heard('a', true);
  assert.equal(r.hb.isBarred('a'), false);
  assert.deepEqual(r.events, ['silent a @0', 'heard a @0']);
});

test('members that all found each other silent recover once heartbeats flow again', () => {
  // Two members, quorum 2, each the other's only peer; a whole-network outage makes each say it hears no quorum.
  const x = rig(['y'], 2);
  const y = rig(['x'], 2);
  x.hb.heard('y');
  y.hb.heard('x');
  x.clock.advance(1_000);
  y.clock.advance(1_000);
  assert.equal(x.hb.hearsQuorum(), false);
  assert.equal(y.hb.hearsQuorum(), false);
  // The network is back: each reads the other's heartbeat, which still says "no quorum".
  x.hb.heard('y', false);
  y.hb.heard('x', false);
  assert.equal(x.hb.hearsQuorum(), true, 'hearing the other is a quorum again');
  assert.equal(x.flags.at(-1), true);
  x.hb.heard('y', y.flags.at(-1)!);
  y.hb.heard('x', x.flags.at(-1)!);
  assert.equal(x.hb.isBarred('y'), false);
  assert.equal(y.hb.isBarred('x'), false);
});

test('a peer that reports lateness is given that much longer; a quiet one is judged on the timeout alone', () => {
  const r = rig(['busy', 'quiet']);
  r.hb.heard('busy', true, 300);
  r.hb.heard('quiet', true, 0);
  r.clock.advance(400);
  assert.equal(r.hb.isSilent('quiet'), true, 'quiet: silent after 350 ms');
  assert.equal(r.hb.isSilent('busy'), false, 'busy: 350 + 300 ms');
  r.clock.advance(300);
  assert.equal(r.hb.isSilent('busy'), true);
  // A report of lateness cannot keep a member unjudged: the slack is capped at two timeouts.
  r.hb.heard('busy', true, 1_000_000);
  assert.equal(r.hb.timeoutFor('busy'), 350 * 3);
});

test('a member whose own timers run late says so, and the figure decays once they are on time', () => {
  const r = rig(['a']);
  r.clock.advance(1_000);
  assert.ok(r.lates.every((l) => l === 0), 'on time: no lateness reported');
  r.scheduler.stalled = true;
  r.clock.advance(250);
  r.scheduler.release();
  r.clock.advance(100);
  const peak = Math.max(...r.lates);
  assert.ok(peak >= 150 && peak <= 250, `the late tick reports its lateness: ${peak}`);
  r.clock.advance(3_000);
  assert.ok(r.lates.at(-1)! < peak / 8, `and it decays: ${r.lates.at(-1)}`);
});
