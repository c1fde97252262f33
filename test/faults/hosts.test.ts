// The fault harness itself: the faults it claims to inject must really happen,
// or every scenario built on it proves nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestHosts } from './hosts.js';

const PORT = 24900;
const hosts = TestHosts.create(3);
after(() => hosts.destroy());

/** Sends `count` datagrams from host `from` to host `to` and returns how many arrived. */
async function delivered(from: number, to: number, count: number): Promise<number> {
  const receiverScript = `
    const d = require('dgram').createSocket('udp4'); let n = 0;
    d.on('message', () => n++);
    d.bind(${PORT}, '${hosts.hosts[to]!.ip}', () => process.stdout.write('ready\\n'));
    setTimeout(() => { process.stdout.write('count ' + n + '\\n'); process.exit(0); }, 2500);`;
  const receiver = hosts.spawnIn(to, process.execPath, ['-e', receiverScript]);
  let out = '';
  receiver.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 5000;
  while (!out.includes('ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(out.includes('ready'), 'receiver did not start');
  const senderScript = `
    const d = require('dgram').createSocket('udp4'); let i = 0;
    const tick = () => { if (i++ >= ${count}) return d.close(); d.send('x', ${PORT}, '${hosts.hosts[to]!.ip}', () => setTimeout(tick, 2)); };
    tick();`;
  const sender = hosts.spawnIn(from, process.execPath, ['-e', senderScript]);
  await new Promise((r) => sender.once('exit', r));
  await new Promise((r) => receiver.once('exit', r));
  const m = /count (\d+)/.exec(out);
  assert.ok(m, `receiver printed no count: ${out}`);
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
