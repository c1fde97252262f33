// The log fan-out: a slow monitor reader loses lines (counted, bounded in
// bytes) instead of growing the daemon's memory, and the logger produces the
// most detailed level an open stream asks for while the output keeps its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { MonitorHub } from '../../src/api/monitor.js';
import { createLogger, formatLogLine, setLogLevel } from '../../src/daemon/logger.js';
import { diffReloadable, parseDaemonConfig } from '../../src/config/daemon-config.js';
import type { ConfigError } from '../../src/config/errors.js';

/** A response whose socket accepts writes only while `open` is true. */
class FakeResponse extends EventEmitter {
  open = true;
  written: string[] = [];
  write(text: string): boolean {
    this.written.push(text);
    return this.open;
  }
  end(): void {
    this.emit('close');
  }
}

const line = (i: number): string => `${JSON.stringify({ level: 30, time: 1, msg: 'x'.repeat(80), i })}\n`;

test('a stalled reader gets at most monitorQueueBytes queued; the rest is dropped, counted and reported', () => {
  const hub = new MonitorHub(1024);
  const res = new FakeResponse();
  hub.add(res as unknown as ServerResponse, 30);
  res.open = false;
  hub.publish(line(0), 30); // accepted by the socket, which then reports it is full
  for (let i = 1; i <= 200; i++) hub.publish(line(i), 30);
  assert.equal(res.written.length, 1, 'nothing more is written while the socket is full');
  const queuedLines = Math.floor(1024 / line(1).length);
  assert.equal(hub.dropped, 200 - queuedLines, 'everything beyond the byte bound is dropped');
  res.open = true;
  res.emit('drain');
  const after = res.written.slice(1).map((l) => JSON.parse(l) as { i?: number; missed?: number; level: number });
  assert.deepEqual(after.slice(0, queuedLines).map((l) => l.i), Array.from({ length: queuedLines }, (_, k) => k + 1), 'the queued lines, in order');
  assert.equal(after.length, queuedLines + 1);
  assert.equal(after[queuedLines]!.missed, 200 - queuedLines, 'then one line saying how many were missed');
  assert.equal(after[queuedLines]!.level, 40);
  hub.publish(line(999), 30);
  assert.equal((JSON.parse(res.written.at(-1)!) as { i: number }).i, 999, 'a caught-up reader gets lines directly again');
});

test('each stream gets only lines at its level or above; a closed stream stops receiving', () => {
  const hub = new MonitorHub(1 << 20);
  const warn = new FakeResponse();
  const debug = new FakeResponse();
  hub.add(warn as unknown as ServerResponse, 40);
  hub.add(debug as unknown as ServerResponse, 20);
  assert.equal(hub.lowestLevel(), 20);
  hub.publish('{"level":20}\n', 20);
  hub.publish('{"level":50}\n', 50);
  assert.equal(warn.written.length, 1);
  assert.equal(debug.written.length, 2);
  debug.end();
  assert.equal(hub.lowestLevel(), 40);
  assert.equal(hub.count(), 1);
});

test('the logger produces debug lines only while a monitor asks for them, and the output keeps its level', () => {
  const hub = new MonitorHub(1 << 20);
  const out: string[] = [];
  const log = createLogger('warn', 'n1', { tap: hub, out: { write: (t: string) => out.push(t) } });
  log.debug('before');
  assert.equal(log.isLevelEnabled('debug'), false, 'nobody asks for debug yet');
  const res = new FakeResponse();
  hub.add(res as unknown as ServerResponse, 20);
  assert.equal(log.isLevelEnabled('debug'), true);
  log.debug({ k: 1 }, 'during');
  log.warn('warned');
  assert.deepEqual(res.written.map((l) => (JSON.parse(l) as { msg: string }).msg), ['during', 'warned']);
  assert.deepEqual(out.map((l) => (JSON.parse(l) as { msg: string }).msg), ['warned'], 'the output still writes warn and above only');
  setLogLevel(log, 'error');
  assert.equal(log.isLevelEnabled('debug'), true, 'a reload keeps the open stream\'s level');
  res.end();
  assert.equal(log.isLevelEnabled('debug'), false);
  assert.equal(log.isLevelEnabled('warn'), false, 'back to the configured level once the stream closes');
  assert.equal(log.isLevelEnabled('error'), true);
});

test('text format: time, level, node, message, then fields', () => {
  const out: string[] = [];
  const log = createLogger('info', 'node-a', { format: 'text', out: { write: (t: string) => out.push(t) } });
  log.info({ member: 'node-b', incarnation: 3, why: 'two words', tags: { zone: 'a' } }, 'member dead');
  assert.equal(out.length, 1);
  assert.match(out[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  node-a member dead member=node-b incarnation=3 why="two words" tags=\{"zone":"a"\}\n$/);
  assert.equal(formatLogLine('not json\n'), 'not json');
  assert.equal(formatLogLine('{"level":50,"time":0,"msg":"boom"}'), '1970-01-01T00:00:00.000Z ERROR boom');
});

test('config: log.format and limits.monitorQueueBytes, with errors naming the field', () => {
  const base = 'node: { name: a }\npartitions: { quorum: 1 }\n';
  const cfg = parseDaemonConfig(`${base}log: { format: text }\nlimits: { monitorQueueBytes: 65536 }\n`, '<text>');
  assert.equal(cfg.log.format, 'text');
  assert.equal(cfg.api.monitorQueueBytes, 65536);
  const defaults = parseDaemonConfig(base, '<text>');
  assert.equal(defaults.log.format, 'json');
  assert.equal(defaults.api.monitorQueueBytes, 1024 * 1024);
  assert.throws(() => parseDaemonConfig(`${base}log: { format: pretty }\n`, '<text>'), (err: ConfigError) => err.errors.some((e) => e.field === 'log.format'));
  assert.throws(() => parseDaemonConfig(`${base}limits: { monitorQueueBytes: 10 }\n`, '<text>'), (err: ConfigError) => err.errors.some((e) => e.field === 'limits.monitorQueueBytes'));
  assert.deepEqual(diffReloadable(defaults, cfg).needRestart.includes('log.format'), true, 'the format is chosen at start');
});
