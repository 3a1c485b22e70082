/**
 * The Settings page in Chromium through the headless host: a corrupt
 * settings file is reported on the page, a change is saved to disk, and a
 * bad value is refused with the field named while the file stays as it was.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { createCore, type Core } from '../../electron/core/core.ts';
import { startHeadless, type HeadlessServer } from '../../electron/host/http.ts';
import { launchChromium } from '../support/browser.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ARTIFACTS = path.resolve(process.env.TESSERA_ARTIFACTS ?? path.join(root, 'test-results'));
let core: Core;
let server: HeadlessServer;
let browser: Browser;
let dataDir: string;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-settings-e2e-'));
  fs.writeFileSync(path.join(dataDir, 'settings.json'), '{"version":1,"idle":');
  fs.writeFileSync(path.join(dataDir, 'hosts.json'), '{"version":1,"hosts":[]}\n');
  // A kubeconfig that points nowhere: this page needs no cluster.
  const kc = path.join(dataDir, 'kubeconfig');
  fs.writeFileSync(kc, 'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "https://127.0.0.1:9"}\ncontexts:\n- name: dev\n  context: {cluster: c}\ncurrent-context: dev\n');
  core = await createCore({ host: 'headless', version: 'settings-e2e', dataDir, kubeconfigFiles: [kc] });
  server = await startHeadless({ core, staticDir: path.join(root, 'dist/renderer') });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
  await core?.dispose();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('settings: a corrupt file is reported, a change is saved, a bad value is refused by name', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await page.goto(server.url);
  await page.getByRole('navigation').getByRole('button', { name: 'Settings', exact: true }).click();
  const notice = page.getByTestId('settings-notice');
  await notice.waitFor({ timeout: 10_000 });
  assert.match(await notice.innerText(), /settings\.json could not be read .* kept as .*settings\.json\.corrupt-.* default settings/);
  assert.ok(fs.readdirSync(dataDir).some((f) => f.startsWith('settings.json.corrupt-')), 'the corrupt file was kept aside');
  assert.equal(fs.readFileSync(path.join(dataDir, 'hosts.json'), 'utf8'), '{"version":1,"hosts":[]}\n', 'other files untouched');

  const form = page.getByRole('form', { name: 'settings' });
  await form.locator('input[name="minutes"]').fill('45');
  await form.getByRole('button', { name: 'Add price' }).click();
  await form.getByLabel('model 1').fill('NVIDIA-H100-80GB-HBM3');
  await form.getByLabel('price 1').fill('2.75');
  await form.getByLabel('Ask API servers to compress large answers (gzip)').check();
  await form.getByRole('button', { name: 'Save settings' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor({ timeout: 10_000 });
  const saved = JSON.parse(fs.readFileSync(path.join(dataDir, 'settings.json'), 'utf8')) as { idle: { minutes: number }; connection: { gzip: boolean }; showback: { prices: { model: string; price: number }[] } };
  assert.equal(saved.idle.minutes, 45);
  assert.equal(saved.connection.gzip, true);
  assert.deepEqual(saved.showback.prices, [{ model: 'NVIDIA-H100-80GB-HBM3', price: 2.75 }]);
  assert.equal(await notice.count(), 0, 'the notice is gone once a good file is written');
  await page.screenshot({ path: path.join(ARTIFACTS, 'settings.png'), fullPage: true });

  const before = fs.readFileSync(path.join(dataDir, 'settings.json'), 'utf8');
  await form.locator('input[name="utilizationPercent"]').fill('250');
  await form.getByRole('button', { name: 'Save settings' }).click();
  await page.getByTestId('problem-utilizationPercent').waitFor({ timeout: 10_000 });
  assert.match(await page.getByTestId('problem-utilizationPercent').innerText(), /must be ≤ 100/);
  assert.match(await page.getByTestId('settings-error').innerText(), /idle\.utilizationPercent/);
  assert.equal(fs.readFileSync(path.join(dataDir, 'settings.json'), 'utf8'), before, 'a refused save changes nothing');
  await page.close();
});
