// The trust pages in Chromium against the real test bed: Quotas (usage that
// matches the pods, a quota refusal, an edit confirmed with before/after),
// Audit (that edit recorded) and Showback (a team's GPU-hours, the chart, the
// partial-data label and the CSV export). Screenshots go to test-results/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { sharedTestbed, testbedClient, type Kube, type TestbedInfo } from '../testbed/index.ts';
import { ARTIFACTS, connectFirstCluster, openConsole, type ConsoleSession } from '../support/console.ts';
import { eventually, namespaceSettled } from '../support/testbed-info.ts';

const NS = 'trust-e2e';
const TEAM = 'vision';
const H100 = 'NVIDIA-H100-80GB-HBM3';
let info: TestbedInfo;
let s: ConsoleSession;
let page: Page;
let admin: Kube;

function gpuPod(name: string, resource: string, count: number) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: name } },
    spec: {
      automountServiceAccountToken: false,
      ...(resource === 'nvidia.com/gpu' ? { nodeSelector: { 'nvidia.com/gpu.product': H100 } } : {}),
      containers: [{ name: 'main', image: 'nvcr.io/nvidia/pytorch:24.05-py3', resources: { limits: { [resource]: String(count), cpu: '1', memory: '1Gi' } } }],
    },
  };
}

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  await admin.delete(`/api/v1/namespaces/${NS}`).catch(() => undefined);
  await eventually(`${NS} gone`, async () => (await admin.get(`/api/v1/namespaces/${NS}`).then(() => false, () => true)) || undefined, 90_000, 500);
  await admin.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'tessera.dev/team': TEAM } } });
  await admin.create(`/api/v1/namespaces/${NS}/resourcequotas`, { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'team-gpus' }, spec: { hard: { 'requests.nvidia.com/gpu': '3', 'requests.nvidia.com/mig-1g.10gb': '4' } } });
  await namespaceSettled(admin, NS, ['team-gpus']);
  await admin.create(`/api/v1/namespaces/${NS}/pods`, gpuPod('trainer', 'nvidia.com/gpu', 2));
  await admin.create(`/api/v1/namespaces/${NS}/pods`, gpuPod('embedder', 'nvidia.com/mig-1g.10gb', 2));
  // Two more GPUs than the quota has room for: the ReplicaSet's second pod is refused.
  const tpl = gpuPod('notebook', 'nvidia.com/gpu', 1);
  await admin.create(`/apis/apps/v1/namespaces/${NS}/deployments`, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'notebook', namespace: NS }, spec: { replicas: 2, selector: { matchLabels: { app: 'notebook' } }, template: { metadata: { labels: { app: 'notebook' } }, spec: tpl.spec } } });
  type P = { metadata: { name: string }; status: { phase: string; conditions?: { type: string; message?: string }[] } };
  await eventually('trust-e2e pods running', async () => {
    const pods = (await admin.get<{ items: P[] }>(`/api/v1/namespaces/${NS}/pods`)).items;
    return pods.length === 3 && pods.every((p) => p.status.phase === 'Running') ? pods : undefined;
  }, 60_000, 300).catch(async (err: Error) => {
    // Say what the pods and the namespace's events were doing, not just that time ran out.
    const pods = (await admin.get<{ items: P[] }>(`/api/v1/namespaces/${NS}/pods`)).items.map((p) => `${p.metadata.name} ${p.status.phase} ${p.status.conditions?.find((c) => c.type === 'PodScheduled')?.message ?? ''}`);
    const events = (await admin.get<{ items: { reason: string; message: string }[] }>(`/api/v1/namespaces/${NS}/events`)).items.slice(-5).map((e) => `${e.reason}: ${e.message}`);
    throw new Error(`${err.message}\npods: ${pods.join('; ')}\nevents: ${events.join('; ')}`);
  });
  s = await openConsole({ kubeconfig: info.kubeconfigs.admin, name: 'trust' });
  page = s.page;
  await s.core.methods['settings.update']({ patch: { showback: { currency: 'EUR', prices: [{ model: H100, price: 3.2 }, { model: '*', price: 1.5 }] } } });
  await connectFirstCluster(s);
});

after(async () => {
  await s?.close();
  await admin?.delete(`/api/v1/namespaces/${NS}`).catch(() => undefined);
  admin?.close();
});

const nav = (name: string) => page.getByRole('navigation').getByRole('button', { name, exact: true }).click();

test('quotas page: usage matches the pods, the refusal is shown, an edit is confirmed with before and after', async () => {
  await nav('Quotas');
  const rows = page.locator(`tr[data-namespace="${NS}"]`);
  await rows.first().waitFor({ timeout: 20_000 });
  await page.locator('[data-testid="quota-refusal"]', { hasText: 'exceeded quota: team-gpus' }).first().waitFor({ timeout: 30_000 });
  assert.equal((await page.locator(`tr[data-namespace="${NS}"] [data-testid="running-nvidia.com/gpu"]`).innerText()).trim(), '3', '2 (trainer) + 1 (first notebook replica)');
  assert.equal((await page.locator(`tr[data-namespace="${NS}"] [data-testid="running-nvidia.com/mig-1g.10gb"]`).innerText()).trim(), '2');
  const used = await rows.locator('[data-testid="quota-used"]').allInnerTexts();
  assert.deepEqual(used.map((t) => t.replace(/\s+/g, ' ').trim()), ['3 / 3', '2 / 4']);
  assert.match(await rows.first().innerText(), new RegExp(`team ${TEAM}`));
  assert.match(await page.getByTestId('quota-teams').innerText(), new RegExp(`team ${TEAM}: 3 GPU, 2 MIG 1g\\.10gb`));

  await rows.first().getByRole('button', { name: 'Edit quota' }).click();
  const form = page.getByRole('form', { name: 'edit quota' });
  await form.getByLabel('requests.nvidia.com/gpu').fill('abc');
  await form.getByRole('button', { name: 'Review change' }).click();
  assert.match(await page.getByTestId('quota-error').innerText(), /not a whole number/);
  await form.getByLabel('requests.nvidia.com/gpu').fill('4');
  await form.getByRole('button', { name: 'Review change' }).click();
  const confirm = page.getByTestId('quota-confirm');
  await confirm.waitFor();
  const confirmText = (await confirm.innerText()).replace(/\s+/g, ' ');
  assert.match(confirmText, /requests\.nvidia\.com\/gpu 3 4/, confirmText);
  await page.screenshot({ path: path.join(ARTIFACTS, 'quotas-confirm.png'), fullPage: true });
  await confirm.getByRole('button', { name: 'Apply' }).click();
  await page.getByRole('status').filter({ hasText: `Saved ResourceQuota ${NS}/team-gpus` }).waitFor({ timeout: 15_000 });
  const live = await admin.get<{ spec: { hard: Record<string, string> } }>(`/api/v1/namespaces/${NS}/resourcequotas/team-gpus`);
  assert.equal(live.spec.hard['requests.nvidia.com/gpu'], '4');
  // The refused replica is created once the quota has room; reload until the page shows it.
  await eventually('the page shows 4 GPUs running', async () => {
    await page.getByRole('button', { name: 'Reload' }).click();
    await page.getByRole('button', { name: 'Reload' }).waitFor();
    return (await page.locator(`tr[data-namespace="${NS}"] [data-testid="running-nvidia.com/gpu"]`).innerText()).trim() === '4' || undefined;
  }, 60_000, 1000);
  await page.screenshot({ path: path.join(ARTIFACTS, 'quotas.png'), fullPage: true });
});

test('audit page: the quota edit is recorded with before and after', async () => {
  await nav('Audit');
  const row = page.getByTestId('audit-row').filter({ hasText: 'quota.update' }).first();
  await row.waitFor({ timeout: 15_000 });
  assert.match(await row.innerText(), new RegExp(`ResourceQuota ${NS}/team-gpus`));
  assert.match(await row.innerText(), /succeeded/);
  await row.click();
  const detail = page.locator('pre.json').first();
  const json = JSON.parse(await detail.innerText()) as { before: Record<string, string>; after: Record<string, string> };
  assert.equal(json.before['requests.nvidia.com/gpu'], '3');
  assert.equal(json.after['requests.nvidia.com/gpu'], '4');
  await page.screenshot({ path: path.join(ARTIFACTS, 'audit.png'), fullPage: true });
});

test('showback page: the team\'s GPU-hours, the chart, the partial label and the CSV export', async () => {
  await nav('Showback');
  await page.getByLabel('period').selectOption('24h');
  const teamRow = page.locator(`[data-testid="showback-teams"] tr[data-key="${TEAM}"]`);
  await teamRow.waitFor({ timeout: 30_000 });
  const shown = Number(await teamRow.getByTestId('gpu-hours').innerText());
  // The report's own numbers, for the same team, from core.
  const report = await s.core.methods['showback.report']({ id: s.core.clusters.list()[0]!.id, from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date().toISOString() });
  const team = report.byTeam.find((r) => r.key === TEAM)!;
  assert.ok(team.gpuHours > 0 && team.pods === 4, JSON.stringify(team));
  assert.ok(Math.abs(shown - team.gpuHours) < 0.01, `page ${shown} vs report ${team.gpuHours}`);
  assert.match(await page.getByTestId('showback-source').innerText(), /Partial data/);
  assert.equal(await page.locator(`[data-testid="showback-chart"] g[data-team="${TEAM}"] rect`).count(), 3, 'used, idle and unknown segments');
  assert.match(await page.locator(`[data-testid="showback-namespaces"] tr[data-key="${NS}"]`).innerText(), /EUR/);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
  const file = path.join(ARTIFACTS, 'showback.csv');
  await download.saveAs(file);
  const csv = fs.readFileSync(file, 'utf8');
  assert.match(csv.split('\n')[0]!, /^group,key,namespace,team,gpu_hours,.*cost_EUR/);
  assert.match(csv, new RegExp(`^team,${TEAM},,${TEAM},`, 'm'));
  assert.match(csv, new RegExp(`^workload,${NS}/Pod/trainer,${NS},${TEAM},`, 'm'));
  await page.screenshot({ path: path.join(ARTIFACTS, 'showback.png'), fullPage: true });
});
