// What `swimd agent` loads: every module is CPU at each sidecar's start (and
// resident memory), so the daemon's own graph must not pull in the parts of
// its dependencies it never runs (bench/RESULTS.md, start-up CPU).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const agentModule = fileURLToPath(new URL('../../src/cli/agent.js', import.meta.url));

test('the agent loads neither the command-line parser nor prom-client index (default collectors, OpenTelemetry)', () => {
  const script = `
    import(${JSON.stringify(agentModule)}).then(async () => {
      const { createRequire } = await import('node:module');
      process.stdout.write(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));
    });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const loaded = JSON.parse(r.stdout) as string[];
  assert.ok(loaded.some((f) => f.includes('/prom-client/lib/registry.js')), 'the metrics registry is loaded');
  const unwanted = loaded.filter((f) => /\/prom-client\/index\.js$|\/@opentelemetry\/|\/yargs\/|\/prom-client\/lib\/defaultMetrics\.js$/.test(f));
  assert.deepEqual(unwanted, []);
});
