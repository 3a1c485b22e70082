// The MIG editor in Chromium: an invalid placement is shown as such with its
// reason, a valid layout is saved, checked and applied through the GPU
// Operator path, and the node is followed to success. Screenshots in test-results/.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { sharedTestbed, testbedClient, testbedFleet, type Kube, type TestbedInfo } from '../testbed/index.ts';
import { ARTIFACTS, connectFirstCluster, openConsole, type ConsoleSession } from '../support/console.ts';

const CONFIG = 'e2e-4g-2g-1g';

let info: TestbedInfo;
let s: ConsoleSession;
let admin: Kube;
let target: string;
let before_: { policy?: string; label?: string } = {};

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  // A mixed-strategy node: a layout of several profiles is refused on single-strategy nodes.
  target = testbedFleet(info).find((x) => x.gpu?.model === 'h100' && x.gpu.mig?.strategy === 'mixed')?.name ?? '';
  assert.ok(target, 'an H100 mixed-strategy MIG node');
  const policy = await admin.get<{ items: { spec?: { migManager?: { config?: { name?: string } } } }[] }>('/apis/nvidia.com/v1/clusterpolicies');
  const node = await admin.get<{ metadata: { labels?: Record<string, string> } }>(`/api/v1/nodes/${target}`);
  before_ = { policy: policy.items[0]?.spec?.migManager?.config?.name, label: node.metadata.labels?.['nvidia.com/mig.config'] };
  s = await openConsole({ kubeconfig: info.kubeconfigs.admin, name: 'mig' });
});

after(async () => {
  try {
    if (before_.policy) await admin.patch('/apis/nvidia.com/v1/clusterpolicies/cluster-policy', { spec: { migManager: { config: { name: before_.policy } } } });
    // Back to the node's own config, draining the GPU pods that came back meanwhile.
    if (before_.label && target && s) await s.core.mig.wait((await s.core.mig.apply({ id: s.core.clusters.list()[0]!.id, nodes: [target], config: before_.label, maxParallel: 1, drain: true, pointPolicy: false, timeoutS: 120 })).applyId);
  } finally {
    await s?.close();
    admin?.close();
  }
});

test('edit a layout, see an invalid placement rejected, apply a valid one and watch it reach success', async () => {
  await connectFirstCluster(s);
  const page = s.page;
  await page.getByRole('navigation').getByRole('button', { name: 'MIG layouts' }).click();
  await page.getByTestId(`mig-select-${target}`).check({ timeout: 20_000 });

  await page.getByRole('button', { name: 'Clear' }).click();
  await page.getByTestId('mig-brush-4g.40gb').click();
  await page.getByTestId('mig-cell-0-1').click({ force: true });
  const bad = page.getByTestId('mig-block-0-0');
  await bad.waitFor();
  assert.match((await bad.getAttribute('class')) ?? '', /invalid/);
  assert.match(await page.getByTestId('mig-problems-0').innerText(), /4g\.40gb at slice 1: this profile may only start at slice 0/);
  await page.getByTestId('mig-config-name').fill(CONFIG);
  assert.equal(await page.getByTestId('mig-save').isDisabled(), true, 'an invalid layout cannot be saved');
  await page.screenshot({ path: path.join(ARTIFACTS, 'mig-invalid.png') });

  // Keyboard: move it left onto slice 0, the only start 4g.40gb has.
  await bad.focus();
  await page.keyboard.press('ArrowLeft');
  await page.waitForFunction(`!document.querySelector('[data-testid=mig-problems-0]')`);
  await page.getByTestId('mig-brush-2g.20gb').click();
  await page.getByTestId('mig-cell-0-4').click({ force: true });
  await page.getByTestId('mig-brush-1g.10gb').click();
  await page.getByTestId('mig-cell-0-6').click({ force: true });
  assert.equal(await page.getByTestId('mig-problems-0').count(), 0, 'the layout is valid');
  assert.match(await page.getByTestId('mig-diff-0').innerText(), /adds .*4g\.40gb@0/);

  await page.getByTestId('mig-save').click();
  await page.getByTestId('mig-notice').waitFor({ timeout: 15_000 });
  await page.getByTestId('mig-check').click();
  await page.getByTestId('mig-check-result').waitFor({ timeout: 15_000 });
  // GPU pods may run there: drain them first (the Apply button stays disabled otherwise).
  await page.getByLabel(/Drain GPU pods first/).check();
  const point = page.getByTestId('mig-point-policy');
  if (await point.count()) await point.check();
  await page.getByTestId('mig-apply').click();
  await page.getByTestId('mig-confirm').click();
  const row = page.getByTestId(`mig-node-${target}`);
  await row.waitFor({ timeout: 15_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'mig-applying.png') });
  await page.waitForSelector(`[data-testid="mig-node-${target}"][data-step="succeeded"]`, { timeout: 60_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'mig-applied.png') });
  const node = await admin.get<{ metadata: { labels: Record<string, string> } }>(`/api/v1/nodes/${target}`);
  assert.equal(node.metadata.labels['nvidia.com/mig.config'], CONFIG);
  assert.equal(node.metadata.labels['nvidia.com/mig.config.state'], 'success');
});
