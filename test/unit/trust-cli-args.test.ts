// Argument parsing of `tessera quotas set` and `tessera showback`: what the
// integration test cannot cheaply pin down (calendar month, removals, limits.).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseQuotaChanges, QuotasUsageError } from '../../electron/cli/quotas-command.ts';
import { showbackRange, ShowbackUsageError } from '../../electron/cli/showback-command.ts';

test('quota changes: requests. assumed, limits. kept, KEY- removes, bad input named', () => {
  assert.deepEqual(parseQuotaChanges(['nvidia.com/gpu=4', 'limits.nvidia.com/mig-1g.10gb=0', 'requests.nvidia.com/mig-3g.40gb-']), [
    { resource: 'requests.nvidia.com/gpu', value: 4 },
    { resource: 'limits.nvidia.com/mig-1g.10gb', value: 0 },
    { resource: 'requests.nvidia.com/mig-3g.40gb' },
  ]);
  assert.throws(() => parseQuotaChanges(['requests.memory=4']), (e: unknown) => e instanceof QuotasUsageError && /"requests\.memory" is not a GPU quota key/.test(e.message));
  assert.throws(() => parseQuotaChanges(['nvidia.com/gpu=-1']), /takes a whole number of devices .*got "-1"/);
  assert.throws(() => parseQuotaChanges(['nvidia.com/gpu=1.5']), /whole number/);
  assert.throws(() => parseQuotaChanges(['nvidia.com/gpu=1', 'nvidia.com/gpu-']), /named twice/);
  assert.throws(() => parseQuotaChanges([]), /at least one RESOURCE=COUNT/);
});

test('showback range: named periods end now, month is the UTC calendar month, bounds are checked', () => {
  const now = Date.parse('2026-11-22T19:00:00Z');
  assert.deepEqual(showbackRange({}, now), { from: '2026-11-15T19:00:00.000Z', to: '2026-11-22T19:00:00.000Z' }, 'default 7d');
  assert.deepEqual(showbackRange({ period: 'month' }, now), { from: '2026-11-01T00:00:00.000Z', to: '2026-11-22T19:00:00.000Z' });
  assert.deepEqual(showbackRange({ since: '2026-11-20T00:00:00Z' }, now), { from: '2026-11-20T00:00:00.000Z', to: '2026-11-22T19:00:00.000Z' }, '--since alone runs to now');
  assert.deepEqual(showbackRange({ since: '2026-11-01', until: '2026-11-02' }, now), { from: '2026-11-01T00:00:00.000Z', to: '2026-11-02T00:00:00.000Z' });
  assert.throws(() => showbackRange({ until: '2026-11-02' }, now), (e: unknown) => e instanceof ShowbackUsageError && /--until needs --since/.test(e.message));
  assert.throws(() => showbackRange({ period: '1y' }, now), /--period takes 24h, 7d, 30d, month, got "1y"/);
  assert.throws(() => showbackRange({ since: '2026-11-23T00:00:00Z' }, now), /ends .* before it starts/);
});
