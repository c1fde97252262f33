// The fault harness itself: the faults it claims to inject must really happen,
// or every scenario built on it proves nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestHosts } from '../../harness/hosts.js';

const PORT = 24900;
const hosts = TestHosts.create(3);
after(() => hosts.destroy());

/** Runs a Node script inside a host and waits until it prints `ready`; returns the child and its output so far. */
async function startReady(host: number, script: string): Promise<{ child: ReturnType<typeof hosts.spawnIn>; output: () => string }> {
  const child = hosts.spawnIn(host, process.execPath, ['-e', script]);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 5000;
  while (!out.includes('ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(out.includes('ready'), 'script in the host did not start');
  return { child, output: () => out };
}

/** Sends `count` datagrams from host `from` to host `to` and returns how many arrived. */
async function delivered(from: number, to: number, count: number): Promise<number> {
  const receiverScript = `
    const d = require('dgram').createSocket('udp4'); let n = 0;
    d.on('message', () => n++);
    d.bind(${PORT}, '${hosts.hosts[to]!.ip}', () => process.stdout.write('ready\\n'));
    setTimeout(() => { process.stdout.write('count ' + n + '\\n'); process.exit(0); }, 2500);`;
  const { child: receiver, output } = await startReady(to, receiverScript);
  const senderScript = `
    const d = require('dgram').createSocket('udp4'); let i = 0;
    const tick = () => { if (i++ >= ${count}) return d.close(); d.send('x', ${PORT}, '${hosts.hosts[to]!.ip}', () => setTimeout(tick, 2)); };
    tick();`;
  const sender = hosts.spawnIn(from, process.execPath, ['-e', senderScript]);
  await new Promise((r) => sender.once('exit', r));
  await new Promise((r) => receiver.once('exit', r));
  const m = /count (\d+)/.exec(output());
  assert.ok(m, `receiver printed no count: ${output()}`);
  return Number(m[1]);
}

test('hosts reach each other when no fault is set', async () => {
  assert.equal(await delivered(0, 1, 100), 100);
});

test('a partition drops everything between the groups and nothing inside a group', async () => {
  hosts.partition([0], [1, 2]);
  assert.equal(hosts.ruleCount(0), 1);
  assert.equal(await delivered(1, 0, 50), 0);
  assert.equal(await delivered(1, 2, 50), 50);
  hosts.healAll();
  assert.equal(hosts.ruleCount(0), 0);
  assert.equal(await delivered(1, 0, 50), 50);
});

test('loss drops about the share asked for', async () => {
  hosts.setLoss(2, 30);
  const got = await delivered(0, 2, 400);
  hosts.healAll();
  // 30 % of 400: mean 280 delivered, sd ≈ 9; the band is ±6 sd.
  assert.ok(got > 225 && got < 335, `delivered ${got} of 400 at 30 % loss`);
});

/**
 * Median round trip, in ms, of `count` UDP echoes from host `from` to `host:port`,
 * answered by an echo on `echoPort` at the address carried in the datagram (as
 * swimd answers pings), since a relay changes the packet's source.
 */
async function medianRoundTripMs(from: number, to: number, port: number, echoPort: number, count: number): Promise<number> {
  const echoScript = `
    const d = require('dgram').createSocket('udp4');
    d.on('message', (m) => { const [ip, port] = m.toString().split(' '); d.send(m, Number(port), ip); });
    d.bind(${echoPort}, '${hosts.hosts[to]!.ip}', () => process.stdout.write('ready\\n'));
    setTimeout(() => process.exit(0), 15000);`;
  const { child: echo } = await startReady(to, echoScript);
  const clientScript = `
    const d = require('dgram').createSocket('udp4'); const rtts = []; let sentAt = 0; let i = 0;
    const next = () => { if (i++ >= ${count}) { rtts.sort((a, b) => a - b); process.stdout.write('median ' + rtts[rtts.length >> 1] + '\\n'); process.exit(0); } sentAt = performance.now(); d.send('${hosts.hosts[from]!.ip} ' + d.address().port, ${port}, '${hosts.hosts[to]!.ip}'); };
    d.on('message', () => { rtts.push(performance.now() - sentAt); setTimeout(next, 5); });
    d.bind(0, '${hosts.hosts[from]!.ip}', next);
    setTimeout(() => { process.stdout.write('timeout\\n'); process.exit(1); }, 12000);`;
  const client = hosts.spawnIn(from, process.execPath, ['-e', clientScript]);
  let out = '';
  client.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  await new Promise((r) => client.once('exit', r));
  echo.kill();
  const m = /median ([\d.]+)/.exec(out);
  assert.ok(m, `no round trips measured: ${out}`);
  return Number(m[1]);
}

test('a delay relay holds datagrams for about the delay asked for, and forwards them all', async () => {
  const relay = await hosts.startRelay(1, 24950, 24951);
  const direct = await medianRoundTripMs(0, 1, 24950, 24951, 20);
  await relay.setDelay(120, 0);
  const delayed = await medianRoundTripMs(0, 1, 24950, 24951, 20);
  const stats = await relay.stats();
  relay.child.kill();
  console.log(`# relay: median round trip ${direct.toFixed(1)} ms without delay, ${delayed.toFixed(1)} ms with 120 ms`);
  assert.ok(direct < 60, `round trip through an idle relay ${direct} ms`);
  assert.ok(delayed >= 120 && delayed < 220, `round trip with 120 ms delay ${delayed} ms`);
  assert.equal(stats.forwarded, 40);
  assert.equal(stats.dropped, 0);
});
