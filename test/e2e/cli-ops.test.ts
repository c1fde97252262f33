// The operator's commands run through bin/swimd as a user would: member
// filters, owned partitions, the one-line-per-change watch, the log monitor
// (at a more detailed level than the daemon's own), text logs and usage errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WatchLine } from '../../src/api/views.js';
import { freePorts, killAll, sleep, tmp, track, waitFor } from '../../harness/procs.js';
import { localCluster } from '../support/local-cluster.js';

after(killAll);
const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', '..', '..', 'bin', 'swimd');
const NAMES = ['op-a', 'op-b', 'op-c'];
const cluster = await localCluster(NAMES, [
  'profile: local',
  'swim: { probeInterval: 200ms, probeTimeout: 100ms, gossipInterval: 50ms }',
  'partitions: { count: 16, replicas: 2, quorum: 2 }',
  'log: { level: warn }',
]);
const { sock, client, start, ports } = cluster;

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Waits on spawned commands are generous: on a loaded machine starting a node process takes seconds.

/** A long-running command whose output is collected line by line. */
function stream(args: string[]): { child: ChildProcess; lines: string[] } {
  const child = track(spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  return { child, lines };
}

test('operator commands against a three-member cluster', async (t) => {
  const procs = NAMES.map((_, i) => start(i));
  await waitFor(async () => (await client(0).members()).filter((m) => m.state === 'alive').length === 3, 20_000, 'three members alive');
  for (let i = 0; i < 3; i++) await client(i).setTags({ zone: i === 1 ? 'z2' : 'z1' });
  await waitFor(async () => (await client(0).members()).filter((m) => m.meta.zone !== undefined).length === 3, 10_000, 'zones seen by op-a');
  await waitFor(async () => (await client(0).partitions()).partitions.every((p) => p.primary !== null), 15_000, 'every partition held');

  await t.test('members --status and --tag filter the table', () => {
    const byZone = cli(['members', '--socket', sock(0), '--tag', 'zone=z2', '--json']);
    assert.equal(byZone.status, 0, byZone.stderr);
    assert.deepEqual((JSON.parse(byZone.stdout) as { name: string }[]).map((m) => m.name), ['op-b']);
    const both = cli(['members', '--socket', sock(0), '--status', 'alive', '--tag', 'zone=z1']);
    assert.equal(both.status, 0, both.stderr);
    const rows = both.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(rows.sort(), ['op-a', 'op-c']);
    const none = cli(['members', '--socket', sock(0), '--status', 'dead', '--json']);
    assert.deepEqual(JSON.parse(none.stdout), []);
  });

  await t.test('owned lists this member\'s partitions with their tokens', async () => {
    // Compared with what the daemon says just before and just after, when those agree (claims may still be settling).
    const { owned, r } = (await waitFor(
      async () => {
        const before = await client(0).owned();
        const r = cli(['owned', '--socket', sock(0), '--json']);
        const after = await client(0).owned();
        return JSON.stringify(before) === JSON.stringify(after) ? { owned: after, r } : null;
      },
      15_000,
      'a stable ownership view',
    ))!;
    assert.ok(owned.primary.length + owned.replica.length > 0, 'op-a holds something');
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { name: string; partitions: { id: number; role: string; primary: string | null; token: number }[] };
    assert.equal(got.name, 'op-a');
    assert.deepEqual(got.partitions.filter((p) => p.role === 'primary').map((p) => p.id), [...owned.primary].sort((a, b) => a - b));
    assert.deepEqual(got.partitions.filter((p) => p.role === 'replica').map((p) => p.id), [...owned.replica].sort((a, b) => a - b));
    for (const p of got.partitions.filter((x) => x.role === 'primary')) {
      assert.equal(p.token, owned.tokens[p.id], `token of ${p.id}`);
      assert.equal(p.primary, 'op-a');
      assert.ok(p.token > 0);
    }
    const text = cli(['owned', '--socket', sock(0), '--role', 'primary']);
    assert.equal(text.status, 0, text.stderr);
    const lines = text.stdout.trim().split('\n');
    const head = /^op-a: primary of (\d+), replica of \d+, quorum ok$/.exec(lines[0]!);
    assert.ok(head, lines[0]);
    assert.equal(lines.length, 2 + Number(head[1]), 'a header line, the column heads, one row per primary');
    assert.ok(lines.slice(2).every((l) => /^\d+\s+primary\s+op-a\s+[1-9]\d*$/.test(l)), lines.join('\n'));
  });

  await t.test('monitor streams the log at its own level and shows text lines', async () => {
    // The daemon logs at warn; a monitor at debug sees debug lines while it is open.
    const json = stream(['monitor', '--socket', sock(0), '--level', 'debug', '--json']);
    const text = stream(['monitor', '--socket', sock(0), '--level', 'info']);
    await waitFor(async () => ((await client(0).metricSamples()).size > 0 ? cli(['status', '--socket', sock(0)]).status === 0 : false), 20_000, 'daemon answering');
    await sleep(300); // both streams open
    const udp = createSocket('udp4');
    const junk = Buffer.from([0xff, 0x01, 0x02, 0x03]);
    await waitFor(
      async () => {
        await new Promise<void>((r) => udp.send(junk, ports[0]!, '127.0.0.1', () => r()));
        await client(0).setTags({ note: String(Date.now()) });
        return json.lines.some((l) => (JSON.parse(l) as { msg: string }).msg === 'packet dropped') && text.lines.some((l) => l.includes('tags changed'));
      },
      20_000,
      'a debug line on the json monitor and an info line on the text one',
      300,
    );
    udp.close();
    const dropped = json.lines.map((l) => JSON.parse(l) as { level: number; msg: string; node: string }).find((l) => l.msg === 'packet dropped')!;
    assert.equal(dropped.level, 20);
    assert.equal(dropped.node, 'op-a');
    assert.ok(!text.lines.some((l) => l.includes('packet dropped')), 'the info monitor shows no debug line');
    assert.match(text.lines.find((l) => l.includes('tags changed'))!, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO  op-a tags changed tags=\{/);
    json.child.kill('SIGINT');
    text.child.kill('SIGINT');
  });

  await t.test('watch prints one summary line per change; --json keeps the NDJSON', async () => {
    const summary = stream(['watch', '--socket', sock(0)]);
    const raw = stream(['watch', '--socket', sock(0), '--json']);
    // The CLI reads the compact format; a full-format reader beside it must see the same partitions lines.
    const fullLines: WatchLine[] = [];
    const stopFull = new AbortController();
    const fullReader = (async () => {
      for await (const l of client(0).watch(stopFull.signal)) fullLines.push(l);
    })();
    await waitFor(() => summary.lines.length > 0 && raw.lines.length > 0 && fullLines.length > 0, 20_000, 'three snapshots');
    assert.match(summary.lines[0]!, /^snapshot: 3 members \(alive 3\), 16 partitions, 16 with a primary, view \d+, quorum ok$/);
    procs[2]!.kill('SIGKILL');
    const rawLines = (): WatchLine[] => raw.lines.map((l) => JSON.parse(l) as WatchLine);
    await waitFor(() => rawLines().some((l) => l.type === 'member' && l.event === 'dead') && summary.lines.some((l) => l.startsWith('member dead: op-c')), 15_000, 'op-c dead on both');
    await waitFor(() => rawLines().some((l) => l.type === 'partitions' && l.changed.some((c) => c.oldPrimary === 'op-c')), 15_000, 'op-c\'s partitions moving');
    await waitFor(async () => (await client(0).partitions()).partitions.every((p) => p.primary !== null && p.primary !== 'op-c'), 15_000, 'op-c\'s partitions taken over');
    await sleep(500);
    summary.child.kill('SIGINT');
    raw.child.kill('SIGINT');
    stopFull.abort();
    await fullReader;
    // Both readers were connected before the kill, so from it on they got the same lines (one view can have several).
    const fullViews = new Set(fullLines.flatMap((l) => (l.type === 'partitions' ? [l.viewVersion] : [])));
    const fullText = new Set(fullLines.map((l) => JSON.stringify(l)));
    const compared = rawLines().filter((l) => l.type === 'partitions' && fullViews.has(l.viewVersion));
    assert.ok(compared.some((l) => l.type === 'partitions' && l.changed.some((c) => c.oldPrimary === 'op-c')), 'op-c\'s partitions lines seen in both formats');
    for (const l of compared) assert.ok(fullText.has(JSON.stringify(l)), `the decoded compact line is a full line: ${JSON.stringify(l).slice(0, 200)}`);
    const byView = new Map<number, number>();
    for (const l of rawLines()) if (l.type === 'partitions') byView.set(l.viewVersion, (byView.get(l.viewVersion) ?? 0) + l.changed.length);
    const summaries = summary.lines.filter((l) => l.startsWith('partitions:'));
    assert.ok(summaries.length > 0);
    assert.ok(summary.lines.every((l) => /^(snapshot|member \w[\w-]*|partitions|resync):/.test(l)), `every line is a summary: ${summary.lines.join(' | ')}`);
    let multi = false;
    for (const s of summaries) {
      const m = /^partitions: (\d+) changed, view (\d+), quorum (ok|no-quorum)/.exec(s);
      assert.ok(m, s);
      const changed = Number(m[1]);
      if (changed > 1) multi = true;
      const view = Number(m[2]);
      if (byView.has(view)) assert.ok(changed <= byView.get(view)!, `view ${view}: ${s}`);
    }
    assert.ok(multi, 'a line summarised more than one partition');
    const movedAway = summaries.find((s) => s.includes('moved from') && s.includes('op-c'));
    assert.ok(movedAway, `a summary names op-c as the old primary: ${summaries.join(' | ')}`);
  });

  await t.test('bad arguments are usage errors: exit 2 with the argument named', () => {
    const cases: [string[], RegExp][] = [
      [['members', '--socket', sock(0), '--status', 'sleeping'], /status/],
      [['members', '--socket', sock(0), '--tag', 'zone'], /--tag: expected k=v/],
      [['monitor', '--socket', sock(0), '--level', 'loud'], /level/],
      [['owned', '--socket', sock(0), '--role', 'leader'], /role/],
      [['owned', '--socket', sock(0), '--frobnicate'], /frobnicate/],
      [['tags', 'set', 'novalue', '--socket', sock(0)], /expected k=v/],
      [['owner', 'seven', '--socket', sock(0)], /partition: expected a partition id/],
      [['frobnicate'], /frobnicate/],
    ];
    for (const [args, message] of cases) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    const unreachable = cli(['owned', '--socket', join(tmp, 'nobody.sock')]);
    assert.equal(unreachable.status, 1, 'an unreachable daemon is not a usage error');
    assert.match(unreachable.stderr, /UNREACHABLE/);
  });
});

test('log.format: text writes one readable line per entry', async () => {
  const [port] = await freePorts(1);
  const file = join(tmp, 'text-log.yaml');
  writeFileSync(file, [`node: { name: txt-a, bind: 127.0.0.1:${port}, dataDir: ${join(tmp, 'txt-a-data')} }`, `api: { socket: ${join(tmp, 'txt-a.sock')} }`, 'profile: local', 'partitions: { count: 4, replicas: 1, quorum: 1 }', 'log: { level: info, format: text }'].join('\n'));
  const agent = stream(['agent', '--config', file]);
  await waitFor(() => agent.lines.some((l) => l.includes('swimd started')), 10_000, 'the start line');
  agent.child.kill('SIGTERM');
  await new Promise<void>((r) => (agent.child.exitCode !== null ? r() : agent.child.once('exit', () => r())));
  const started = agent.lines.find((l) => l.includes('swimd started'))!;
  assert.match(started, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z INFO  txt-a swimd started bind=127\\.0\\.0\\.1:${port} socket=\\S+ join=0$`));
  assert.ok(agent.lines.every((l) => !l.startsWith('{')), 'no JSON line');
  assert.ok(agent.lines.some((l) => / INFO  txt-a stopped$/.test(l)), agent.lines.join('\n'));
});
