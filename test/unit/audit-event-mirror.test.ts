// The Kubernetes Event an audit entry becomes, and that a mirror failure never blocks the entry.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { auditEvent, KubeEventMirror, mirrorsEntry } from '../../electron/core/audit/audit-event-mirror.ts';
import { AuditLog } from '../../electron/core/audit/audit-log.ts';
import type { AuditEntry } from '../../shared/model/audit.ts';
import { TesseraError } from '../../shared/contract/errors.ts';
import { FakeClock } from '../support/fake-clock.ts';

const entry = (over: Partial<AuditEntry> = {}): AuditEntry => ({
  seq: 7,
  id: '0f8e2a4c-1111-4222-8333-444455556666',
  time: '2026-11-22T10:00:00.000Z',
  actor: { osUser: 'ana', host: 'ws-1', kubeUser: 'oidc:ana' },
  cluster: 'cli/admin@lab',
  action: 'node.cordon',
  targets: [{ kind: 'Node', name: 'gpu-1' }],
  params: {},
  outcome: 'succeeded',
  prevHash: '0'.repeat(64),
  hash: 'f'.repeat(64),
  ...over,
});

test('only entries about cluster objects are mirrored', () => {
  assert.equal(mirrorsEntry(entry()), true);
  assert.equal(mirrorsEntry(entry({ cluster: undefined })), false, 'no cluster: nothing to put an Event on');
  assert.equal(mirrorsEntry(entry({ targets: [{ kind: 'SshHost', name: 'h' }] })), false);
  assert.equal(mirrorsEntry(entry({ targets: [{ kind: 'Settings', name: 'settings.json' }] })), false);
  assert.equal(mirrorsEntry(entry({ targets: [{ kind: 'Workstation', name: 'w' }] })), false, 'a namespaced kind needs its namespace');
  assert.equal(mirrorsEntry(entry({ targets: [{ kind: 'Workstation', namespace: 'team-a', name: 'w' }] })), true);
});

test('a v1 Event: involvedObject, reason TesseraChange, action, actor and outcome in the message, reportingComponent tessera', () => {
  const ev = auditEvent(entry({ outcome: 'failed', error: { code: 'FORBIDDEN', message: 'nope' } }), { apiVersion: 'v1', kind: 'Node', name: 'gpu-1', uid: 'u-1' }, 'ws-1') as Record<string, any>;
  assert.equal(ev.apiVersion, 'v1');
  assert.equal(ev.kind, 'Event');
  assert.equal(ev.metadata.namespace, 'default', 'cluster-scoped objects get their Events in default, as the kubelet does');
  assert.equal(ev.metadata.name, 'gpu-1.0f8e2a4c11114222');
  assert.deepEqual(ev.involvedObject, { apiVersion: 'v1', kind: 'Node', name: 'gpu-1', uid: 'u-1' });
  assert.equal(ev.reason, 'TesseraChange');
  assert.equal(ev.action, 'node.cordon');
  assert.equal(ev.type, 'Warning', 'a failed change is a Warning');
  assert.equal(ev.message, 'ana@ws-1 (as oidc:ana): node.cordon failed: nope (Tessera audit entry 7)');
  assert.equal(ev.reportingComponent, 'tessera');
  assert.equal(ev.reportingInstance, 'ws-1');
  assert.equal(ev.count, 1);
  const ns = auditEvent(entry(), { apiVersion: 'v1', kind: 'ConfigMap', name: 'c', namespace: 'gpu-operator' }, 'h') as Record<string, any>;
  assert.equal(ns.metadata.namespace, 'gpu-operator', 'namespaced objects get their Event beside them');
  assert.equal(ns.type, 'Normal');
  const long = auditEvent(entry(), { apiVersion: 'v1', kind: 'Node', name: 'n'.repeat(253) }, 'h') as Record<string, any>;
  assert.ok(long.metadata.name.length <= 253);
});

test('a mirror that cannot reach the cluster is counted and warned about; the entry is written and the change not blocked', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-mirror-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let enabled = false;
  const mirror = new KubeEventMirror({
    enabled: async () => enabled,
    access: async (id) => {
      throw new TesseraError('NOT_CONNECTED', `${id} is not connected; connect to it first`);
    },
    host: 'ws-1',
  });
  const warnings: string[] = [];
  const log = new AuditLog({ dir, clock: new FakeClock(), actor: { osUser: 'ana', host: 'ws-1' }, mirror, onWarning: (w) => warnings.push(w) });
  await log.open();
  await log.append({ action: 'node.cordon', outcome: 'succeeded', cluster: 'c', targets: [{ kind: 'Node', name: 'gpu-1' }] });
  await log.mirrorsIdle();
  assert.deepEqual(log.status().mirror, { delivered: 0, failed: 0 }, 'off: skipped, neither delivered nor failed');
  enabled = true;
  const e = await log.append({ action: 'node.cordon', outcome: 'succeeded', cluster: 'c', targets: [{ kind: 'Node', name: 'gpu-1' }] });
  assert.equal(e.seq, 2, 'the entry is durable whatever the mirror does');
  await log.append({ action: 'settings.update', outcome: 'succeeded', targets: [{ kind: 'Settings', name: 'settings.json' }] });
  await log.mirrorsIdle();
  await log.close();
  assert.equal(log.status().mirror.failed, 1, 'only the entry about a cluster object was tried');
  assert.match(warnings.join('\n'), /could not mirror audit entry 2 \(node\.cordon\): c is not connected/);
});
