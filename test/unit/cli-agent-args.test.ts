// The agent's plain flag reader: what it takes itself and what it leaves to the full parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plainAgentArgs } from '../../src/cli/agent.js';

test('plain agent flags are read without the full parser', () => {
  assert.deepEqual(plainAgentArgs(['--config', 'a.yaml', '--name', 'n1', '--bind=127.0.0.1:7946', '--join', '127.0.0.1:1', '--join', '127.0.0.1:2', '--data-dir', 'd']), {
    config: 'a.yaml',
    name: 'n1',
    bind: '127.0.0.1:7946',
    join: ['127.0.0.1:1', '127.0.0.1:2'],
    dataDir: 'd',
  });
  assert.deepEqual(plainAgentArgs(['--config=a.yaml', '--dataDir', 'd', '--socket', 's', '--advertise', '10.0.0.1:7946']), { config: 'a.yaml', advertise: '10.0.0.1:7946', socket: 's', dataDir: 'd' });
});

test('anything else goes to the full parser, with its help and messages', () => {
  assert.equal(plainAgentArgs(['--help']), null);
  assert.equal(plainAgentArgs([]), null, 'no --config: the parser says it is required');
  assert.equal(plainAgentArgs(['--config', 'a.yaml', '--join', '127.0.0.1:1', '127.0.0.1:2']), null, 'a join list after one flag');
  assert.equal(plainAgentArgs(['--config', 'a.yaml', '--bogus']), null);
  assert.equal(plainAgentArgs(['--config']), null);
});
