// The compact watch format: whatever a diff holds, the client's decoding of the
// compact line gives the same partitions line as the full format; a line that
// breaks the format is a CompactLineError, never a crash or a wrong table; the
// API refuses unknown formats and bad request targets with a 400.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { PartitionsLineWriter } from '../../src/api/views.js';
import { CompactPartitionsLineWriter } from '../../src/api/compact.js';
import { WatchHub } from '../../src/api/watch.js';
import { startApiServer, type ApiDeps } from '../../src/api/server.js';
import { CompactLineError, decodeCompactPartitions, isCompactPartitions, type CompactPartitionsJson } from '../../src/client/compact.js';
import { CHUNK, CHUNK_BITS, CHUNK_MASK } from '../../src/partition/table.js';
import type { LeadershipDiff } from '../../src/partition/leadership.js';

interface TableSpec {
  names: string[];
  stride: number;
  P: number;
  /** Per partition: its row (slots, −1 for none) and token. */
  rows: number[][];
  tokens: number[];
  ids: number[];
  olds: number[];
  viewVersion: number;
  quorum: 'ok' | 'no-quorum';
}

function diffOf(s: TableSpec): LeadershipDiff {
  const rows = Array.from({ length: Math.ceil(s.P / CHUNK) }, () => new Int32Array(CHUNK * s.stride).fill(-1));
  const tokens = Array.from({ length: rows.length }, () => new Float64Array(CHUNK));
  for (let p = 0; p < s.P; p++) {
    rows[p >>> CHUNK_BITS]!.set(s.rows[p]!, (p & CHUNK_MASK) * s.stride);
    tokens[p >>> CHUNK_BITS]![p & CHUNK_MASK] = s.tokens[p]!;
  }
  return { viewVersion: s.viewVersion, quorum: s.quorum, count: s.ids.length, ids: Int32Array.from(s.ids), oldPrimarySlots: Int32Array.from(s.olds), table: { rows, tokens, stride: s.stride, names: s.names }, changed: [] };
}

/** Both writers on one diff: the full line parsed, and the compact line parsed and decoded by the client. */
function bothFormats(diff: LeadershipDiff, full = new PartitionsLineWriter(), compact = new CompactPartitionsLineWriter()): { full: unknown; compact: ReturnType<typeof decodeCompactPartitions>; compactBytes: number } {
  const fullLine = JSON.parse(full.write(diff).toString('utf8')) as unknown;
  const compactText = compact.write(diff);
  assert.equal(compactText.at(-1), 0x0a, 'one line');
  assert.equal(compactText.indexOf(0x0a), compactText.length - 1, 'no newline inside');
  const parsed = JSON.parse(compactText.toString('utf8')) as unknown;
  assert.ok(isCompactPartitions(parsed));
  return { full: fullLine, compact: decodeCompactPartitions(parsed), compactBytes: compactText.length };
}

function assertSame(diff: LeadershipDiff, full = new PartitionsLineWriter(), compact = new CompactPartitionsLineWriter()): number {
  const r = bothFormats(diff, full, compact);
  assert.deepEqual(JSON.parse(JSON.stringify(r.compact)), r.full, 'JSON of the decoded line is the full line');
  const f = r.full as { viewVersion: number; quorum: string; changed: unknown[] };
  assert.equal(r.compact.viewVersion, f.viewVersion);
  assert.equal(r.compact.quorum, f.quorum);
  assert.deepEqual(r.compact.changed, f.changed, 'the changed objects are the full line\'s');
  assert.equal(r.compact.columns.count, diff.count);
  assert.deepEqual([...r.compact.columns.ids], [...diff.ids], 'ids in the diff\'s order');
  return r.compactBytes;
}

const nameArb = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.constantFrom('node-a', 'quote " back\\ slash\nnewline', 'ünïcode-é', '☃ snow', '𝄞 clef', 'x'.repeat(300), 'tab\there'),
);

const specArb = fc
  .record({
    names: fc.uniqueArray(nameArb, { minLength: 1, maxLength: 40 }),
    stride: fc.integer({ min: 1, max: 6 }),
    P: fc.integer({ min: 1, max: 3 * CHUNK + 7 }),
    integerTokens: fc.boolean(),
    viewVersion: fc.nat(),
    quorum: fc.constantFrom('ok' as const, 'no-quorum' as const),
    seed: fc.integer(),
    idShape: fc.constantFrom('random', 'ascending', 'all', 'none', 'one', 'runs'),
  })
  .map((r): TableSpec => {
    let x = r.seed >>> 0 || 1;
    const rand = (n: number): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const N = r.names.length;
    const rows = Array.from({ length: r.P }, () => {
      const row = new Array<number>(r.stride).fill(-1);
      if (rand(4) === 0) row[0] = -1;
      else row[0] = rand(N);
      const filled = rand(r.stride);
      for (let k = 1; k <= filled; k++) row[k] = rand(N);
      // Now and then a slot after an empty one: the full line stops at the first empty replica.
      if (r.stride > 2 && rand(5) === 0) row[r.stride - 1] = rand(N);
      return row;
    });
    const weird = [0.5, -3, 2 ** 53 + 2, 1e300];
    const tokens = Array.from({ length: r.P }, () => (r.integerTokens ? [0, 1, 5, 127, 128, 2 ** 40, Number.MAX_SAFE_INTEGER][rand(7)]! + rand(3) * (rand(2) ? 1 : 0) : rand(3) === 0 ? weird[rand(weird.length)]! : rand(1000)));
    let ids: number[];
    switch (r.idShape) {
      case 'all': ids = Array.from({ length: r.P }, (_, i) => i); break;
      case 'none': ids = []; break;
      case 'one': ids = [rand(r.P)]; break;
      case 'ascending': ids = Array.from({ length: r.P }, (_, i) => i).filter(() => rand(3) === 0); break;
      case 'runs': ids = Array.from({ length: r.P }, (_, i) => i).filter((i) => (i >> 2) % 3 !== 1); break;
      default: ids = Array.from({ length: rand(2 * r.P) }, () => rand(r.P)); // any order, repeats allowed
    }
    const olds = ids.map(() => rand(N + 1) - 1);
    return { names: r.names, stride: r.stride, P: r.P, rows, tokens: tokens.map((t) => (Object.is(t, -0) ? 0 : t)), ids, olds, viewVersion: r.viewVersion, quorum: r.quorum };
  });

test('random diffs: the compact line decodes to the full line (names, ids in order, replicas, tokens, view and quorum)', () => {
  // One pair of writers for every run: their scratch state must not leak from one line into the next.
  const full = new PartitionsLineWriter();
  const compact = new CompactPartitionsLineWriter();
  fc.assert(
    fc.property(specArb, (spec) => {
      assertSame(diffOf(spec), full, compact);
    }),
    { numRuns: 300 },
  );
});

test('tokens that are not counts (fractions, negatives, past 2^53) travel exactly as float64', () => {
  const spec: TableSpec = { names: ['a', 'b'], stride: 2, P: 4, rows: [[0, 1], [1, -1], [-1, -1], [0, 0]], tokens: [0.5, -3, 2 ** 53 + 2, 1e300], ids: [0, 1, 2, 3], olds: [-1, 0, 1, -1], viewVersion: 7, quorum: 'ok' };
  const r = bothFormats(diffOf(spec));
  assert.deepEqual([...r.compact.columns.tokens], spec.tokens);
});

/** A table of P partitions over `members` names, seeded, every partition changed; stride 4 (replicas 3). */
function bigSpec(P: number, members: number, seed: number): TableSpec {
  let x = seed;
  const rand = (n: number): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % n;
  const names = Array.from({ length: members }, (_, i) => (i % 7 === 0 ? `nœud-${i}` : `m${i}`));
  const rows = Array.from({ length: P }, () => [rand(members), rand(members), rand(members), rand(members)]);
  const tokens = Array.from({ length: P }, () => 1000 + rand(50));
  const ids = Array.from({ length: P }, (_, i) => i);
  return { names, stride: 4, P, rows, tokens, ids, olds: ids.map(() => rand(members + 1) - 1), viewVersion: 99, quorum: 'ok' };
}

test('P 65536, every partition changed: equal lines, a few bytes per partition against 74 for the full line', () => {
  const spec = bigSpec(65536, 3, 11);
  const diff = diffOf(spec);
  const bytes = assertSame(diff);
  const fullBytes = new PartitionsLineWriter().write(diff).length;
  assert.ok(bytes / 65536 < 9, `compact ${(bytes / 65536).toFixed(1)} B per partition`);
  assert.ok(fullBytes / bytes > 8, `full ${fullBytes} B against compact ${bytes} B`);
});

test('more members in a line than one or two bytes index: cells widen to 2 and 4 bytes and still decode', () => {
  for (const [members, width] of [[300, 2], [70_000, 4]] as const) {
    const spec = bigSpec(members === 300 ? 2048 : 65536, members, 5);
    const diff = diffOf(spec);
    const r = bothFormats(diff);
    assert.equal((JSON.parse(new CompactPartitionsLineWriter().write(diff).toString('utf8')) as { width: number }).width, width);
    assert.deepEqual(r.compact.changed, (r.full as { changed: unknown }).changed);
  }
});

test('a compact line that breaks the format is a CompactLineError, never another exception or a wrong table', () => {
  const spec = bigSpec(200, 5, 3);
  spec.ids = spec.ids.filter((i) => i % 3 !== 0);
  spec.olds = spec.olds.slice(0, spec.ids.length);
  const good = JSON.parse(new CompactPartitionsLineWriter().write(diffOf(spec)).toString('utf8')) as CompactPartitionsJson;
  const expected = JSON.stringify(decodeCompactPartitions(good));
  const broken: [string, Partial<Record<keyof CompactPartitionsJson, unknown>>][] = [
    ['count too high', { count: good.count + 1 }],
    ['count negative', { count: -1 }],
    ['count past what the line can hold', { count: 2 ** 40 }],
    ['count not a number', { count: 'many' }],
    ['width 3', { width: 3 }],
    ['no members', { members: [] }],
    ['members not names', { members: [1, 2] }],
    ['replicaSlots huge', { replicaSlots: 1e9 }],
    ['slots cut short', { slots: good.slots.slice(0, -8) }],
    ['ids cut short', { ids: good.ids.slice(0, 4) }],
    ['ids not text', { ids: 5 }],
    ['tokens cut short', { tokens: good.tokens!.slice(0, 4) }],
    ['tokens missing', { tokens: undefined }],
    ['tokenBase missing', { tokenBase: undefined }],
    ['quorum unknown', { quorum: 'maybe' }],
  ];
  for (const [what, change] of broken) {
    assert.throws(() => decodeCompactPartitions({ ...good, ...change } as CompactPartitionsJson), CompactLineError, what);
  }
  // Random byte damage to the packed columns: decoded, it is refused or still a table of the right shape.
  fc.assert(
    fc.property(fc.constantFrom('ids', 'slots', 'tokens'), fc.nat(), fc.integer({ min: 0, max: 255 }), (field, at, byte) => {
      const bytes = Buffer.from(good[field as 'ids'], 'base64');
      bytes[at % bytes.length] = byte;
      try {
        const d = decodeCompactPartitions({ ...good, [field]: bytes.toString('base64') });
        assert.equal(d.changed.length, good.count);
        for (const c of d.changed) for (const n of [c.oldPrimary, c.newPrimary, ...c.replicas]) assert.ok(n === null || good.members.includes(n));
      } catch (err) {
        assert.ok(err instanceof CompactLineError, String(err));
      }
    }),
    { numRuns: 400 },
  );
  assert.equal(JSON.stringify(decodeCompactPartitions(good)), expected, 'the good line still decodes the same');
});

class FakeResponse extends EventEmitter {
  written: (string | Uint8Array)[] = [];
  accepting = true;
  write(text: string | Uint8Array): boolean {
    this.written.push(text);
    return this.accepting;
  }
  end(): void {}
}

test('the hub writes each format once, only for its readers, and holds compact lines to the same byte bound', () => {
  const hub = new WatchHub(1_000, () => ({ type: 'resync', reason: 'snap' }), 10_000);
  const full = new FakeResponse();
  const compact = new FakeResponse();
  hub.add(full as unknown as ServerResponse, 'full');
  hub.add(compact as unknown as ServerResponse, 'compact');
  const made = { full: 0, compact: 0 };
  const line = (kind: 'full' | 'compact', size: number) => (): string => (made[kind]++, `${kind}${'.'.repeat(size)}\n`);
  hub.publishPartitions(line('full', 10), line('compact', 10));
  assert.deepEqual(made, { full: 1, compact: 1 });
  assert.match(String(full.written.at(-1)), /^full/);
  assert.match(String(compact.written.at(-1)), /^compact/);
  full.emit('close');
  hub.publishPartitions(line('full', 10), line('compact', 10));
  assert.deepEqual(made, { full: 1, compact: 2 }, 'no full line is made once no full reader is left');
  compact.accepting = false;
  hub.publishPartitions(line('full', 4_000), line('compact', 4_000)); // written; the socket is now full
  hub.publishPartitions(line('full', 4_000), line('compact', 4_000));
  hub.publishPartitions(line('full', 4_000), line('compact', 4_000));
  assert.equal(hub.resyncs, 0, 'two queued lines of 4 kB fit in 10 kB');
  hub.publishPartitions(line('full', 4_000), line('compact', 4_000));
  assert.equal(hub.resyncs, 1, 'the third passes limits.watchQueueBytes');
});

/** One GET on the socket: status and body (the first chunk for a stream, which is then closed). */
function get(socket: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
        if (res.statusCode === 200 && body.includes('\n')) {
          req.destroy();
          resolve({ status: 200, body });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Raw bytes of a request line, for targets an HTTP client would not send; resolves with the response head and body. */
function raw(socket: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let got = '';
    s.on('data', (c) => (got += c.toString()));
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.write(text);
    setTimeout(() => s.end(), 200).unref();
  });
}

test('GET /v1/watch: format full or compact; anything else, twice, or a malformed target is a 400 naming the problem', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'swimd-compact-'));
  const socket = join(dir, 'api.sock');
  const hub = new WatchHub(16, () => ({ type: 'resync', reason: 'snap' }));
  const added: string[] = [];
  const add = hub.add.bind(hub);
  hub.add = (res, format) => (added.push(format ?? 'full'), add(res, format));
  const server = await startApiServer(socket, 0o600, 8, { watch: hub } as unknown as ApiDeps);
  try {
    for (const [path, format] of [['/v1/watch', 'full'], ['/v1/watch?format=full', 'full'], ['/v1/watch?format=compact', 'compact']] as const) {
      const r = await get(socket, path);
      assert.equal(r.status, 200, path);
      assert.equal(JSON.parse(r.body.split('\n')[0]!).type, 'resync', 'the snapshot line first');
      assert.equal(added.at(-1), format);
    }
    for (const path of ['/v1/watch?format=tiny', '/v1/watch?format=', '/v1/watch?format=compact&format=full', '/v1/watch?format=%ZZ%00', '/v1/watch?format=COMPACT']) {
      const r = await get(socket, path);
      assert.equal(r.status, 400, path);
      const e = JSON.parse(r.body) as { code: string; error: string };
      assert.equal(e.code, 'BAD_REQUEST');
      assert.match(e.error, /^format: /, path);
    }
    const bad = await raw(socket, 'GET //[::1/v1/watch?format=compact HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(bad, /^HTTP\/1\.1 400/);
    assert.match(bad, /BAD_REQUEST/);
    assert.equal(added.length, 3, 'no stream was opened for a refused request');
  } finally {
    hub.closeAll();
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
    rmSync(dir, { recursive: true, force: true });
  }
});
