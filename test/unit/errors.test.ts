// Every error swimd raises on purpose is a SwimdError with a stable code, so
// callers can branch on `code` and logs carry it, whatever layer raised it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SwimdError } from '../../src/base/errors.js';
import { AddressError, parseHostPort } from '../../src/net/host-port.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseDaemonConfig } from '../../src/config/daemon-config.js';
import { TagError } from '../../src/daemon/self-tags.js';
import { GrantStoreError } from '../../src/daemon/grant-file.js';
import { ApiError, SocketInUseError } from '../../src/api/server.js';
import { OwnershipError } from '../../src/partition/ownership.js';
import { PartitionConfigError } from '../../src/partition/engine.js';
import { FlapDampingConfigError } from '../../src/partition/flap-damping.js';
import { KeyringError, Keyring } from '../../src/wire/keyring.js';
import { WireError } from '../../src/wire/errors.js';
import { ClientError } from '../../src/client/client.js';
import { CompactLineError } from '../../src/client/compact.js';
import { UsageError } from '../../src/cli/table.js';
import { InvariantError } from '../../src/core/invariants.js';
import { SwimError } from '../../src/core/errors.js';
import { ResolveError } from '../../src/daemon/join-resolver.js';
import { SnapshotError } from '../../src/daemon/member-snapshot.js';
import { AgreementError, encodeAgreementState } from '../../src/partition/agreement.js';

const CODE = /^[A-Z][A-Z0-9_]*$|^[a-z][a-z0-9:-]*$/;

test('every error class is a SwimdError named after itself, with a stable code', () => {
  const samples: SwimdError[] = [
    new AddressError('x'),
    new ConfigError('file', [{ field: 'a', rule: 'b', got: 1 }]),
    new TagError('TAG_INVALID', 'x'),
    new GrantStoreError('DATA_DIR_LOCKED', 'x'),
    new ApiError(400, 'BAD_REQUEST', 'x'),
    new SocketInUseError('x'),
    new OwnershipError('OWNERSHIP_INVARIANT', 'x'),
    new PartitionConfigError('x'),
    new FlapDampingConfigError('x'),
    new KeyringError('KEYRING_EMPTY', 'x'),
    new WireError('truncated', 'x'),
    new ClientError('x', 'NOT_FOUND', 404),
    new CompactLineError('x'),
    new UsageError('x'),
    new InvariantError('x'),
    new SwimError('JOIN_FAILED', 'x'),
    new ResolveError('x'),
    new SnapshotError('x'),
    new AgreementError('x'),
  ];
  for (const e of samples) {
    assert.ok(e instanceof SwimdError && e instanceof Error, `${e.constructor.name} is a SwimdError`);
    assert.equal(e.name, e.constructor.name);
    assert.match(e.code, CODE, `${e.name} has a code`);
  }
  assert.equal(new ConfigError('f', []).code, 'CONFIG_INVALID');
  assert.equal(new InvariantError('x').code, 'INVARIANT_BROKEN');
});

test('errors raised by real calls carry their codes', () => {
  assert.throws(() => parseHostPort('not an address'), (e: unknown) => e instanceof SwimdError && e.code === 'ADDRESS_INVALID');
  assert.throws(() => parseDaemonConfig('swim: { probeInterval: fast }', 'inline'), (e: unknown) => e instanceof SwimdError && e.code === 'CONFIG_INVALID');
  const ring = new Keyring([new Uint8Array(16)]);
  assert.throws(() => ring.remove(ring.primaryKey()!), (e: unknown) => e instanceof SwimdError && e.code === 'KEY_IS_PRIMARY');
  const state = { name: 'x'.repeat(256), checksum: '0'.repeat(16), config: { partitions: 1, replicas: 1, strategy: 'rendezvous' as const }, eligibleMembers: 1, seq: 0, settled: true };
  assert.throws(() => encodeAgreementState(state), (e: unknown) => e instanceof SwimdError && e.code === 'AGREEMENT_STATE_INVALID');
});
