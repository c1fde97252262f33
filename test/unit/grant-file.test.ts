// The grant log's asynchronous append: done only after the data is on disk, one append at a
// time, and a close while one is in flight keeps the file open until it finished.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileGrantStore } from '../../src/daemon/grant-file.js';

const recordAsync = (s: FileGrantStore, grants: { partition: number; epoch: number; to: string }[]): Promise<Error | null> =>
  new Promise((resolve) => s.recordAsync(grants, resolve));

test('an asynchronous append is in the log when done is called, and a reopened store loads it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'swimd-grants-'));
  const s = new FileGrantStore(dir);
  assert.equal(await recordAsync(s, [{ partition: 3, epoch: 7, to: 'b' }, { partition: 4, epoch: 2, to: 'a' }]), null);
  assert.match(readFileSync(join(dir, 'grants.log'), 'utf8'), /"p":3,"e":7,"t":"b"/);
  s.record([{ partition: 3, epoch: 8, to: 'c' }]);
  s.close();
  const again = new FileGrantStore(dir);
  assert.deepEqual(again.load().sort((x, y) => x.partition - y.partition), [{ partition: 3, epoch: 8, to: 'c' }, { partition: 4, epoch: 2, to: 'a' }]);
  again.close();
});

test('a second append while one is in flight is refused, and close waits for the one in flight', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'swimd-grants-'));
  const s = new FileGrantStore(dir);
  const first = recordAsync(s, [{ partition: 1, epoch: 1, to: 'a' }]);
  const second = await recordAsync(s, [{ partition: 2, epoch: 1, to: 'a' }]);
  assert.ok(second instanceof Error && /in flight/.test(second.message));
  assert.throws(() => s.record([{ partition: 2, epoch: 1, to: 'a' }]), /in flight/);
  s.close();
  assert.equal(await first, null, 'the append in flight finished on an open file');
  const again = new FileGrantStore(dir);
  assert.deepEqual(again.load(), [{ partition: 1, epoch: 1, to: 'a' }]);
  again.close();
  const closed = await recordAsync(again, [{ partition: 5, epoch: 1, to: 'a' }]);
  assert.ok(closed instanceof Error && /closed/.test(closed.message));
});
