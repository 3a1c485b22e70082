// XIDs from the NVIDIA kernel module's log lines, put on GPUs by PCI address,
// and the xid gate across a reboot (a kernel log starts afresh at each boot).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gpuIndexByPci, lastXidByPci, pciKey, xidsByGpu } from '../../electron/core/gpu/kernel-xids.ts';
import { xidGate } from '../../electron/core/rollouts/xid-gate.ts';

const LOG = [
  'NVRM: loading NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024',
  'NVRM: Xid (PCI:0000:3b:00): 13, pid=2843, name=python3, Graphics Exception: ESR 0x504648=0x8000000',
  'nvidia-modeset: Loading NVIDIA Kernel Mode Setting Driver for UNIX platforms  550.54.15',
  'NVRM: Xid (PCI:0000:3b:00): 31, pid=2843, name=python3, Ch 00000008, intr 00000000. MMU Fault: ENGINE GRAPHICS GPCCLIENT_T1_0 faulted @ 0x7f2a_12340000',
  'NVRM: Xid (PCI:0000:86:00): 79, pid=0, name=, GPU has fallen off the bus.',
  '[  812.004113] NVRM: Xid (PCI:0000:af:00.0): 48, pid=1, name=init, An uncorrectable double bit error',
].join('\n');
const SMI = '0, 00000000:3B:00.0\n1, 00000000:5E:00.0\n2, 00000000:AF:00.0\n';

test('kernel-log XID lines: the last XID per PCI address; both address spellings meet', () => {
  assert.equal(pciKey('00000000:3B:00.0'), '0000:3b:00');
  assert.equal(pciKey('PCI:0000:3b:00'), '0000:3b:00');
  assert.equal(pciKey('not an address'), undefined);
  assert.deepEqual([...lastXidByPci(LOG)], [['0000:3b:00', 31], ['0000:86:00', 79], ['0000:af:00', 48]]);
  assert.deepEqual([...gpuIndexByPci(SMI)], [['0000:3b:00', '0'], ['0000:5e:00', '1'], ['0000:af:00', '2']]);
});

test('per GPU: none is 0, and an XID on an address nvidia-smi no longer lists (fallen off the bus) is kept by address', () => {
  assert.deepEqual(xidsByGpu(LOG, SMI), { 0: 31, 1: 0, 2: 48, 'PCI:0000:86:00': 79 });
  assert.deepEqual(xidsByGpu('', SMI), { 0: 0, 1: 0, 2: 0 });
  assert.equal(xidGate({ 0: 0, 1: 0, 2: 0 }, { byGpu: xidsByGpu(LOG, SMI), source: 'kernel log' }).ok, false);
});

test('across a reboot every XID of the new boot is new, even the same code as before; within one boot an old one is not', () => {
  const src = 'kernel log of gpu-1';
  const booted = Date.parse('2026-11-22T10:00:00Z');
  const same = xidGate({ 0: 119 }, { byGpu: { 0: 119 }, source: src, bootedAt: booted + 900 }, undefined, booted);
  assert.equal(same.ok, true, 'the same boot (boot time read again, a second off): an XID seen before is not new');
  assert.match(same.detail, /XID 119 on GPU 0 as before/);
  const rebooted = xidGate({ 0: 119 }, { byGpu: { 0: 119 }, source: src, bootedAt: booted + 120_000 }, undefined, booted);
  assert.equal(rebooted.ok, false);
  assert.match(rebooted.detail, /XID 119 on GPU 0 \(none before\) \(kernel log of gpu-1\); the host rebooted since/);
  const clean = xidGate({ 0: 119 }, { byGpu: { 0: 0 }, source: src, bootedAt: booted + 120_000 }, undefined, booted);
  assert.equal(clean.ok, true);
});
