import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { createCore, type Core } from '../../electron/core/core.ts';
import { startHeadless, type HeadlessServer } from '../../electron/host/http.ts';
import { sharedTestbed, type TestbedInfo } from '../testbed/index.ts';
import { launchChromium } from '../support/browser.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = path.resolve(process.env.TESSERA_ARTIFACTS ?? path.join(root, 'test-results'));

let info: TestbedInfo;
let core: Core;
let server: HeadlessServer;
let browser: Browser;
let page: Page;
let dataDir: string;
const outsideRequests: string[] = [];

before(async () => {
  info = await sharedTestbed();
  const staticDir = path.join(root, 'dist/renderer');
  assert.ok(fs.existsSync(path.join(staticDir, 'index.html')), 'the renderer is built (npm run build)');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-e2e-data-'));
  core = await createCore({ host: 'headless', version: 'e2e', kubeconfigFiles: [info.kubeconfigs.admin], dataDir });
  server = await startHeadless({ core, staticDir });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('request', (r) => {
    if (!r.url().startsWith(server.origin) && !r.url().startsWith(server.origin.replace('http', 'ws'))) outsideRequests.push(r.url());
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await core?.dispose();
});

test('without the token the console is refused', async () => {
  const res = await fetch(`${server.origin}/`);
  assert.equal(res.status, 401);
  assert.match(await res.text(), /needs its access token/);
  const api = await fetch(`${server.origin}/api/call`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"method":"clusters.list","params":{}}' });
  assert.equal(api.status, 401);
});

test('open the console, connect to the test bed and see its nodes', async () => {
  await page.goto(server.url);
  assert.equal(new URL(page.url()).searchParams.get('token'), null, 'the token is taken out of the address bar');
  const target = page.locator('article.card').first();
  await target.waitFor({ timeout: 15_000 });
  await target.getByRole('button', { name: 'Connect' }).click();
  await target.locator('.badge-ok', { hasText: 'connected' }).waitFor({ timeout: 20_000 });
  await assert.doesNotReject(target.getByText(/v1\.20\.\d+ · \d+ ms/).waitFor({ timeout: 10_000 }));
  await page.screenshot({ path: path.join(ARTIFACTS, 'console-clusters.png') });

  await page.getByRole('navigation').getByRole('button', { name: 'Nodes' }).click();
  const rows = page.getByTestId('node-row');
  await rows.first().waitFor({ timeout: 20_000 });
  const totals = await page.getByTestId('node-totals').innerText();
  const gpuNodes = Number(/(\d+)\s+with GPUs/.exec(totals)?.[1]);
  const expected = JSON.parse(
    await (await fetch(`${server.origin}/api/call`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Tessera-Token': server.token }, body: JSON.stringify({ method: 'nodes.list', params: { id: (await core.clusters.list())[0]!.id } }) })).text(),
  ) as { result: { gpu: unknown }[] };
  assert.equal(gpuNodes, expected.result.filter((n) => n.gpu).length, 'the page counts the GPU nodes the API server has');
  assert.match(await rows.first().innerText(), /NVIDIA|Tesla/);
  await page.getByLabel('filter nodes').fill('h100');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=node-row]')].every((r) => /h100/i.test(r.textContent ?? '')));
  await page.getByLabel('filter nodes').fill('');
  await page.screenshot({ path: path.join(ARTIFACTS, 'console-nodes.png') });
});

test('the fleet overview counts GPUs by model and version, and the GPU map filters and opens a node', async () => {
  const nav = page.getByRole('navigation');
  await nav.getByRole('button', { name: 'Fleet' }).click();
  await page.getByTestId('fleet-page').waitFor();
  const rows = await core.nodes.list(core.clusters.list()[0]!.id);
  const gpus = rows.reduce((n, r) => n + (r.gpu?.count ?? 0), 0);
  await page.getByText(String(gpus), { exact: true }).first().waitFor();
  const drivers = new Set(rows.filter((r) => r.gpu?.driverVersion).map((r) => r.gpu!.driverVersion!));
  for (const d of drivers) await page.getByTestId('drivers').getByText(d).waitFor();
  const invalid = rows.find((r) => r.gpu?.migInvalid);
  if (invalid) await page.getByTestId('problems').getByText(invalid.name).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'console-fleet.png'), fullPage: true });

  await nav.getByRole('button', { name: 'GPU map' }).click();
  const mapRows = page.getByTestId('map-row');
  await mapRows.first().waitFor();
  const gpuNodes = rows.filter((r) => r.gpu).length;
  await page.getByTestId('map-count').getByText(`${gpuNodes} of ${gpuNodes} GPU nodes`).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'console-gpumap.png') });

  await page.getByLabel('model').selectOption('NVIDIA-H100-80GB-HBM3');
  const h100 = rows.filter((r) => r.gpu?.model === 'NVIDIA-H100-80GB-HBM3').length;
  await page.getByTestId('map-count').getByText(`${h100} of ${gpuNodes} GPU nodes`).waitFor();
  assert.ok(h100 > 0);
  for (const text of await mapRows.allInnerTexts()) assert.match(text, /H100/);

  const mig = rows.find((r) => r.gpu?.model === 'NVIDIA-H100-80GB-HBM3' && r.gpu.devices.some((d) => d.mig))!;
  await page.getByLabel('search GPU nodes').fill(mig.name);
  await mapRows.first().click();
  const detail = page.getByTestId('node-detail');
  await detail.waitFor();
  await detail.getByRole('heading', { name: mig.name }).waitFor();
  const instances = mig.gpu!.devices.reduce((n, d) => n + (d.mig ? d.slots.length : 1), 0);
  assert.equal(await detail.getByTestId('instance-row').count(), instances);
  await detail.getByTestId('node-labels').locator('summary').click();
  await detail.getByTestId('node-labels').getByText(/^nvidia\.com\/gpu\.product=NVIDIA-H100-80GB-HBM3$/).waitFor();
  await detail.getByTestId('node-events').locator('li').first().waitFor({ timeout: 15_000 });
  assert.match(await detail.getByTestId('node-events').innerText(), /RegisteredNode|Starting|NodeReady|NodeHasSufficient/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'console-node-detail.png') });
  assert.deepEqual(outsideRequests, [], 'the console made no request outside its own host');
});

test('importing a kubeconfig from the Clusters page: a broken file is refused, a good one is added and audited', async () => {
  const nav = page.getByRole('navigation');
  await nav.getByRole('button', { name: 'Clusters' }).click();
  const before = await page.locator('article.card').count();
  await page.getByTestId('import-kubeconfig').setInputFiles({ name: 'broken.yaml', mimeType: 'text/yaml', buffer: Buffer.from('clusters: [\n  - name: x\n') });
  await page.getByRole('alert').filter({ hasText: /Import refused: broken\.yaml is not valid YAML at line \d+/ }).waitFor();
  assert.equal(await page.locator('article.card').count(), before, 'nothing was added');

  await page.getByTestId('import-kubeconfig').setInputFiles({ name: 'viewer.yaml', mimeType: 'text/yaml', buffer: fs.readFileSync(info.kubeconfigs.viewer) });
  await page.getByText('Imported viewer.yaml').waitFor();
  await page.waitForFunction((n) => document.querySelectorAll('article.card').length === n + 1, before);
  const imported = page.locator('article.card').filter({ hasText: 'viewer.yaml' });
  await imported.getByRole('button', { name: 'Connect' }).click();
  await imported.locator('.badge-ok', { hasText: 'connected' }).waitFor({ timeout: 20_000 });

  await nav.getByRole('button', { name: 'Audit' }).click();
  const rows = page.getByTestId('audit-row');
  await rows.first().waitFor();
  const texts = await rows.allInnerTexts();
  assert.ok(texts.some((t) => /kubeconfig\.import[\s\S]*failed/.test(t)), 'the refused import is recorded');
  assert.ok(texts.some((t) => /kubeconfig\.import[\s\S]*succeeded/.test(t)), 'the import is recorded');
  await page.getByRole('button', { name: 'Verify chain' }).click();
  await page.getByTestId('audit-verify').getByText(/Intact: 2 entries/).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'console-audit.png') });
  assert.deepEqual(outsideRequests, []);
});
