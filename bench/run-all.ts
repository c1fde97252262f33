// `npm run bench`: every benchmark in turn, each printing its own table and the
// command that reproduces it. The fault comparison needs root and namespaces and
// runs for about fifteen minutes, so it is included only with --faults.
//   node dist/bench/run-all.js [--faults]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// fuzz-wire and partition-bench force a collection before their heap figures, which needs --expose-gc.
const runs: [string, string[], string[]?][] = [
  ['sim-bench.js', []],
  ['partition-bench.js', [], ['--expose-gc']],
  ['partition-bench.js', ['--heap'], ['--expose-gc']],
  ['fuzz-wire.js', [], ['--expose-gc']],
  ['net-bench.js', ['--k', '16']],
  ['net-bench.js', ['--k', '64']],
  ['api-load.js', []],
  ['checksum-bench.js', []],
];
// The sidecar comparison runs Debian's serf agents beside swimd's.
if (existsSync('/usr/bin/serf')) runs.push(['sidecar-bench.js', []]);
if (process.argv.includes('--faults')) runs.push(['fault-compare.js', []]);

let failed = 0;
for (const [file, args, nodeFlags = []] of runs) {
  console.log(`\n## ${file} ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [...nodeFlags, join(here, file), ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`# ${file} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
