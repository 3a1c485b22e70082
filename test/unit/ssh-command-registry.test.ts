import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_OPERATIONS, SMI_CSV_FIELDS, createCommandRegistry, lookupOperation, operationArgv } from '../../electron/core/ssh/command-registry.ts';
import { hostKeyAlgorithms } from '../../electron/core/ssh/host-key-algorithms.ts';
import { targetLabel } from '../../electron/core/ssh/ssh-endpoint.ts';
import type { TesseraError } from '../../shared/contract/errors.ts';

const registry = createCommandRegistry();
const argv = (name: string, args?: Record<string, string>): string[][] => operationArgv(name, lookupOperation(registry, name), args);

test('the default operations build the documented nvidia-smi command lines', () => {
  assert.deepEqual(argv('nvidia-smi.list'), [['nvidia-smi', '-L']]);
  assert.deepEqual(argv('nvidia-smi.query'), [['nvidia-smi', '-q', '-x']]);
  assert.deepEqual(argv('nvidia-smi.query', { gpu: '3' }), [['nvidia-smi', '-q', '-x', '-i', '3']]);
  assert.deepEqual(argv('nvidia-smi.csv'), [
    ['nvidia-smi', '--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu,temperature.gpu,power.draw,driver_version', '--format=csv,noheader,nounits'],
  ]);
  assert.equal(SMI_CSV_FIELDS.length, 9);
  assert.deepEqual(argv('nvidia-smi.mig-lgip'), [['nvidia-smi', 'mig', '-lgip']]);
  assert.deepEqual(argv('dmesg-gpu'), [['dmesg'], ['grep', '-E', 'NVRM|Xid|nvidia']]);
  assert.deepEqual(argv('file.stat', { path: '/dev/nvidia0' }), [['stat', '--', '/dev/nvidia0']]);
  assert.deepEqual(DEFAULT_OPERATIONS['dmesg-gpu']!.okExitCodes, [0, 1]);
});

test('unknown operations and bad or unexpected parameters are refused', () => {
  assert.throws(() => lookupOperation(registry, 'rm -rf /'), (e: TesseraError) => e.code === 'INVALID_REQUEST' && Array.isArray(e.details?.known));
  assert.throws(() => argv('nvidia-smi.query', { gpu: '0; reboot' }), (e: TesseraError) => e.code === 'INVALID_REQUEST' && /GPU index/.test(e.message));
  assert.throws(() => argv('nvidia-smi.list', { extra: 'x' }), /takes no parameter "extra"/);
  assert.throws(() => argv('file.stat'), /needs "path"/);
  assert.throws(() => argv('file.stat', { path: 'relative' }), /absolute path/);
  // Hostile but absolute paths are allowed: quoting, not validation, is what keeps them inert.
  assert.deepEqual(argv('file.stat', { path: '/tmp/x; touch /tmp/pwned' }), [['stat', '--', '/tmp/x; touch /tmp/pwned']]);
});

test('extra operations extend a registry without changing the default one', () => {
  const r = createCommandRegistry({ 'test.echo': { description: 'echo', argv: () => ['echo', 'hi'], sudo: 'never' } });
  assert.ok(r.has('test.echo') && r.has('nvidia-smi.list'));
  assert.ok(!registry.has('test.echo'));
});

test('host key algorithms prefer the types already known for a host', () => {
  const all = hostKeyAlgorithms([]);
  assert.equal(all[0], 'ssh-ed25519');
  const rsaFirst = hostKeyAlgorithms(['ssh-rsa']);
  assert.deepEqual(rsaFirst.slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  assert.deepEqual([...rsaFirst].sort(), [...all].sort(), 'nothing is dropped, only reordered');
});

test('pool keys name the user, host, port and jump chain', () => {
  const jump = { host: 'bastion', username: 'ops', auth: [] };
  assert.equal(targetLabel({ host: 'gpu1', port: 2222, username: 'root', auth: [] }), 'root@gpu1:2222');
  assert.equal(targetLabel({ host: 'gpu1', username: 'root', auth: [], jump: [jump, { ...jump, host: 'inner', port: 2200 }] }), 'root@gpu1:22 via ops@bastion:22,ops@inner:2200');
  assert.equal(targetLabel({ host: 'fe80::1', username: 'root', auth: [] }), 'root@[fe80::1]:22');
});
