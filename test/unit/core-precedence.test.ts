// memberlist's precedence rules, driven by real packets into one node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lanConfig } from '../../src/config/presets.js';
import type { Address } from '../../src/base/env.js';
import type { MemberEvent } from '../../src/core/member-types.js';
import { SeededRandom } from '../../src/core/prng.js';
import { SwimNode } from '../../src/core/swim-node.js';
import { VirtualScheduler } from '../../src/sim/virtual-scheduler.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { MessageType, type Message } from '../../src/wire/messages.js';
import { openPacket, PLAINTEXT } from '../../src/wire/packet.js';

const VSN = Uint8Array.from([1, 5, 2, 2, 5, 4]);
const PEER: Address = { host: '10.0.0.9', port: 7946 };

function harness() {
  const scheduler = new VirtualScheduler();
  const sent: { to: Address; messages: Message[] }[] = [];
  let handler: (from: Address, data: Uint8Array, at: number) => void = () => {};
  const node = new SwimNode({
    name: 'me',
    advertise: { host: '10.0.0.1', port: 7946 },
    config: lanConfig(),
    env: {
      scheduler,
      random: new SeededRandom(1),
      packets: {
        sendPacket: (to, data) => {
          const r = openPacket(data, PLAINTEXT);
          sent.push({ to, messages: r.ok ? r.value.messages : [] });
        },
        onPacket: (h) => (handler = h),
      },
      streams: { request: (_to, _r, _e, _t, done) => done(new Error('no streams here'), null), onRequest: () => {} },
    },
  });
  const events: MemberEvent[] = [];
  node.on((e) => events.push(e));
  node.start();
  const deliver = (msg: Message): void => {
    handler(PEER, encodeMessage(msg), scheduler.nowMs());
    scheduler.advance(1);
  };
  /** Raw bytes into the node's packet handler, as the transport would hand them over. */
  const deliverBytes = (bytes: Uint8Array): void => handler(PEER, bytes, scheduler.nowMs());
  const alive = (node: string, incarnation: number, meta: Uint8Array | null = null): Message => ({
    type: MessageType.Alive,
    body: { incarnation, node, addr: Uint8Array.from([10, 0, 0, 2]), port: 7946, meta, vsn: VSN },
  });
  const suspect = (node: string, incarnation: number, from = 'x'): Message => ({ type: MessageType.Suspect, body: { incarnation, node, from } });
  const dead = (node: string, incarnation: number, from = 'x'): Message => ({ type: MessageType.Dead, body: { incarnation, node, from } });
  return { node, events, sent, deliver, deliverBytes, alive, suspect, dead, scheduler };
}

test('precedence table: (state, incoming) → new state, incarnation and event', () => {
  type Row = [string, (h: ReturnType<typeof harness>) => Message[], string, number, string | null];
  const rows: Row[] = [
    ['unknown + alive(1) → alive, join', (h) => [h.alive('b', 1)], 'alive', 1, 'join'],
    ['alive(5) + alive(4) → ignored', (h) => [h.alive('b', 5), h.alive('b', 4)], 'alive', 5, 'join'],
    ['alive(5) + alive(5) → ignored', (h) => [h.alive('b', 5), h.alive('b', 5)], 'alive', 5, 'join'],
    ['alive(5) + suspect(5) → suspect', (h) => [h.alive('b', 5), h.suspect('b', 5)], 'suspect', 5, 'suspect'],
    ['alive(5) + suspect(4) → ignored', (h) => [h.alive('b', 5), h.suspect('b', 4)], 'alive', 5, 'join'],
    ['suspect(5) + alive(6) → alive again', (h) => [h.alive('b', 5), h.suspect('b', 5), h.alive('b', 6)], 'alive', 6, 'alive-again'],
    ['suspect(5) + alive(5) → still suspect', (h) => [h.alive('b', 5), h.suspect('b', 5), h.alive('b', 5)], 'suspect', 5, 'suspect'],
    ['alive(5) + dead(5) → dead', (h) => [h.alive('b', 5), h.dead('b', 5)], 'dead', 5, 'dead'],
    ['alive(5) + dead(4) → ignored', (h) => [h.alive('b', 5), h.dead('b', 4)], 'alive', 5, 'join'],
    ['dead(5) + suspect(6) → still dead', (h) => [h.alive('b', 5), h.dead('b', 5), h.suspect('b', 6)], 'dead', 5, 'dead'],
    ['dead(5) + alive(5) → still dead', (h) => [h.alive('b', 5), h.dead('b', 5), h.alive('b', 5)], 'dead', 5, 'dead'],
    ['dead(5) + alive(6) → alive again', (h) => [h.alive('b', 5), h.dead('b', 5), h.alive('b', 6)], 'alive', 6, 'alive-again'],
    ['alive(5) + dead(5, from itself) → left', (h) => [h.alive('b', 5), h.dead('b', 5, 'b')], 'left', 5, 'left'],
    ['left(5) + alive(6) → alive, join', (h) => [h.alive('b', 5), h.dead('b', 5, 'b'), h.alive('b', 6)], 'alive', 6, 'join'],
    ['unknown + suspect → nothing', (h) => [h.suspect('b', 9)], 'none', 0, null],
  ];
  for (const [name, msgs, state, inc, lastEvent] of rows) {
    const h = harness();
    for (const m of msgs(h)) h.deliver(m);
    const b = h.node.member('b');
    assert.equal(b?.state ?? 'none', state, name);
    assert.equal(b?.incarnation ?? 0, inc, name);
    const aboutB = h.events.filter((e) => e.member.name === 'b');
    assert.equal(aboutB.at(-1)?.kind ?? null, lastEvent, name);
  }
});

test('suspicion or death of self is refuted with a higher incarnation and broadcast', () => {
  const h = harness();
  assert.equal(h.node.member('me')!.incarnation, 1);
  h.deliver(h.suspect('me', 1));
  assert.equal(h.node.member('me')!.incarnation, 2);
  assert.equal(h.node.member('me')!.state, 'alive');
  h.deliver(h.dead('me', 7));
  assert.equal(h.node.member('me')!.incarnation, 8);
  assert.equal(h.node.stats.refutes, 2);
  assert.ok(h.node.healthScore() >= 1, 'refuting lowers our own health');
  assert.equal(h.node.broadcastQueueDepth(), 1, 'one alive about us is queued (the newer replaced the older)');
  // An alive about us at our incarnation but with other meta (a restarted twin) is refuted too.
  h.deliver(h.alive('me', 8, Uint8Array.from([1])));
  assert.equal(h.node.member('me')!.incarnation, 9);
});

test('alive with an invalid version range is dropped and counted', () => {
  const h = harness();
  h.deliver({ type: MessageType.Alive, body: { incarnation: 1, node: 'v', addr: Uint8Array.from([10, 0, 0, 3]), port: 1, meta: null, vsn: Uint8Array.from([3, 2, 2, 2, 5, 4]) } });
  assert.equal(h.node.member('v'), undefined);
  assert.equal(h.node.stats.drops['bad-version'], 1);
});

test('a ping for another name is dropped; a ping for us is acked to its source address', () => {
  const h = harness();
  h.deliver({ type: MessageType.Ping, body: { seqNo: 5, node: 'someone-else' } });
  assert.equal(h.node.stats.drops['wrong-node'], 1);
  h.sent.length = 0;
  h.deliver({ type: MessageType.Ping, body: { seqNo: 6, node: 'me', sourceAddr: Uint8Array.from([10, 0, 0, 77]), sourcePort: 9999, sourceNode: 'src' } });
  const ack = h.sent.find((s) => s.messages.some((m) => m.type === MessageType.AckResp && m.body.seqNo === 6));
  assert.ok(ack, 'an ack was sent');
  assert.deepEqual(ack.to, { host: '10.0.0.77', port: 9999 });
});

test('garbage packets are counted drops and never throw', () => {
  const h = harness();
  for (const bytes of [[], [0xff], [7, 200, 1], [4, 0x81, 0xa1, 0x41]]) h.deliverBytes(Uint8Array.from(bytes));
  const drops = Object.values(h.node.stats.drops).reduce((a, b) => a + b, 0);
  assert.equal(drops, 4);
});
