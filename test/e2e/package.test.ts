// The npm package as a user gets it: `npm pack`, unpacked into a project's
// node_modules (its dependencies linked from this checkout's, since the test
// machine has no registry), then bin/swimd runs, `swimd/client` imports, and a
// TypeScript consumer type-checks against the shipped declarations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

test('npm pack gives a package whose bin runs and whose client imports with types', { timeout: 60_000 }, () => {
  // The declarations are what `prepare` adds to the build; the JavaScript is already built.
  execFileSync(NPM, ['run', 'build:types', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  const work = mkdtempSync(join(tmpdir(), 'swimd-pack-'));
  const listing = JSON.parse(execFileSync(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' })) as { filename: string; files: { path: string }[] }[];
  const files = listing[0]!.files.map((f) => f.path);
  for (const must of ['bin/swimd', 'package.json', 'README.md', 'dist/src/cli/main.js', 'dist/src/client/index.js', 'dist/src/client/client.js', 'dist/types/src/client/index.d.ts', 'config/swimd.yaml', 'deploy/swimd.service']) {
    assert.ok(files.includes(must), `${must} is in the tarball`);
  }
  assert.ok(!files.some((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/') || f.startsWith('src/') || f.endsWith('.map')), 'no tests, benches, sources or source maps');

  const app = join(work, 'app');
  const pkg = join(app, 'node_modules', 'swimd');
  mkdirSync(pkg, { recursive: true });
  execFileSync('tar', ['-xzf', join(work, listing[0]!.filename), '-C', pkg, '--strip-components=1']);
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));

  const help = spawnSync(process.execPath, [join(pkg, 'bin', 'swimd'), '--help'], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(help.status, 0, help.stderr);
  for (const cmd of ['agent', 'members', 'owned', 'watch', 'monitor']) assert.match(help.stdout, new RegExp(`swimd ${cmd}`), cmd);

  writeFileSync(
    join(app, 'use.mjs'),
    `import { SwimdClient, ClientError } from 'swimd/client';
     import * as root from 'swimd';
     const c = new SwimdClient('/nonexistent/swimd.sock');
     try { await c.members(); console.log('reached?'); } catch (e) { console.log(JSON.stringify({ cls: e instanceof ClientError, code: e.code, same: root.SwimdClient === SwimdClient })); }`,
  );
  const run = spawnSync(process.execPath, ['use.mjs'], { cwd: app, encoding: 'utf8', timeout: 15_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { cls: true, code: 'UNREACHABLE', same: true });

  // A consumer that switches over the watch union exhaustively: it compiles only if the shipped types resolve and narrow.
  writeFileSync(
    join(app, 'use.ts'),
    `import { SwimdClient, type WatchLine, type MemberEventKind } from 'swimd/client';
     export function describe(line: WatchLine): string {
       switch (line.type) {
         case 'snapshot': return String(line.partitions.partitions.length);
         case 'member': { const k: MemberEventKind = line.event; return k + line.member.name; }
         case 'partitions': return line.changed.map((c) => c.newPrimary ?? '-').join();
         case 'resync': return line.reason;
         default: { const never: never = line; return never; }
       }
     }
     export const client: SwimdClient = new SwimdClient('./swimd.sock');
     // @ts-expect-error a member line's event is one of the known kinds
     export const bad: MemberEventKind = 'exploded';
`,
  );
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] }, files: ['use.ts'] }));
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(tsc.status, 0, `${tsc.stdout}${tsc.stderr}`);
  assert.ok(readdirSync(join(pkg, 'dist', 'types', 'src', 'client')).includes('index.d.ts'));
});
