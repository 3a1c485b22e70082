// Walks the workstation create form in Chromium against the test bed: a
// refusal beyond quota shown with the quota named, then a MIG-slice
// workstation chosen from the free-capacity list, Running in the list, its
// detail panel, a confirmed snapshot, and a confirmed stop. Screenshots of
// the form, list and detail land in test-results/.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { sharedTestbed, testbedClient, type Kube, type TestbedInfo } from '../testbed/index.ts';
import { ARTIFACTS, connectFirstCluster, openConsole, type ConsoleSession } from '../support/console.ts';
const NS = 'ws-e2e';
const NS_Q = 'ws-e2e-quota';

let info: TestbedInfo;
let s: ConsoleSession;
let page: Page;
let admin: Kube;

async function wipe(ns: string): Promise<void> {
  for (const p of [`/apis/kubeflow.org/v1/namespaces/${ns}/notebooks`, `/apis/snapshot.storage.k8s.io/v1/namespaces/${ns}/volumesnapshots`, `/api/v1/namespaces/${ns}/persistentvolumeclaims`, `/api/v1/namespaces/${ns}/resourcequotas`]) await admin.request('DELETE', p).catch(() => undefined);
}

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  for (const ns of [NS, NS_Q]) {
    await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }).catch(() => undefined);
    await wipe(ns);
  }
  // A previous run's claims stay Terminating until their pods are gone.
  for (let i = 0; i < 180; i++) {
    if ((await admin.get(`/api/v1/namespaces/${NS}/persistentvolumeclaims`)).items.length === 0 && (await admin.get(`/api/v1/namespaces/${NS}/pods`)).items.length === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await admin.create(`/api/v1/namespaces/${NS_Q}/resourcequotas`, { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'no-gpus' }, spec: { hard: { 'requests.nvidia.com/gpu': '0' } } });
  await admin.patch(`/api/v1/namespaces/${NS}`, { metadata: { annotations: { 'tessera.dev/ws-idle-after': '2s', 'tessera.dev/ws-idle-action': 'flag' } } });
  // The console runs the idle policy, checking every second here.
  s = await openConsole({ kubeconfig: info.kubeconfigs.admin, name: 'ws', core: { workstations: { idle: { intervalMs: 1000 } } } });
  page = s.page;
});

after(async () => {
  try {
    for (const ns of [NS, NS_Q]) await wipe(ns);
  } finally {
    await s?.close();
    admin?.close();
  }
});

test('create form: quota refusal, then a MIG workstation from free capacity; list and detail', async () => {
  await connectFirstCluster(s);
  await page.getByRole('navigation').getByRole('button', { name: 'Workstations' }).click();
  await page.getByRole('button', { name: 'New workstation' }).click();
  const form = page.getByTestId('ws-create');
  await form.waitFor();

  // The GPU list offers what is free now, MIG slices included.
  const gpu = form.getByLabel('gpu', { exact: true });
  // Polled from here: the console's CSP has no unsafe-eval, which waitForFunction's string predicates need.
  await gpu.locator('option[value^="mig:"]').first().waitFor({ state: 'attached', timeout: 20_000 });
  const migOptions = await gpu.locator('option').evaluateAll((os) => os.map((o) => ({ value: (o as HTMLOptionElement).value, label: o.textContent ?? '' })).filter((o) => o.value.startsWith('mig:')));
  assert.ok(migOptions.length > 0);
  assert.match(migOptions[0]!.label, /MIG \d+g\.\d+gb · .* — \d+ free on \d+ nodes?/);
  const fullOption = await gpu.locator('option').evaluateAll((os) => (os as HTMLOptionElement[]).map((o) => o.value).find((v) => v.startsWith('full:') && !/MIG/.test(v)));
  assert.ok(fullOption);

  // Beyond quota: the quota is named, nothing is created.
  await form.getByLabel('name', { exact: true }).fill('e2e-refused');
  await form.getByLabel('namespace').selectOption(NS_Q);
  await gpu.selectOption(fullOption!);
  await form.getByRole('button', { name: 'Create workstation' }).click();
  const check = page.getByTestId('ws-check');
  await check.waitFor({ timeout: 15_000 });
  assert.match(await check.innerText(), /ResourceQuota "no-gpus" in ws-e2e-quota allows requests\.nvidia\.com\/gpu 0/);
  assert.equal((await admin.get(`/api/v1/namespaces/${NS_Q}/persistentvolumeclaims`)).items.length, 0);
  await page.screenshot({ path: path.join(ARTIFACTS, 'workstations-create-refused.png') });

  // A MIG slice in a namespace without quota.
  await form.getByLabel('name', { exact: true }).fill('e2e-mig');
  await form.getByLabel('namespace').selectOption(NS);
  await gpu.selectOption(migOptions[0]!.value);
  await form.getByLabel('memory').fill('4Gi');
  await form.getByLabel('volume size').fill('2Gi');
  await form.getByLabel('environment').fill('PROJECT=e2e');
  await page.screenshot({ path: path.join(ARTIFACTS, 'workstations-create-form.png') });
  await form.getByRole('button', { name: 'Create workstation' }).click();

  const row = page.getByTestId('ws-row').filter({ hasText: 'e2e-mig' });
  await row.waitFor({ timeout: 20_000 });
  await row.locator('.badge-ok', { hasText: 'running' }).waitFor({ timeout: 60_000 });
  const profile = migOptions[0]!.value.slice(4).split('@')[0]!;
  assert.match(await row.innerText(), new RegExp(`1× ${profile.replace('.', '\\.')}`));
  // The new workstation opens in the detail panel; close it to see the whole list, then open it from its row.
  await page.getByTestId('ws-detail').getByRole('button', { name: 'close' }).click();
  await page.screenshot({ path: path.join(ARTIFACTS, 'workstations-list.png') });
  await row.click();
  const detail = page.getByTestId('ws-detail');
  await detail.waitFor();
  assert.match(await detail.innerText(), /Kubeflow Notebook/);
  assert.match(await detail.innerText(), /e2e-mig-home/);
  assert.match(await detail.innerText(), /PROJECT=e2e/);

  // Snapshot, confirmed first, then ready with its size.
  await detail.getByRole('button', { name: 'Snapshot' }).click();
  await page.getByTestId('ws-confirm').getByRole('button', { name: 'Confirm' }).click();
  const snaps = page.getByTestId('ws-snapshots');
  await snaps.waitFor({ timeout: 15_000 });
  // The snapshotter takes a moment; the panel's refresh re-reads readiness.
  for (let i = 0; i < 30 && !/ready/.test(await snaps.innerText()); i++) {
    await new Promise((r) => setTimeout(r, 500));
    await detail.getByRole('button', { name: 'refresh' }).click();
  }
  assert.match(await snaps.innerText(), /ready\s+2Gi/);
  // Live utilisation of its slice, from the dcgm-exporter metrics the console streams.
  await detail.getByTestId('ws-live').filter({ hasText: /% GPU activity/ }).waitFor({ timeout: 45_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'workstations-detail.png') });

  // Stop asks first; the GPU-hour clock is banked and the state shows stopped.
  await detail.getByRole('button', { name: 'Stop' }).click();
  assert.match(await page.getByTestId('ws-confirm').innerText(), /The GPU is freed; the volume e2e-mig-home is kept/);
  await page.getByTestId('ws-confirm').getByRole('button', { name: 'Confirm' }).click();
  await row.locator('.badge-idle', { hasText: 'stopped' }).waitFor({ timeout: 60_000 });
  const nb = await admin.get(`/apis/kubeflow.org/v1/namespaces/${NS}/notebooks/e2e-mig`);
  assert.ok(nb.metadata.annotations['kubeflow-resource-stopped'], 'stopped through the Notebook annotation');
  const entries = (await s.core.audit!.query({ action: 'workstation' })).entries.map((e) => `${e.action}:${e.outcome}`);
  for (const a of ['workstation.create:succeeded', 'workstation.snapshot:succeeded', 'workstation.stop:succeeded']) assert.ok(entries.includes(a), a);
});

test('detail: Open IDE forwards the IDE to a loopback URL the browser opens, Terminal opens a pod shell, the idle flag and policy show', async () => {
  const id = s.core.clusters.list()[0]!.id;
  const pool = (await s.core.workstations.offers(id)).find((o) => o.kind === 'full' && !/MIG/.test(o.pool) && o.free >= 1)!.pool;
  await s.core.workstations.create(id, { name: 'e2e-ide', namespace: NS, image: 'registry.local/jupyter/scipy:2024.1', gpu: { kind: 'full', count: 1 }, cpu: '1', memory: '2Gi', volumeSize: '2Gi', nodePool: pool });
  // Nobody uses its GPU: the notebook controller copies this to the pod, the simulated GPU stays quiet.
  await admin.patch(`/apis/kubeflow.org/v1/namespaces/${NS}/notebooks/e2e-ide`, { metadata: { annotations: { 'tessera.dev/sim-idle': 'true' } } });
  const row = page.getByTestId('ws-row').filter({ hasText: 'e2e-ide' });
  await row.waitFor({ timeout: 20_000 });
  await row.locator('.badge-ok', { hasText: 'running' }).waitFor({ timeout: 60_000 });
  // The previous test's detail panel covers the list: close it first.
  if (await page.getByTestId('ws-detail').isVisible()) await page.getByTestId('ws-detail').getByRole('button', { name: 'close' }).click();
  await row.click();
  const detail = page.getByTestId('ws-detail');
  await detail.getByText('ws-e2e/e2e-ide').first().waitFor();
  assert.match(await detail.getByTestId('ws-policy').innerText(), /GPU below 5% for 2s: flag it · policy of namespace ws-e2e/);

  await detail.getByRole('button', { name: 'Open IDE' }).click();
  const fwd = detail.getByTestId('ws-forward');
  await fwd.waitFor({ timeout: 30_000 });
  const href = await fwd.getByRole('link').getAttribute('href');
  assert.match(href ?? '', /^http:\/\/127\.0\.0\.1:\d+\/notebook\/ws-e2e\/e2e-ide\/\?tessera_token=/);
  // The user's browser follows the link: token → cookie → the IDE page, served by the pod through pods/portforward.
  const ide = await s.browser.newPage();
  await ide.goto(href!);
  assert.equal(new URL(ide.url()).search, '', 'the token left the address bar');
  assert.match(await ide.locator('#pod').innerText(), /ws-e2e\/e2e-ide-0/);
  await ide.screenshot({ path: path.join(ARTIFACTS, 'workstations-ide.png') });
  await ide.close();

  // The idle watcher marks the quiet GPU; after the namespace's 2 s it is flagged.
  const idle = detail.getByTestId('ws-idle');
  await idle.locator('.badge-warn', { hasText: 'idle' }).waitFor({ timeout: 30_000 });
  assert.match(await idle.innerText(), /GPU below 5% since .*; flagged after 2s/);
  await row.locator('.badge-warn', { hasText: /^idle/ }).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'workstations-detail-open-idle.png') });

  await detail.getByRole('button', { name: 'Terminal' }).click();
  await page.getByText('ws-e2e/e2e-ide-0').first().waitFor({ timeout: 20_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'workstations-terminal.png') });
  const entries = (await s.core.audit!.query({ action: 'workstation.open' })).entries;
  assert.ok(entries.some((e) => e.outcome === 'succeeded'));
});
