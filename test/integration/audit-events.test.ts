// The audit trail mirrored to Kubernetes Events (settings.audit.mirrorEvents): a change made
// through the headless host's contract produces a TesseraChange Event on the object changed when
// the setting is on, and none when it is off. Real API server (the test bed).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { AuditEntry } from '../../shared/model/audit.ts';
import type { ClusterSummary } from '../../shared/model/cluster.ts';
import { headlessSession, type HeadlessSession } from '../support/headless-session.ts';
import { sharedTestbed, testbedClient, type Kube, type TestbedInfo } from '../testbed/index.ts';

let info: TestbedInfo;
let admin: Kube;
let s: HeadlessSession;
let clusterId: string;

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info, 'admin');
  s = await headlessSession([info.kubeconfigs.admin], 'audit-events');
  const [cluster] = await s.must<ClusterSummary[]>('clusters.list', {});
  clusterId = cluster!.id;
  await s.must('clusters.connect', { id: clusterId });
});

after(async () => {
  await s?.close();
});

interface KubeEvent {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  involvedObject: { apiVersion?: string; kind: string; name: string; namespace?: string; uid?: string };
  reason: string;
  action?: string;
  message: string;
  type: string;
  reportingComponent?: string;
  source?: { component?: string };
  count?: number;
}

/** Saves a MIG layout (a real change to Tessera's ConfigMap) and returns its audit entry. */
async function changeSomething(config: string): Promise<AuditEntry> {
  await s.must('mig.saveConfig', { id: clusterId, name: config, entries: [{ enabled: true, counts: [{ profile: '1g.10gb', count: 7 }] }] });
  const page = await s.must<{ entries: AuditEntry[] }>('audit.query', { action: 'mig.config.save', limit: 50 });
  const entry = page.entries.find((e) => (e.params as { name?: string }).name === config && e.outcome === 'succeeded');
  assert.ok(entry, `an audit entry for saving ${config}`);
  await s.core.audit!.mirrorsIdle(10_000);
  return entry;
}

async function eventsFor(entry: AuditEntry): Promise<KubeEvent[]> {
  const target = entry.targets[0]!;
  const list = await admin.get<{ items: KubeEvent[] }>(`/api/v1/namespaces/${target.namespace}/events`, { fieldSelector: `involvedObject.name=${target.name},reason=TesseraChange` });
  return list.items.filter((e) => e.metadata.annotations?.['tessera.dev/audit-id'] === entry.id);
}

test('mirroring is off by default: a change is audited and no Event is created', async () => {
  const view = await s.must<{ settings: { audit: { mirrorEvents: boolean } } }>('settings.get', {});
  assert.equal(view.settings.audit.mirrorEvents, false);
  const entry = await changeSomething(`audit-off-${Date.now().toString(36)}`);
  assert.deepEqual(await eventsFor(entry), []);
  assert.deepEqual(await s.core.audit!.status().then((st) => st?.mirror), { delivered: 0, failed: 0 });
});

test('with settings.audit.mirrorEvents on, the change produces a TesseraChange Event on the object, naming actor and outcome', async () => {
  await s.must('settings.update', { patch: { audit: { mirrorEvents: true } } });
  const entry = await changeSomething(`audit-on-${Date.now().toString(36)}`);
  const target = entry.targets[0]!;
  const events = await eventsFor(entry);
  assert.equal(events.length, 1, 'one Event for the one object changed');
  const ev = events[0]!;
  const cm = await admin.get<{ metadata: { uid: string } }>(`/api/v1/namespaces/${target.namespace}/configmaps/${target.name}`);
  assert.deepEqual(ev.involvedObject, { apiVersion: 'v1', kind: 'ConfigMap', name: target.name, namespace: target.namespace, uid: cm.metadata.uid });
  assert.equal(ev.metadata.namespace, target.namespace);
  assert.equal(ev.reason, 'TesseraChange');
  assert.equal(ev.action, 'mig.config.save');
  assert.equal(ev.type, 'Normal');
  assert.equal(ev.reportingComponent, 'tessera');
  assert.equal(ev.source?.component, 'tessera');
  assert.equal(ev.metadata.annotations?.['tessera.dev/audit-seq'], String(entry.seq));
  assert.ok(ev.message.startsWith(`${entry.actor.osUser}@${entry.actor.host}`), ev.message);
  assert.match(ev.message, /mig\.config\.save succeeded/);
  // The settings change itself is local (no cluster object), so it made no Event; this one did.
  const st = await s.core.audit!.status();
  assert.equal(st?.mirror.failed, 0, st?.mirror.lastError);
  assert.ok((st?.mirror.delivered ?? 0) >= 1);
});

test('turning it off again stops the Events at once', async () => {
  await s.must('settings.update', { patch: { audit: { mirrorEvents: false } } });
  const entry = await changeSomething(`audit-off2-${Date.now().toString(36)}`);
  assert.deepEqual(await eventsFor(entry), []);
});
