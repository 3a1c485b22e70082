// A viewer sees the workstation actions it may not take disabled, with the missing permission
// named, checked by SelfSubjectAccessReview before anything is offered. Screenshot saved.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { ClusterSummary } from '../../shared/model/cluster.ts';
import type { Workstation } from '../../shared/model/workstation.ts';
import { headlessSession, type HeadlessSession } from '../support/headless-session.ts';
import { ARTIFACTS, connectFirstCluster, openConsole, type ConsoleSession } from '../support/console.ts';
import { sharedTestbed, type TestbedInfo } from '../testbed/index.ts';

const NS = 'team-a';
const NAME = 'rbac-ws-a';
let info: TestbedInfo;
let admin: HeadlessSession;
let s: ConsoleSession;

before(async () => {
  info = await sharedTestbed();
  admin = await headlessSession([info.kubeconfigs.admin], 'rbac-e2e-admin');
  const [c] = await admin.must<ClusterSummary[]>('clusters.list', {});
  await admin.must('clusters.connect', { id: c!.id });
  const existing = await admin.call<Workstation>('ws.get', { id: c!.id, namespace: NS, name: NAME });
  if (!existing.ok) await admin.must('ws.create', { id: c!.id, spec: { name: NAME, namespace: NS, image: 'registry.local/jupyter/scipy:2024.1', gpu: { kind: 'none' }, cpu: '1', memory: '1Gi', volumeSize: '1Gi' } });
  s = await openConsole({ kubeconfig: info.kubeconfigs.viewer, name: 'rbac-viewer' });
});

after(async () => {
  await s?.close();
  await admin?.close();
});

test('viewer: workstation actions are disabled and say which permission is missing', async () => {
  const { page } = s;
  await connectFirstCluster(s);
  await page.getByRole('navigation').getByRole('button', { name: 'Workstations' }).click();
  const row = page.getByTestId('ws-row').filter({ hasText: NAME });
  await row.waitFor({ timeout: 30_000 });
  await row.click();
  const detail = page.getByTestId('ws-detail');
  const note = detail.getByTestId('missing-permission').filter({ hasText: 'patch notebooks.kubeflow.org in team-a' });
  await note.waitFor({ timeout: 15_000 });
  assert.match(await note.innerText(), /user "[^"]+" may not patch notebooks\.kubeflow\.org in namespace team-a/);
  const toggle = detail.getByRole('button', { name: /^(Stop|Start)$/ });
  assert.equal(await toggle.isDisabled(), true);
  assert.equal(await toggle.getAttribute('title'), 'missing permission: patch notebooks.kubeflow.org in team-a');
  const del = detail.getByRole('button', { name: 'Delete' });
  assert.equal(await del.isDisabled(), true);
  assert.match((await del.getAttribute('title')) ?? '', /^missing permission: delete notebooks\.kubeflow\.org in team-a$/);
  await detail.getByTestId('missing-permission').filter({ hasText: 'create volumesnapshots.snapshot.storage.k8s.io in team-a' }).waitFor({ timeout: 5000 });
  assert.equal(await detail.getByRole('button', { name: 'Snapshot' }).isDisabled(), true);
  await page.screenshot({ path: path.join(ARTIFACTS, 'rbac-viewer-workstation.png'), fullPage: true });
});
