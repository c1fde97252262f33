// The README's examples run as written: the quick start's `npm start` (after
// its build step) and every curl line of "Using it from an application",
// against real daemons. A README edit that breaks an example fails here.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, sleep, track, waitFor } from '../../harness/procs.js';
import { localCluster } from '../support/local-cluster.js';

after(killAll);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The shell lines of the first ```sh block after `heading`. */
function shBlockAfter(heading: string): string[] {
  const at = README.indexOf(heading);
  assert.ok(at >= 0, `README has "${heading}"`);
  const block = /```sh\n([\s\S]*?)```/.exec(README.slice(at));
  assert.ok(block, `a sh block follows "${heading}"`);
  return block[1]!.split('\n').filter((l) => l.trim() !== '');
}

/** Runs one README line in sh with S set, bounded in time; returns stdout and the exit status. */
function run(line: string, socket: string, maxSeconds: number, stdin = ''): { out: string; status: number | null } {
  const cmd = line.replace(/\s+#.*$/, '');
  const bounded = cmd.includes(' -sN') ? cmd.replace(/^curl /, `curl --max-time ${maxSeconds} `) : cmd;
  const r = spawnSync('sh', ['-c', bounded], { env: { ...process.env, S: socket }, input: stdin, encoding: 'utf8', timeout: (maxSeconds + 10) * 1000 });
  return { out: r.stdout ?? '', status: r.status };
}

test('every curl line of "Using it from an application" runs against a daemon and answers as its comment says', async () => {
  const lines = shBlockAfter('## Using it from an application');
  assert.match(lines[0]!, /^S=/, 'the block sets S first');
  const curls = lines.filter((l) => l.startsWith('curl '));
  assert.ok(curls.length >= 10, `the block shows the API (${curls.length} lines)`);
  const c = await localCluster(['rd-a', 'rd-b', 'rd-c'], ['profile: local', 'partitions: { count: 8, replicas: 2, quorum: 2 }', 'log: { level: warn }']);
  const procs = [0, 1, 2].map((i) => c.start(i));
  await waitFor(async () => (await c.client(0).partitions()).partitions.every((p) => p.primary !== null), 30_000, 'three members, every partition owned', 200);
  const leave = curls.find((l) => l.includes('/v1/leave'));
  for (const line of curls.filter((l) => l !== leave)) {
    const streaming = line.includes(' -sN');
    const { out, status } = run(line, c.sock(0), 2);
    // A stream ends at --max-time (curl's 28); everything else exits 0.
    assert.ok(status === 0 || (streaming && status === 28), `${line}: exit ${status}`);
    const first = out.split('\n')[0]!;
    if (line.includes('/metrics')) assert.match(out, /^swimd_/m, `${line}: Prometheus text`);
    else if (line.includes('/v1/session')) assert.ok(status === 0 || status === 28, `${line}: the session was held`);
    // The log stream may be quiet for two seconds; the watch stream starts with a snapshot.
    else if (line.includes('/v1/monitor')) assert.ok(first === '' || JSON.parse(first), `${line}: NDJSON log lines`);
    else assert.doesNotThrow(() => JSON.parse(first), `${line}: JSON (got ${first.slice(0, 80)})`);
  }
  assert.ok(leave, 'the block ends with a leave');
  const r = run(leave, c.sock(2), 5);
  assert.equal(r.status, 0, `${leave}: exit ${r.status}`);
  await waitFor(() => procs[2]!.exitCode !== null || procs[2]!.signalCode !== null, 20_000, 'the member that was asked to leave stops');
  await waitFor(async () => (await c.client(0).members()).find((m) => m.name === 'rd-c')?.state === 'left', 20_000, 'the others see it as left');
});

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => {
      srv.close(() => {
        const u = createSocket('udp4');
        u.once('error', () => resolve(false));
        u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
      });
    });
  });
}

test("the quick start's npm start shows three members owning the partitions, and Ctrl-C stops it and cleans up", async () => {
  const quick = shBlockAfter('## Quick start');
  assert.ok(quick.some((l) => l.startsWith('npm ci && npm start')), 'the quick start is `npm ci && npm start`');
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
  // What npm start runs once it has built (this test runs on the built tree).
  const [build, demo] = start.split(' && ');
  assert.match(build!, /^npm run build/);
  assert.ok(demo, 'npm start builds, then runs one command');
  // The demo binds 127.0.0.1:7946–7948 (the README says so): they must be free, or this run would test someone else's agents.
  for (const p of [7946, 7947, 7948]) assert.ok(await portFree(p), `port ${p} is free for the demo (is a demo already running?)`);
  const before = new Set(readdirSync(tmpdir()).filter((d) => d.startsWith('swimd-demo-')));
  const [cmd, ...args] = demo.split(' ');
  const child = track(spawn(cmd === 'node' ? process.execPath : cmd!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }));
  let screen = '';
  child.stdout!.on('data', (b: Buffer) => {
    screen = (screen + b.toString()).slice(-20_000);
  });
  const last = (): string => screen.slice(screen.lastIndexOf('\x1b[2J\x1b[H'));
  await waitFor(() => {
    const s = last();
    return ['node-a', 'node-b', 'node-c'].every((n) => new RegExp(`${n}\\s+\\d+\\s+alive`).test(s)) && !/ - /.test(s.split('partitions (')[1] ?? ' - ');
  }, 60_000, 'three alive members and every partition with a primary on the demo screen', 250);
  const dirs = readdirSync(tmpdir()).filter((d) => d.startsWith('swimd-demo-') && !before.has(d));
  assert.equal(dirs.length, 1, 'the demo keeps its configs in one temporary directory');
  child.kill('SIGINT');
  await waitFor(() => child.exitCode !== null, 15_000, 'the demo stops on Ctrl-C');
  assert.equal(child.exitCode, 0);
  assert.equal(existsSync(join(tmpdir(), dirs[0]!)), false, 'its temporary directory is removed');
  await sleep(200);
  for (const p of [7946, 7947, 7948]) assert.ok(await portFree(p), `port ${p} is released`);
});
