// The daemon as users meet it: real processes started through the CLI, queried
// over the Unix socket with raw HTTP and with the CLI.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwimdClient } from '../../src/client/client.js';
import type { WatchLine } from '../../src/api/views.js';
import { freePorts, killAll, sleep, tmp, track, waitFor } from '../../harness/procs.js';
import { SeededRandom } from '../../src/core/prng.js';

after(killAll);
const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', '..', '..', 'bin', 'swimd');
const CLI = join(here, '..', '..', 'src', 'cli', 'main.js');
const [SPARE_PORT, ...PORTS] = await freePorts(4);
const NAMES = ['e2e-a', 'e2e-b', 'e2e-c'];
const sock = (i: number): string => join(tmp, `${NAMES[i]}.sock`);
const cfgFile = (i: number): string => join(tmp, `${NAMES[i]}.yaml`);

function writeConfig(i: number, probeInterval = '200ms'): void {
  writeFileSync(
    cfgFile(i),
    [
      `node: { name: ${NAMES[i]}, bind: 127.0.0.1:${PORTS[i]}, meta: { zone: z${i} } }`,
      `join: [${PORTS.map((p) => `127.0.0.1:${p}`).join(', ')}]`,
      'profile: local',
      `swim: { probeInterval: ${probeInterval}, probeTimeout: 100ms, gossipInterval: 50ms }`,
      'partitions: { count: 32, replicas: 2, quorum: 2 }',
      `api: { socket: ${sock(i)} }`,
      'log: { level: warn }',
    ].join('\n'),
  );
}

function startAgent(i: number) {
  return track(spawn(process.execPath, [CLI, 'agent', '--config', cfgFile(i)], { stdio: ['ignore', 'ignore', 'pipe'] }));
}

function rawHttp(i: number, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock(i), method, path }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function rawBytes(i: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(sock(i));
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    s.write(bytes);
    setTimeout(() => s.destroy(), 2000).unref();
  });
}

function cliJson(i: number, args: string[]): unknown {
  const r = spawnSync(process.execPath, [BIN, ...args, '--socket', sock(i), '--json'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Collects a watch stream's lines in the background. */
function watchLines(i: number): { lines: WatchLine[]; stop: () => void } {
  const ac = new AbortController();
  const lines: WatchLine[] = [];
  void (async () => {
    try {
      for await (const l of new SwimdClient(sock(i)).watch(ac.signal)) lines.push(l);
    } catch {
      // stream ended
    }
  })();
  return { lines, stop: () => ac.abort() };
}

test('three agents through the CLI: API, CLI, failover on the watch stream, leave, reload, bad input', async (t) => {
  PORTS.forEach((_, i) => writeConfig(i));
  const procs = PORTS.map((_, i) => startAgent(i));
  const client = (i: number): SwimdClient => new SwimdClient(sock(i));
  await waitFor(async () => (await client(0).members()).filter((m) => m.state === 'alive').length === 3 && (await client(2).members()).filter((m) => m.state === 'alive').length === 3, 20_000, 'three members alive');

  await t.test('raw HTTP and the CLI agree on members and partitions', async () => {
    // Every partition's primary holds a quorum-granted epoch (one round trip after the view settles).
    await waitFor(async () => (await client(1).partitions()).partitions.every((p) => p.primary !== null && p.token > 0), 10_000, 'every partition owned');
    const raw = await rawHttp(1, 'GET', '/v1/members');
    assert.equal(raw.status, 200);
    const members = JSON.parse(raw.body).members as { name: string; meta: Record<string, string>; damping?: { score?: number; suppressed: boolean; flaps?: number } }[];
    assert.deepEqual(members.map((m) => m.name).sort(), [...NAMES].sort());
    // Flap damping is on by default: this daemon shows its own score; the others' decision is their tag.
    const own = members.find((m) => m.name === NAMES[1])!;
    assert.deepEqual(own.damping, { score: 0, suppressed: false, flaps: 0 }, JSON.stringify(own.damping));
    assert.ok(members.filter((m) => m !== own).every((m) => JSON.stringify(m.damping) === '{"suppressed":false}'), JSON.stringify(members.map((m) => m.damping)));
    assert.deepEqual(members.find((m) => m.name === 'e2e-c')!.meta, { zone: 'z2', 'swimd-own': '1', 'swimd-pt': '32:2:r' }, 'its tags, the ownership tag every swimd member carries and its partition settings');
    const viaCli = cliJson(1, ['partitions']) as { partitions: { primary: string; token: number }[] };
    assert.equal(viaCli.partitions.length, 32);
    assert.ok(viaCli.partitions.every((p) => NAMES.includes(p.primary)));
    const one = cliJson(0, ['owner', '5']) as { id: number; primary: string };
    assert.equal(one.id, 5);
    const health = await rawHttp(0, 'GET', '/v1/health');
    assert.equal(health.status, 200);
    const metrics = await rawHttp(0, 'GET', '/metrics');
    assert.match(metrics.body, /swimd_probes_total \d+/);
    // Monotonic counts are Prometheus counters (rate() works on them), not gauges.
    assert.match(metrics.body, /swimd_members_damped 0/);
    for (const name of ['swimd_flaps_total', 'swimd_probes_total', 'swimd_drops_total', 'swimd_verifications_total', 'swimd_watch_resyncs_total', 'swimd_broadcasts_dropped_total', 'swimd_ownership_total']) {
      assert.match(metrics.body, new RegExp(`# TYPE ${name} counter`), name);
    }
    // Each scrape adds what the core's count grew by: the counter follows it and never goes back.
    const first = (await client(0).metricSamples()).get('swimd_probes_total')!;
    await sleep(700);
    const second = (await client(0).metricSamples()).get('swimd_probes_total')!;
    assert.ok(first > 0 && second > first, `probes counted ${first}, then ${second}`);
    const samples = await client(0).metricSamples();
    const periods = samples.get('swimd_probe_period_lateness_seconds_count') ?? 0;
    assert.ok(periods > 0, 'protocol periods are timed');
    assert.equal(samples.get('swimd_probe_period_lateness_seconds_bucket{le="+Inf"}'), periods, 'one scrape: the histogram adds up');
    const missed = samples.get('swimd_missed_probe_periods_total');
    // Start-up (module loading, first JIT) may stall one period on a busy machine; no more.
    assert.ok(missed !== undefined && Number.isInteger(missed) && missed <= Math.max(1, periods / 10), `missed periods ${missed} of ${periods}`);
    const h = JSON.parse(health.body) as { probePeriods: number; missedProbePeriods: number };
    assert.ok(h.probePeriods > 0 && Number.isInteger(h.missedProbePeriods), `health reports the rhythm: ${health.body}`);
  });

  await t.test('kill -9 of one: the others’ watch streams report its partitions moving with larger tokens', async () => {
    const before = await client(1).partitions();
    const owned = before.partitions.filter((p) => p.primary === 'e2e-a').map((p) => p.id);
    assert.ok(owned.length > 0);
    const wb = watchLines(1);
    const wc = watchLines(2);
    await waitFor(() => wb.lines.length > 0 && wc.lines.length > 0, 5_000, 'watch snapshots');
    assert.equal(wb.lines[0]!.type, 'snapshot');
    procs[0]!.kill('SIGKILL');
    for (const w of [wb, wc]) {
      await waitFor(() => {
        const moved = new Set(w.lines.flatMap((l) => (l.type === 'partitions' ? l.changed.filter((c) => c.oldPrimary === 'e2e-a').map((c) => c.id) : [])));
        return owned.every((id) => moved.has(id));
      }, 20_000, 'failover on the watch stream');
      // Each moved partition gets a new primary among the survivors, with an epoch above the one e2e-a held.
      await waitFor(() => {
        const taken = new Map(w.lines.flatMap((l) => (l.type === 'partitions' ? l.changed.filter((c) => c.newPrimary !== null && c.newPrimary !== 'e2e-a').map((c) => [c.id, c] as const) : [])));
        return owned.every((id) => taken.has(id));
      }, 20_000, 'new primaries on the watch stream');
      for (const id of owned) {
        const last = w.lines.flatMap((l) => (l.type === 'partitions' ? l.changed.filter((c) => c.id === id && c.newPrimary !== null) : [])).at(-1)!;
        assert.ok(last.newPrimary === 'e2e-b' || last.newPrimary === 'e2e-c', `partition ${id} went to ${last.newPrimary}`);
        assert.ok(last.token > before.partitions[id]!.token, `partition ${id}: new token ${last.token} above ${before.partitions[id]!.token}`);
      }
      // Its partitions may move before its death (a refused probe bars it at once); the death follows.
      await waitFor(() => w.lines.some((l) => l.type === 'member' && l.event === 'dead' && l.member.name === 'e2e-a'), 20_000, 'the death on the watch stream');
      w.stop();
    }
  });

  await t.test('SIGHUP with a new probe interval takes effect', async () => {
    writeConfig(1, '300ms');
    procs[1]!.kill('SIGHUP');
    await waitFor(async () => ((await client(1).self()).config as Record<string, number>).probeIntervalMs === 300, 5_000, 'new probe interval');
  });

  await t.test('garbage and malformed HTTP get 4xx and the daemon keeps serving', async () => {
    assert.match(await rawBytes(1, 'GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(await rawBytes(1, 'GET /v1/members HTTP/1.1\r\nHost: x\r\nX: ' + 'a'.repeat(20_000) + '\r\n\r\n'), /^HTTP\/1\.1 431/);
    assert.match(await rawBytes(1, '\x00\x01\x02\xff\xfe'), /^HTTP\/1\.1 400/);
    const notFound = await rawHttp(1, 'GET', '/v2/nothing');
    assert.equal(notFound.status, 404);
    assert.equal(JSON.parse(notFound.body).code, 'NOT_FOUND');
    const badId = await rawHttp(1, 'GET', '/v1/partitions/abc');
    assert.equal(badId.status, 404);
    assert.equal(JSON.parse(badId.body).code, 'PARTITION_NOT_FOUND');
    const wrongMethod = await rawHttp(1, 'DELETE', '/v1/members');
    assert.equal(wrongMethod.status, 405);
    assert.equal((await rawHttp(1, 'GET', '/v1/self')).status, 200, 'still serving');
  });

  await t.test('300 random and mutated requests (seeded): never a 5xx, never a crash, and the daemon keeps serving', async () => {
    const seed = Number(process.env.SWIMD_API_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`# API fuzz seed ${seed} (replay with SWIMD_API_FUZZ_SEED=${seed})`);
    const rnd = new SeededRandom(seed);
    const pick = <T,>(xs: readonly T[]): T => xs[rnd.int(xs.length)]!;
    const junk = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(rnd.int(256))).join('');
    const paths = ['/v1/self', '/v1/members', '/v1/partitions', '/v1/partitions/3', '/v1/partitions/-1', '/v1/partitions/99999999999999999999', '/v1/owned', '/v1/health', '/metrics', '/v1/%ff%00', '/v1/members?x=' + 'y'.repeat(300), '/../../etc/passwd', '*'];
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'G\x00T', 'BREW'];
    const bodies = ['', '{', '{"a":', '[1,2', 'null', '{"leave":true}', junk(64)];
    const make = (): string => {
      const kind = rnd.int(3);
      if (kind === 0) return junk(1 + rnd.int(200)) + '\r\n\r\n';
      const body = pick(bodies);
      const length = rnd.int(4) === 0 ? String(body.length + 1 + rnd.int(50)) : String(body.length);
      const chunked = rnd.int(6) === 0;
      const valid = `${pick(methods)} ${pick(paths)} HTTP/1.1\r\nHost: swimd\r\nConnection: close\r\n${chunked ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${length}\r\n`}\r\n${chunked ? `zz\r\n${body}\r\n` : body}`;
      if (kind === 1) return valid;
      const bytes = valid.split('');
      for (let k = 1 + rnd.int(5); k > 0; k--) bytes[rnd.int(bytes.length)] = String.fromCharCode(rnd.int(256));
      return bytes.join('');
    };
    const requests = Array.from({ length: 300 }, make).filter((r) => !/leave/i.test(r));
    const statuses = new Map<string, number>();
    for (let i = 0; i < requests.length; i += 25) {
      const replies = await Promise.all(requests.slice(i, i + 25).map((r) => rawBytes(1, r)));
      for (const [j, reply] of replies.entries()) {
        const status = /^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? (reply === '' ? 'no reply' : 'not HTTP');
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        assert.ok(status === 'no reply' || /^[234]\d\d$/.test(status), `request ${JSON.stringify(requests[i + j]!.slice(0, 80))} got ${JSON.stringify(reply.slice(0, 120))}`);
      }
    }
    console.log(`# API fuzz: ${[...statuses].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
    assert.ok([...statuses.keys()].some((k) => k.startsWith('4')), 'some requests were rejected with a 4xx');
    assert.equal(procs[1]!.exitCode, null, 'the daemon is still running');
    assert.equal((await rawHttp(1, 'GET', '/v1/health')).status, 200, 'still serving');
    assert.equal((await client(1).members()).length, 3);
  });

  await t.test('SIGTERM of one: the others record it as left within one second', async () => {
    const t0 = Date.now();
    procs[2]!.kill('SIGTERM');
    await waitFor(async () => (await client(1).members()).find((m) => m.name === 'e2e-c')?.state === 'left', 1_000, 'left within 1 s', 25);
    console.log(`# left recorded after ${Date.now() - t0} ms`);
    const exit = await new Promise<number | null>((r) => (procs[2]!.exitCode !== null ? r(procs[2]!.exitCode) : procs[2]!.once('exit', (c) => r(c))));
    assert.equal(exit, 0);
  });
});

test('an invalid config exits 2 and names each bad field', () => {
  const file = join(tmp, 'bad.yaml');
  writeFileSync(file, 'node: { name: x }\nswim: { probeInterval: banana }\npartitions: { strategy: random }\n');
  const r = spawnSync(process.execPath, [BIN, 'agent', '--config', file], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /swim\.probeInterval: expected a duration such as "200ms", got "banana"/);
  assert.match(r.stderr, /partitions\.strategy: expected rendezvous or modulo, got "random"/);
});

test('a second daemon on a live socket refuses to start; a stale socket file is replaced', async () => {
  writeConfig(1);
  const first = startAgent(1);
  // A lone member has no quorum (health says 503), but it serves.
  await waitFor(async () => (await rawHttp(1, 'GET', '/v1/self')).status === 200, 10_000, 'first daemon up');
  const file = join(tmp, 'second.yaml');
  writeFileSync(file, `node: { name: second, bind: 127.0.0.1:${SPARE_PORT} }\napi: { socket: ${sock(1)} }\npartitions: { quorum: 2 }\nlog: { level: error }\n`);
  const second = spawnSync(process.execPath, [BIN, 'agent', '--config', file], { encoding: 'utf8', timeout: 10_000 });
  assert.notEqual(second.status, 0);
  assert.match(second.stderr, /another daemon is serving/);
  first.kill('SIGKILL');
  await sleep(200);
  const third = startAgent(1); // the socket file is stale now
  await waitFor(async () => (await rawHttp(1, 'GET', '/v1/self')).status === 200, 10_000, 'daemon on a stale socket');
  third.kill('SIGKILL');
});
