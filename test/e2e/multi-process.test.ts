// Five real swimd processes on loopback: join, kill -9 and restart one, all agree.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePorts, killAll, startSwim, waitFor, type SwimProc } from '../../harness/procs.js';

after(killAll);

const PORTS = await freePorts(5);
const names = PORTS.map((_, i) => `p${i}`);

function agree(procs: SwimProc[], alive: string[]): boolean {
  return procs.every((p) => {
    const s = p.status();
    return alive.every((n) => s.members.find((m) => m.name === n)?.state === 'alive');
  });
}

test('5 processes join; one killed with -9 is declared dead by all, restarted, and alive again on all', async () => {
  const args = (i: number): string[] => ['--bind', `127.0.0.1:${PORTS[i]}`, '--profile', 'local', '--probe-interval', '200', '--join', `127.0.0.1:${PORTS[0]}`];
  const procs = names.map((n, i) => startSwim(n, args(i)));
  await waitFor(() => agree(procs, names), 20_000, 'all five agree');
  const victim = procs[3]!;
  victim.child.kill('SIGKILL');
  const survivors = procs.filter((p) => p !== victim);
  const t0 = Date.now();
  await waitFor(() => survivors.every((p) => p.stateOf('p3') === 'dead'), 20_000, 'p3 dead everywhere');
  console.log(`# p3 dead on all survivors after ${Date.now() - t0} ms`);
  const restarted = startSwim('p3', args(3));
  const all = [...survivors, restarted];
  await waitFor(() => agree(all, names), 20_000, 'all five agree after the restart');
  const incs = survivors.map((p) => p.status().members.find((m) => m.name === 'p3')!.incarnation);
  assert.ok(incs.every((i) => i > 1), `the restarted member refuted its old death with a higher incarnation: ${incs}`);
});
