// Identity checks before an alive message touches the view, one address per
// live member, and contact verification before a gossip-only member is trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAlive, identityRulesOf, isUnicast, validName } from '../../src/core/identity.js';
import { SwimNode } from '../../src/core/swim-node.js';
import { SeededRandom } from '../../src/core/prng.js';
import { lanConfig } from '../../src/config/presets.js';
import { VirtualScheduler } from '../../src/sim/virtual-scheduler.js';
import type { Address, CoreEnv } from '../../src/base/env.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { MessageType, type AliveMsg } from '../../src/wire/messages.js';
import { openPacket, PLAINTEXT, sealPacket } from '../../src/wire/packet.js';

const rules = identityRulesOf({ maxNameBytes: 16, memberNamePattern: '' });
const alive = (over: Partial<AliveMsg> = {}): AliveMsg => ({ incarnation: 1, node: 'b', addr: Uint8Array.from([127, 0, 0, 2]), port: 7946, meta: new Uint8Array(0), vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]), ...over });

test('identity rules: port, unicast address, name length and printability, pattern, meta', () => {
  assert.equal(checkAlive(alive(), rules), null);
  assert.equal(checkAlive(alive({ port: 0 }), rules), 'bad-port');
  assert.equal(checkAlive(alive({ port: 70_000 }), rules), 'bad-port');
  for (const a of [[0, 0, 0, 0], [0, 1, 2, 3], [224, 0, 0, 1], [239, 1, 1, 1], [255, 255, 255, 255], [240, 0, 0, 1]]) assert.equal(checkAlive(alive({ addr: Uint8Array.from(a) }), rules), 'bad-address', a.join('.'));
  assert.equal(isUnicast(new Uint8Array(16)), false, ':: is unspecified');
  assert.equal(isUnicast(Uint8Array.from([0xff, 2, ...new Array(14).fill(0)])), false, 'ff02:: is multicast');
  assert.equal(isUnicast(Uint8Array.from([...new Array(15).fill(0), 1])), true, '::1');
  assert.equal(isUnicast(Uint8Array.from([1, 2, 3])), false);
  for (const bad of ['', 'x'.repeat(17), 'a\u0000b', 'tab\there', 'bell\u0007', 'c1\u0085', 'bad\ufffdutf8', 'line\u2028sep']) assert.equal(validName(bad, rules), false, JSON.stringify(bad));
  for (const good of ['node-a', 'app.1', 'ñodo', 'x'.repeat(16)]) assert.equal(validName(good, rules), true, good);
  const strict = identityRulesOf({ maxNameBytes: 128, memberNamePattern: '^[A-Za-z0-9.-]+$' });
  assert.equal(validName('ok-1.b', strict), true);
  assert.equal(validName('ñodo', strict), false);
  assert.equal(checkAlive(alive({ meta: new Uint8Array(513) }), rules), 'bad-meta');
});

function oneNode() {
  const scheduler = new VirtualScheduler();
  const sent: { to: Address; data: Uint8Array }[] = [];
  let deliver: ((from: Address, data: Uint8Array, at: number) => void) | null = null;
  const env: CoreEnv = {
    scheduler,
    random: new SeededRandom(5),
    packets: { sendPacket: (to, data) => void sent.push({ to, data }), onPacket: (h) => void (deliver = h) },
    streams: { request: (_to, _req, _exp, _t, done) => done(new Error('refused'), null), onRequest: () => {} },
  };
  const node = new SwimNode({ name: 'a', advertise: { host: '127.0.0.1', port: 7946 }, config: lanConfig(), env });
  node.start();
  const inject = (msg: AliveMsg): void => {
    deliver!({ host: '127.0.0.9', port: 9 }, sealPacket(encodeMessage({ type: MessageType.Alive, body: msg }), { crc: false, compress: false, security: PLAINTEXT, random: new SeededRandom(1) }), scheduler.nowMs());
    scheduler.advance(1);
  };
  /** Answers the last verification ping sent to `host` with an ack, as the real member there would. */
  const ackLastPing = (host: string): void => {
    const ping = [...sent].reverse().find((p) => p.to.host === host);
    assert.ok(ping, `a ping was sent to ${host}`);
    const opened = openPacket(ping.data, PLAINTEXT);
    assert.ok(opened.ok);
    const msg = opened.value.messages.find((m) => m.type === MessageType.Ping);
    assert.ok(msg && msg.type === MessageType.Ping);
    deliver!({ host, port: 7946 }, sealPacket(encodeMessage({ type: MessageType.AckResp, body: { seqNo: msg.body.seqNo, payload: null } }), { crc: false, compress: false, security: PLAINTEXT, random: new SeededRandom(2) }), scheduler.nowMs());
    scheduler.advance(1);
  };
  return { node, inject, sent, scheduler, ackLastPing };
}

test('a forged alive that puts a second name on a live member\'s address is refused and counted; a dead holder frees it', () => {
  const { node, inject, ackLastPing } = oneNode();
  inject(alive({ node: 'b' }));
  assert.equal(node.member('b')?.state, 'alive');
  // Until b answers at its address, the address is not yet b's to defend.
  ackLastPing('127.0.0.2');
  assert.equal(node.member('b')?.contacted, true);
  inject(alive({ node: 'phantom' }));
  assert.equal(node.member('phantom'), undefined);
  assert.equal(node.stats.drops['identity-address-taken'], 1);
  // Nor can an existing member be moved onto b's address.
  inject(alive({ node: 'c', addr: Uint8Array.from([127, 0, 0, 3]) }));
  inject(alive({ node: 'c', incarnation: 5, addr: Uint8Array.from([127, 0, 0, 2]) }));
  assert.equal(node.member('c')?.host, '127.0.0.3');
  // Our own address is taken by us.
  inject(alive({ node: 'evil', addr: Uint8Array.from([127, 0, 0, 1]) }));
  assert.equal(node.member('evil'), undefined);
  inject(alive({ node: 'x', port: 0 }));
  assert.equal(node.stats.drops['identity-bad-port'], 1);
  assert.equal(node.member('x'), undefined);
});

test('a member heard of by gossip is pinged by name at its address and counts as contacted only after the ack', () => {
  const { node, inject, sent, scheduler, ackLastPing } = oneNode();
  const before = sent.length;
  inject(alive({ node: 'b' }));
  assert.equal(node.member('b')!.contacted, false);
  const pings = sent.slice(before).filter((p) => p.to.host === '127.0.0.2');
  assert.equal(pings.length, 1, 'one verification ping to the announced address');
  assert.ok(node.stats.verifications >= 1);
  // No ack: after its attempts it stays uncontacted (the probe rounds may still reach it).
  scheduler.advance(500);
  assert.equal(node.member('b')!.contacted, false);
  assert.equal(node.member('a')!.contacted, true, 'a node has always reached itself');
  inject(alive({ node: 'c', addr: Uint8Array.from([127, 0, 0, 3]) }));
  ackLastPing('127.0.0.3');
  assert.equal(node.member('c')!.contacted, true, 'an ack to the verification ping is contact');
});

test('a forged move of a reached member to an address where nobody answers reverts to where it was reached', () => {
  const { node, inject, sent, scheduler, ackLastPing } = oneNode();
  inject(alive({ node: 'b' }));
  ackLastPing('127.0.0.2');
  // b is declared dead (say this node was overloaded), then a forged alive moves it.
  deliverDead(node, scheduler, 'b');
  inject(alive({ node: 'b', incarnation: 71, addr: Uint8Array.from([10, 9, 9, 9]), port: 4242 }));
  assert.equal(node.member('b')!.host, '10.9.9.9');
  assert.equal(node.member('b')!.contacted, false);
  scheduler.advance(10_000);
  assert.equal(node.member('b')!.host, '127.0.0.2', 'back at the address where it answered');
  assert.equal(node.stats.addressReverts, 1);
  assert.ok(sent.some((p) => p.to.host === '127.0.0.2' && p.to.port === 7946), 'and verified there again');
});

function deliverDead(node: SwimNode, scheduler: VirtualScheduler, name: string): void {
  node.mergeEvidence([encodeMessage({ type: MessageType.Dead, body: { incarnation: node.member(name)!.incarnation, node: name, from: 'someone' } })]);
  scheduler.advance(1);
}

test('an ack to a ping sent before a forged move verifies the old address only, not the one the member was moved to', () => {
  const { node, inject, scheduler, ackLastPing } = oneNode();
  // b is heard of by gossip: a verification ping goes to 127.0.0.2 and waits for its ack.
  inject(alive({ node: 'b' }));
  assert.equal(node.member('b')!.contacted, false);
  // Before the ack comes, b is declared dead and a forged alive moves it elsewhere.
  deliverDead(node, scheduler, 'b');
  inject(alive({ node: 'b', incarnation: 71, addr: Uint8Array.from([10, 9, 9, 9]), port: 4242 }));
  assert.equal(node.member('b')!.host, '10.9.9.9');
  // The real b answers the ping sent to its real address.
  ackLastPing('127.0.0.2');
  const b = node.member('b')!;
  assert.equal(b.host, '10.9.9.9');
  assert.equal(b.contacted, false, 'the forged address was not reached, so b there holds no roles');
  // Nobody answers at the forged address: b is suspected there, never trusted.
  scheduler.advance(10_000);
  assert.notEqual(node.member('b')!.state, 'alive');
  assert.equal(node.member('b')!.contacted, false);
});

test('a forged move of a reached member is told to the address where it was reached, and its refutation there wins the address back', () => {
  const { node, inject, sent, scheduler, ackLastPing } = oneNode();
  inject(alive({ node: 'b' }));
  ackLastPing('127.0.0.2');
  deliverDead(node, scheduler, 'b');
  const before = sent.length;
  inject(alive({ node: 'b', incarnation: 71, addr: Uint8Array.from([10, 9, 9, 9]), port: 4242 }));
  scheduler.advance(lanConfig().probeIntervalMs * 2);
  const told = sent.slice(before).filter((p) => p.to.host === '127.0.0.2' && p.to.port === 7946).some((p) => {
    const opened = openPacket(p.data, PLAINTEXT);
    return opened.ok && opened.value.messages.some((m) => m.type === MessageType.Alive && m.body.node === 'b' && m.body.incarnation === 71);
  });
  assert.ok(told, 'the alive that moved b went to where b was reached');
  // The real b refutes from its address with a higher incarnation: b is back there.
  inject(alive({ node: 'b', incarnation: 72 }));
  assert.equal(node.member('b')!.host, '127.0.0.2');
  assert.equal(node.member('b')!.incarnation, 72);
});
