// The path check and the per-member path against a real memberlist peer
// (Debian's serf agent): serf answers a UDP ping and a TCP ping that name no
// one, so the start-up seed check works against Serf seeds, and a joined serf
// agent is recorded as reached directly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from '../../src/agent/agent.js';
import { localConfig } from '../../src/config/presets.js';
import type { PathCheck } from '../../src/core/swim-node.js';
import { freePorts, killAll, requireSerf, serfCommand, startSerf, waitFor } from '../../harness/procs.js';

requireSerf();
const agents: Agent[] = [];
after(async () => {
  for (const a of agents) await a.shutdown();
  killAll();
});

const check = (agent: Agent, port: number): Promise<PathCheck> => new Promise((resolve) => agent.node.checkPath({ host: '127.0.0.1', port }, 2000, resolve));

test('a serf agent answers the seed check over UDP and TCP, and once joined is reached directly', async () => {
  const [serfPort, , nobodyPort] = (await freePorts(3)) as [number, number, number];
  const serf = startSerf('rs1', serfPort);
  await waitFor(() => serfCommand(serf.rpc, ['members']).status === 0, 10_000, 'serf agent up');
  const agent = await Agent.start({ name: 'rw1', bind: { host: '127.0.0.1', port: 0 }, config: localConfig() });
  agents.push(agent);
  assert.deepEqual(await check(agent, serfPort), { udp: true, tcp: true });
  assert.deepEqual(await check(agent, nobodyPort), { udp: false, tcp: false }, 'nothing listens there');
  agent.node.join([{ host: '127.0.0.1', port: serfPort }]);
  const reach = (await waitFor(() => agent.node.member('rs1')?.reach, 20_000, 'a probe of the serf agent answered'))!;
  assert.equal(reach.path, 'direct');
  assert.equal(agent.node.tcpOnlyMembers(), 0);
});
