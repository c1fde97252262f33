import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDurationMs, parseDurationMs } from '../../src/config/duration.js';
import { acceptedConfigKeys, applyOverrides, diffReloadable, loadDaemonConfigFile, parseDaemonConfig, SECTION_KEYS } from '../../src/config/daemon-config.js';
import { KNOB_DOCS } from '../../src/config/knobs.js';
import { ConfigError } from '../../src/config/errors.js';
import { lanConfig, localConfig, presetConfig, wanConfig } from '../../src/config/presets.js';

const here = dirname(fileURLToPath(import.meta.url));
const CONFIG_DIR = join(here, '..', '..', '..', 'config');

/** Every file needs a quorum; tests that are about something else add this one. */
const Q = 'partitions: { quorum: 2 }\n';

function errorsOf(text: string): string[] {
  try {
    parseDaemonConfig(text, 'test.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.errors.map((e) => `${e.field}: ${e.rule}`);
  }
  assert.fail('expected a ConfigError');
}

test('durations: units required, compound forms, bad input is null', () => {
  const good: [string, number][] = [['200ms', 200], ['1s', 1000], ['1.5s', 1500], ['2m', 120_000], ['1h', 3_600_000], ['1m30s', 90_000], ['0s', 0]];
  for (const [t, ms] of good) assert.equal(parseDurationMs(t), ms, t);
  for (const bad of ['banana', '', '10', '5 s', 's', '1x', '-1s']) assert.equal(parseDurationMs(bad), null, bad);
  assert.equal(parseDurationMs(1000), null, 'numbers are refused');
  assert.equal(formatDurationMs(90_000), '90s');
  assert.equal(formatDurationMs(200), '200ms');
});

test('presets carry memberlist’s LAN, WAN and local timings', () => {
  const lan = lanConfig();
  assert.deepEqual([lan.probeIntervalMs, lan.probeTimeoutMs, lan.indirectChecks, lan.suspicionMult, lan.retransmitMult, lan.gossipIntervalMs, lan.pushPullIntervalMs], [1000, 500, 3, 4, 4, 200, 30_000]);
  const wan = wanConfig();
  assert.deepEqual([wan.probeIntervalMs, wan.probeTimeoutMs, wan.suspicionMult, wan.gossipIntervalMs, wan.gossipNodes, wan.pushPullIntervalMs], [5000, 3000, 6, 500, 4, 60_000]);
  const local = localConfig();
  assert.deepEqual([local.probeIntervalMs, local.probeTimeoutMs, local.indirectChecks, local.suspicionMult, local.retransmitMult, local.gossipIntervalMs, local.pushPullIntervalMs], [1000, 200, 1, 3, 2, 100, 15_000]);
});

test('validation names the field and the rule, and reports every bad field at once', () => {
  assert.deepEqual(errorsOf('node: { name: a }\nswim: { probeInterval: banana }\n' + Q), ['swim.probeInterval: expected a duration such as "200ms"']);
  const many = errorsOf('node: { name: "" }\nprofile: moon\nswim: { gossipNodes: 0, probeTimeout: 2s }\npartitions: { count: 0 }\nsecurity: { keys: [short] }\nwhat: 1\n');
  for (const f of ['node.name', 'profile', 'swim.gossipNodes', 'swim.probeTimeout', 'partitions.count', 'security.keys[0]', 'what']) {
    assert.ok(many.some((e) => e.startsWith(`${f}:`)), `missing ${f} in ${many.join(' | ')}`);
  }
  const yaml = errorsOf('node: { name: a\nswim: [');
  assert.match(yaml[0]!, /^\(yaml line \d+, column \d+\)/);
  const msg = (() => {
    try {
      parseDaemonConfig('node: { name: a }\nswim: { probeInterval: banana }\n' + Q, 'f.yaml');
    } catch (e) {
      return (e as Error).message;
    }
    return '';
  })();
  assert.match(msg, /swim\.probeInterval: expected a duration such as "200ms", got "banana"/);
});

test('the profile fills what the file leaves out; the file overrides it; flags override the file', () => {
  const cfg = parseDaemonConfig('node: { name: a }\nprofile: local\nswim: { probeInterval: 2s }\n' + Q, '/etc/swimd/x.yaml');
  assert.equal(cfg.swim.probeIntervalMs, 2000);
  assert.equal(cfg.swim.probeTimeoutMs, 200);
  assert.equal(cfg.api.socket, '/etc/swimd/swimd.sock', 'relative socket paths are relative to the file');
  const o = applyOverrides(cfg, { name: 'b', bind: '[::1]:9000', join: ['127.0.0.1:1'] });
  assert.equal(o.node.name, 'b');
  assert.deepEqual(o.node.bind, { host: '::1', port: 9000 });
  assert.deepEqual(o.join, [{ host: '127.0.0.1', port: 1 }]);
  // A host name is kept unresolved (the daemon resolves it at start); a malformed one is refused.
  assert.deepEqual(applyOverrides(cfg, { bind: 'nowhere' }).node.bind, { host: 'nowhere', port: 7946 });
  assert.throws(() => applyOverrides(cfg, { bind: 'no where:1' }), ConfigError);
});

test('SIGHUP classification: timing and log level live, the rest needs a restart', () => {
  // syncInterval is set: its default follows probeInterval, which would make it a change too.
  const P = 'partitions: { quorum: 2, syncInterval: 2s }\n';
  const a = parseDaemonConfig('node: { name: a }\n' + P, 'x.yaml');
  const b = parseDaemonConfig('node: { name: a, bind: 127.0.0.1:9 }\nswim: { probeInterval: 2s, udpBufferSize: 1200 }\nlog: { level: debug }\n' + P, 'x.yaml');
  const d = diffReloadable(a, b);
  assert.deepEqual(d.live.sort(), ['log.level', 'swim.probeIntervalMs']);
  assert.deepEqual(d.needRestart.sort(), ['node', 'swim.udpBufferSize']);
});

test('every shipped config file parses and validates', () => {
  const files = [join(CONFIG_DIR, 'swimd.yaml'), ...readdirSync(join(CONFIG_DIR, 'examples')).map((f) => join(CONFIG_DIR, 'examples', f))];
  assert.ok(files.length >= 5);
  for (const f of files) assert.doesNotThrow(() => loadDaemonConfigFile(f), f);
  // The examples people copy encrypt gossip (plaintext trusts every sender).
  for (const f of files.filter((x) => x.includes('examples'))) assert.ok(loadDaemonConfigFile(f).swim.keys.length > 0, `${f} sets security.keys`);
});

test('the knob table drives the parser: every core knob has one row, and each row is read, bounded and named as it says', async () => {
  const { KNOB_DOCS } = await import('../../src/config/knobs.js');
  // Every SwimConfig field the file can set is one row; the rest are set elsewhere (security.*) or fixed (protocol versions).
  const setElsewhere = ['keys', 'label', 'gossipVerifyIncoming', 'gossipVerifyOutgoing', 'protocolVersion', 'delegateProtocolMin', 'delegateProtocolMax', 'delegateProtocolVersion'];
  const fields = Object.keys(lanConfig()).filter((f) => !setElsewhere.includes(f)).sort();
  assert.deepEqual(KNOB_DOCS.map((d) => d.field as string).sort(), fields, 'one row per settable field');
  assert.equal(new Set(KNOB_DOCS.map((d) => d.key)).size, KNOB_DOCS.length, 'keys are unique');
  const base = 'node: { name: a }\npartitions: { quorum: 1 }\nprofile: lan\n';
  for (const d of KNOB_DOCS) {
    for (const part of [d.sentence, d.formula, d.tradeOff]) assert.ok(part.length > 10, `${d.key} has a sentence, a formula and a trade-off`);
    const [section, name] = d.key.split('.') as [string, string];
    const put = (v: string): string => `${base}${section}: { ${name}: ${v} }\n`;
    const lan = lanConfig()[d.field];
    if (d.kind === 'string') continue; // limits.memberNamePattern has its own test
    if (d.kind === 'bool') {
      assert.equal(parseDaemonConfig(put(String(!lan)), 't').swim[d.field], !lan, `${d.key} is read`);
      assert.match(errorsOf(put('"maybe"')).join(), new RegExp(`^${d.key.replace('.', '\\.')}:`), `${d.key} names itself when wrong`);
      continue;
    }
    const min = d.min ?? 1;
    const unit = d.kind === 'duration' ? 'ms' : '';
    // A value inside the bounds other than the default is read into the field it names.
    const probe = d.key === 'swim.probeTimeout' ? 300 : d.key === 'swim.probeInterval' ? 2000 : Math.max(min, (lan as number) + 1);
    assert.equal(parseDaemonConfig(put(`${probe}${unit}`), 't').swim[d.field], probe, `${d.key} is read into ${d.field}`);
    if (min > 0) assert.match(errorsOf(put(`${min - 1}${unit}`)).join(), new RegExp(`${d.key.replace('.', '\\.')}:`), `${d.key} below ${min} is refused, naming the key`);
    if (d.max !== undefined) assert.match(errorsOf(put(`${d.max + 1}${unit}`)).join(), new RegExp(`${d.key.replace('.', '\\.')}:`), `${d.key} above ${d.max} is refused`);
  }
});

test('the live set is declared once: a reload applies exactly the live knobs, and /v1/self and the README say the same', async () => {
  const { KNOB_DOCS, isLive, renderKnobTable } = await import('../../src/config/knobs.js');
  const { LIVE_SWIM_FIELDS } = await import('../../src/base/swim-config.js');
  const base = 'node: { name: a }\npartitions: { quorum: 1 }\nprofile: lan\n';
  const before = parseDaemonConfig(base, 't');
  for (const d of KNOB_DOCS) {
    if (d.kind === 'string' || d.kind === 'bool') continue;
    const [section, name] = d.key.split('.') as [string, string];
    const unit = d.kind === 'duration' ? 'ms' : '';
    const v = d.key === 'swim.probeTimeout' ? 300 : d.key === 'swim.probeInterval' ? 2000 : Math.max(d.min ?? 1, (lanConfig()[d.field] as number) + 1);
    const after = parseDaemonConfig(`${base}${section}: { ${name}: ${v}${unit} }\n`, 't');
    const { live, needRestart } = diffReloadable(before, after);
    const key = `swim.${d.field}`;
    // (Defaults derived from it, such as partitions.syncInterval from probeInterval, may move too.)
    if (isLive(d)) assert.ok(live.includes(key) && !needRestart.includes(key), `${d.key} applies live`);
    else assert.ok(needRestart.includes(key) && !live.includes(key), `${d.key} needs a restart`);
  }
  assert.ok(LIVE_SWIM_FIELDS.every((f) => KNOB_DOCS.some((d) => d.field === f)), 'every live field is a documented knob');
  const table = renderKnobTable();
  for (const d of KNOB_DOCS) assert.ok(table.includes(`| \`${d.key}\` | `) && table.split('\n').find((l) => l.startsWith(`| \`${d.key}\``))!.includes(isLive(d) ? '| live |' : '| restart |'), `${d.key}'s row says whether it is live`);
});

test('the README knob table is the one rendered from knobs.ts and the presets', async () => {
  const { renderKnobTable } = await import('../../src/config/knobs.js');
  const { readFileSync } = await import('node:fs');
  const readme = readFileSync(join(here, '..', '..', '..', 'README.md'), 'utf8');
  const block = /<!-- knobs:begin -->\n([\s\S]*?)\n<!-- knobs:end -->/.exec(readme)?.[1];
  assert.ok(block, 'README has the knobs block');
  assert.equal(block, renderKnobTable(), 'README knob table is stale: regenerate it from renderKnobTable()');
});

test('ownership settings: quorum is required and positive, eligible is a tag map, the data directory follows the file and the name', () => {
  assert.deepEqual(errorsOf('node: { name: a }\n'), ['partitions.quorum: required: the grants a partition epoch needs, more than half of the eligible members (2 of 3, 3 of 5)']);
  assert.deepEqual(errorsOf('node: { name: a }\npartitions: { quorum: 0 }\n'), ['partitions.quorum: expected an integer from 1 to 100000']);
  assert.deepEqual(errorsOf('node: { name: a }\npartitions: { quorum: 2, eligible: [role] }\n'), ['partitions.eligible: expected a mapping of tag names to the values a member must carry, such as { role: app }']);
  assert.deepEqual(errorsOf('node: { name: a }\npartitions: { quorum: 2, eligible: { role: { x: 1 } } }\n'), ['partitions.eligible.role: expected a string, number or boolean']);
  const cfg = parseDaemonConfig('node: { name: a }\nprofile: local\npartitions: { quorum: 3, eligible: { role: app } }\n', '/etc/swimd/x.yaml');
  assert.equal(cfg.partitions.quorum, 3);
  assert.deepEqual(cfg.partitions.eligible, { role: 'app' });
  assert.equal(cfg.partitions.claimTimeoutMs, 200, 'claims time out after the profile’s probe timeout');
  assert.equal(cfg.partitions.syncIntervalMs, 2000);
  assert.equal(cfg.node.dataDir, '/etc/swimd/swimd-data/a');
  assert.equal(applyOverrides(cfg, { name: 'b' }).node.dataDir, '/etc/swimd/swimd-data/b', 'two members from one file never share a directory');
  assert.equal(applyOverrides(cfg, { name: 'b', dataDir: '/var/lib/x' }).node.dataDir, '/var/lib/x');
  const own = parseDaemonConfig('node: { name: a, dataDir: /srv/a }\npartitions: { quorum: 2, claimTimeout: 50ms }\n', '/etc/swimd/x.yaml');
  assert.equal(own.node.dataDir, '/srv/a');
  assert.equal(applyOverrides(own, { name: 'b' }).node.dataDir, '/srv/a', 'an explicit directory is kept');
  assert.equal(own.partitions.claimTimeoutMs, 50);
});

test('partitions.disagreementWarnAfter: two push/pull intervals by default, a minute without push/pull, errors name the field, and its README row is rendered from knobs.ts', async () => {
  assert.equal(parseDaemonConfig('node: { name: a }\nprofile: lan\n' + Q, 'x.yaml').partitions.disagreementWarnAfterMs, 60_000);
  assert.equal(parseDaemonConfig('node: { name: a }\nprofile: local\n' + Q, 'x.yaml').partitions.disagreementWarnAfterMs, 30_000);
  assert.equal(parseDaemonConfig('node: { name: a }\nswim: { pushPullInterval: 0s }\n' + Q, 'x.yaml').partitions.disagreementWarnAfterMs, 60_000);
  assert.equal(parseDaemonConfig('node: { name: a }\npartitions: { quorum: 2, disagreementWarnAfter: 90s }\n', 'x.yaml').partitions.disagreementWarnAfterMs, 90_000);
  const errs = errorsOf('node: { name: a }\npartitions: { quorum: 2, disagreementWarnAfter: soon }\n');
  assert.equal(errs.length, 1);
  assert.match(errs[0]!, /^partitions\.disagreementWarnAfter: /);
  const { DAEMON_KNOB_DOCS, renderDaemonKnobRow } = await import('../../src/config/knobs.js');
  const { readFileSync } = await import('node:fs');
  const readme = readFileSync(join(here, '..', '..', '..', 'README.md'), 'utf8');
  for (const d of DAEMON_KNOB_DOCS) {
    for (const part of [d.sentence, d.formula, d.tradeOff]) assert.ok(part.length > 10, `${d.key} has a sentence, a formula and a trade-off`);
    assert.ok(readme.includes(renderDaemonKnobRow(d) + '\n'), `README row of ${d.key} is stale: regenerate it from renderDaemonKnobRow()`);
  }
});

test('flap damping settings: defaults, numbers and a duration, reuse below suppress, errors naming the field', () => {
  const cfg = parseDaemonConfig('node: { name: a }\npartitions: { quorum: 2 }\n', '<text>');
  assert.equal(cfg.partitions.flapPenalty, 1, 'on by default');
  assert.equal(cfg.partitions.flapSuppressAbove, 3);
  assert.equal(cfg.partitions.flapReuseBelow, 1.5);
  assert.equal(cfg.partitions.flapHalfLifeMs, 60_000);
  const set = parseDaemonConfig('node: { name: a }\npartitions: { quorum: 2, flapPenalty: 0.5, flapSuppressAbove: 2, flapReuseBelow: 0.75, flapHalfLife: 30s }\n', '<text>');
  assert.deepEqual([set.partitions.flapPenalty, set.partitions.flapSuppressAbove, set.partitions.flapReuseBelow, set.partitions.flapHalfLifeMs], [0.5, 2, 0.75, 30_000]);
  assert.equal(parseDaemonConfig('node: { name: a }\npartitions: { quorum: 2, flapPenalty: 0, flapReuseBelow: 9 }\n', '<text>').partitions.flapPenalty, 0, 'disabled: the thresholds are not checked');
  assert.deepEqual(errorsOf('node: { name: a }\npartitions: { quorum: 2, flapPenalty: -1 }\n'), ['partitions.flapPenalty: expected a number from 0 to 1000']);
  assert.deepEqual(errorsOf('node: { name: a }\npartitions: { quorum: 2, flapSuppressAbove: x }\n'), ['partitions.flapSuppressAbove: expected a number from 0.001 to 1000000']);
  assert.deepEqual(errorsOf('node: { name: a }\npartitions: { quorum: 2, flapPenalty: 1, flapReuseBelow: 3 }\n'), ['partitions.flapReuseBelow: expected less than partitions.flapSuppressAbove (3)']);
  assert.deepEqual(errorsOf('node: { name: a }\npartitions: { quorum: 2, flapHalfLife: 10ms }\n'), ['partitions.flapHalfLife: expected at least 1000ms']);
});

test('the flap damping knobs are documented with a sentence, a formula and a trade-off, and their defaults are the parser\'s', async () => {
  const { PARTITION_KNOB_DOCS, FLAP_DEFAULTS } = await import('../../src/config/knobs.js');
  assert.deepEqual(PARTITION_KNOB_DOCS.map((d) => d.key), ['partitions.flapPenalty', 'partitions.flapSuppressAbove', 'partitions.flapReuseBelow', 'partitions.flapHalfLife']);
  const cfg = parseDaemonConfig('node: { name: a }\npartitions: { quorum: 2 }\n', '<text>');
  assert.deepEqual(PARTITION_KNOB_DOCS.map((d) => d.defaultValue), [cfg.partitions.flapPenalty, cfg.partitions.flapSuppressAbove, cfg.partitions.flapReuseBelow, cfg.partitions.flapHalfLifeMs]);
  assert.equal(FLAP_DEFAULTS.penalty, cfg.partitions.flapPenalty);
  for (const d of PARTITION_KNOB_DOCS) for (const part of [d.sentence, d.formula, d.tradeOff]) assert.ok(part.length > 10, d.key);
});

test('a cross-field error says which value the profile filled in and which key to set', () => {
  const node = 'node: { name: a }\n';
  assert.deepEqual(errorsOf(node + Q + 'profile: local\nswim: { probeInterval: 100ms }\n'), [
    'swim.probeTimeout: 200ms comes from profile local and must be below swim.probeInterval 100ms; set swim.probeTimeout',
  ]);
  assert.deepEqual(errorsOf(node + Q + 'swim: { probeTimeout: 2s }\n'), [
    'swim.probeTimeout: 2s must be below swim.probeInterval 1s (from profile lan); lower swim.probeTimeout or set swim.probeInterval',
  ]);
  assert.deepEqual(errorsOf(node + Q + 'profile: wan\nswim: { probeTimeout: 5s, probeInterval: 5s }\n'), [
    'swim.probeTimeout: 5s must be below swim.probeInterval 5s; lower swim.probeTimeout or raise swim.probeInterval',
  ]);
  // Setting the key the message names fixes it.
  assert.equal(parseDaemonConfig(node + Q + 'profile: local\nswim: { probeInterval: 100ms, probeTimeout: 50ms }\n', 't.yaml').swim.probeTimeoutMs, 50);
  // The rendered message carries no "got" for a value the file never wrote.
  try {
    parseDaemonConfig(node + Q + 'profile: local\nswim: { probeInterval: 100ms }\n', 't.yaml');
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /set swim\.probeTimeout$/m);
  }
});

test('an unknown key suggests the nearest known key of its own section, and lists the section when nothing is near', () => {
  const errs = errorsOf('node: { name: a, bnd: 1 }\nprofil: lan\nswim: { probeIntervall: 1s, suspicionmult: 3 }\nlimits: { maxMember: 5 }\napi: { sockt: x, colour: blue }\npartitions: { quorum: 2, replica: 2 }\n');
  assert.deepEqual(errs.sort(), [
    'api.colour: unknown key (known: socket, mode)',
    'api.sockt: unknown key; did you mean api.socket?',
    'limits.maxMember: unknown key; did you mean limits.maxMembers?',
    'node.bnd: unknown key; did you mean node.bind?',
    'partitions.replica: unknown key; did you mean partitions.replicas?',
    'profil: unknown key; did you mean profile?',
    'swim.probeIntervall: unknown key; did you mean swim.probeInterval?',
    'swim.suspicionmult: unknown key; did you mean swim.suspicionMult?',
  ]);
  // Within the same section only: a partitions.* name under swim is not "near" anything there.
  assert.deepEqual(errorsOf('node: { name: a }\n' + Q + 'swim: { syncInterval: 1s }\n').map((e) => e.split(' (known')[0]), ['swim.syncInterval: unknown key']);
});

/** The lines of a YAML file under one top-level key (written or commented out), up to the next top-level key. */
function sectionLines(lines: string[], section: string): string[] {
  const tops = SECTION_KEYS[''];
  const header = (l: string): string | null => /^(?:# )?([A-Za-z]+):/.exec(l)?.[1] ?? null;
  const out: string[] = [];
  let inside = false;
  for (const l of lines) {
    const h = header(l);
    if (h !== null && (tops as readonly string[]).includes(h)) inside = h === section;
    else if (inside) out.push(l);
  }
  return out;
}

test('the shipped config/swimd.yaml lists every key the parser accepts, and its commented values are the lan defaults', () => {
  const lines = readFileSync(join(CONFIG_DIR, 'swimd.yaml'), 'utf8').split('\n');
  const missing: string[] = [];
  for (const key of acceptedConfigKeys()) {
    const dot = key.indexOf('.');
    if (dot < 0) {
      if (!lines.some((l) => new RegExp(`^(?:# )?${key}:`).test(l))) missing.push(key);
      continue;
    }
    const name = key.slice(dot + 1);
    if (!sectionLines(lines, key.slice(0, dot)).some((l) => new RegExp(`^\\s+(?:#\\s*)?${name}:`).test(l) || new RegExp(`^#\\s+${name}:`).test(l))) missing.push(key);
  }
  assert.deepEqual(missing, [], 'keys the parser accepts that config/swimd.yaml does not mention');
  // A commented knob shows what the lan profile sets, so the file does not mislead.
  for (const d of KNOB_DOCS) {
    const [section, name] = d.key.split('.') as [string, string];
    const line = sectionLines(lines, section).find((l) => new RegExp(`^\\s+#\\s*${name}:`).test(l));
    if (line === undefined) continue; // written out: checked by the profile test below
    const shown = line.slice(line.indexOf(':') + 1).trim();
    const lan = lanConfig()[d.field];
    const expected = d.kind === 'duration' ? formatDurationMs(lan as number) : d.kind === 'string' ? JSON.stringify(lan) : String(lan);
    assert.equal(shown, expected, `${d.key} in config/swimd.yaml`);
  }
});

test('profile in a copy of the shipped config/swimd.yaml takes effect: the file pins no protocol timing', () => {
  const text = readFileSync(join(CONFIG_DIR, 'swimd.yaml'), 'utf8');
  assert.match(text, /^profile: lan$/m);
  for (const profile of ['lan', 'wan', 'local'] as const) {
    const cfg = parseDaemonConfig(text.replace(/^profile: lan$/m, `profile: ${profile}`), 'copy.yaml');
    assert.equal(cfg.profile, profile);
    assert.deepEqual(cfg.swim, presetConfig(profile), `swim.* and limits.* under profile ${profile}`);
    // The partition timings that follow the profile follow it here too.
    assert.equal(cfg.partitions.claimTimeoutMs, presetConfig(profile).probeTimeoutMs);
    assert.equal(cfg.partitions.syncIntervalMs, 2 * presetConfig(profile).probeIntervalMs);
  }
  const lan = parseDaemonConfig(text, 'copy.yaml').swim;
  const local = parseDaemonConfig(text.replace(/^profile: lan$/m, 'profile: local'), 'copy.yaml').swim;
  assert.deepEqual([local.probeTimeoutMs, local.gossipIntervalMs, local.pushPullIntervalMs], [200, 100, 15_000]);
  assert.notDeepEqual([lan.probeTimeoutMs, lan.gossipIntervalMs, lan.pushPullIntervalMs], [local.probeTimeoutMs, local.gossipIntervalMs, local.pushPullIntervalMs]);
});
