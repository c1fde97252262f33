// The README's path as a new user walks it: an agent started from (a copy of) the
// shipped config/swimd.yaml, from the repository root, is found by the CLI's
// default socket; --config points the CLI at any file's api.socket; a socket in a
// missing directory and a misspelt key stop the agent with the field named.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, killAll, tmp, track, waitFor } from '../../harness/procs.js';

after(killAll);
const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..', '..', '..');
const BIN = join(ROOT, 'bin', 'swimd');
const SHIPPED = readFileSync(join(ROOT, 'config', 'swimd.yaml'), 'utf8');

/** No SWIMD_SOCKET from the caller's shell: the defaults are what is under test. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'SWIMD_SOCKET'));

function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv = ENV): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env, encoding: 'utf8', timeout: 15_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A repository-like directory holding config/swimd.yaml: the shipped text with an OS-picked port and any edits. */
async function repoWithConfig(dir: string, edit: (text: string) => string = (t) => t): Promise<string> {
  const [port] = await freePorts(1);
  const root = join(tmp, dir);
  mkdirSync(join(root, 'config'), { recursive: true });
  const text = SHIPPED.replace(/^  bind: 127\.0\.0\.1:7946$/m, `  bind: 127.0.0.1:${port}`);
  assert.notEqual(text, SHIPPED, 'the shipped file binds 127.0.0.1:7946, replaced by a free port');
  writeFileSync(join(root, 'config', 'swimd.yaml'), edit(text));
  return root;
}

test('an agent started from the shipped config in the repository root is found by the CLI without --socket', async () => {
  const root = await repoWithConfig('quickstart');
  const agent = track(spawn(process.execPath, [BIN, 'agent', '--config', 'config/swimd.yaml'], { cwd: root, env: ENV, stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  agent.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  try {
    await waitFor(() => existsSync(join(root, 'swimd.sock')), 20_000, 'the API socket in the repository root');
    // As the README runs it: from the root, no --socket.
    const members = (await waitFor(() => {
      const r = cli(['members', '--json'], root);
      return r.status === 0 ? r : null;
    }, 10_000, 'swimd members from the repository root'))!;
    assert.deepEqual((JSON.parse(members.stdout) as { name: string }[]).map((m) => m.name), ['node-a']);

    // From anywhere else, --config finds the socket the agent resolved from the same file.
    const elsewhere = join(tmp, 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    assert.equal(cli(['members', '--json'], elsewhere).status, 1, 'the default ./swimd.sock is not there');
    const viaConfig = cli(['status', '--json', '--config', join(root, 'config', 'swimd.yaml')], elsewhere);
    assert.equal(viaConfig.status, 0, viaConfig.stderr);
    assert.equal((JSON.parse(viaConfig.stdout) as { self: { name: string } }).self.name, 'node-a');
    // $SWIMD_SOCKET is used when neither flag is given; --socket wins over --config.
    assert.equal(cli(['members', '--json'], elsewhere, { ...ENV, SWIMD_SOCKET: join(root, 'swimd.sock') }).status, 0);
    const flagWins = cli(['members', '--config', join(root, 'config', 'swimd.yaml'), '--socket', join(elsewhere, 'none.sock')], elsewhere);
    assert.equal(flagWins.status, 1);
    assert.match(flagWins.stderr, /none\.sock/);
    // A bad --config is a usage error naming the field, not a stack.
    writeFileSync(join(elsewhere, 'bad.yaml'), 'node: { name: x }\npartitions: { quorum: 1 }\napi: { sockt: y }\n');
    const bad = cli(['members', '--config', 'bad.yaml'], elsewhere);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /api\.sockt: unknown key; did you mean api\.socket\?/);
  } finally {
    agent.kill('SIGTERM');
    await waitFor(() => agent.exitCode !== null || agent.signalCode !== null, 15_000, `agent exit (stderr: ${stderr})`);
  }
});

test('a socket in a missing directory stops the agent with exit 2 and api.socket named, before anything binds', async () => {
  const root = await repoWithConfig('missing-dir', (t) => t.replace(/^  socket: \.\.\/swimd\.sock$/m, '  socket: ./no-such-dir/swimd.sock'));
  const r = spawnSync(process.execPath, [BIN, 'agent', '--config', 'config/swimd.yaml'], { cwd: root, env: ENV, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /api\.socket: directory \S+no-such-dir does not exist; create it or choose a socket path in an existing directory/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  // --socket into a missing directory is refused the same way.
  const flag = spawnSync(process.execPath, [BIN, 'agent', '--config', 'config/swimd.yaml', '--socket', join(root, 'gone', 'x.sock')], { cwd: root, env: ENV, encoding: 'utf8', timeout: 20_000 });
  assert.equal(flag.status, 2, flag.stderr);
  assert.match(flag.stderr, /api\.socket: directory \S+gone does not exist/);
});

test('a misspelt key in the agent\'s file is refused with the nearest known key suggested', async () => {
  const root = await repoWithConfig('typo', (t) => t.replace(/^  # probeInterval: 1s$/m, '  probeIntervall: 1s'));
  const r = spawnSync(process.execPath, [BIN, 'agent', '--config', 'config/swimd.yaml'], { cwd: root, env: ENV, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /swim\.probeIntervall: unknown key; did you mean swim\.probeInterval\?/);
});
