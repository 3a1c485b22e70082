import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { _electron as electron } from 'playwright-core';
import { sharedTestbed } from '../testbed/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function electronBinary(): string | null {
  try {
    const p = createRequire(import.meta.url)('electron') as unknown;
    return typeof p === 'string' && fs.existsSync(p) ? p : null;
  } catch {
    return null;
  }
}

const binary = electronBinary();

test('the Electron app opens its window securely and lists the test bed nodes', { skip: binary ? false : 'SKIPPED: no Electron binary is installed (npm could not download it here); the same renderer is tested in Chromium through the headless host' }, async () => {
  const info = await sharedTestbed();
  const app = await electron.launch({
    executablePath: binary!,
    args: [path.join(root, 'dist/electron/main.js'), '--no-sandbox', '--kubeconfig', info.kubeconfigs.admin],
    env: { ...process.env, ELECTRON_DISABLE_SECURITY_WARNINGS: '' },
  });
  try {
    const win = await app.firstWindow();
    assert.match(win.url(), /^app:\/\/tessera\//);
    const bridge = await win.evaluate(() => {
      const t = (window as unknown as { tessera: { methods: Record<string, unknown>; streams: Record<string, unknown> } }).tessera;
      return { keys: Object.keys(t).sort(), connect: typeof t.methods['clusters.connect'], watch: typeof t.streams['nodes.watch'] };
    });
    assert.deepEqual(bridge, { keys: ['methods', 'streams'], connect: 'function', watch: 'function' }, 'the preload exposes the contract and nothing else');
    assert.equal(await win.evaluate(() => typeof (globalThis as { require?: unknown }).require), 'undefined');
    assert.equal(await win.evaluate(() => typeof (globalThis as { process?: unknown }).process), 'undefined');
    const opened = await win.evaluate(() => window.open('https://example.invalid/') === null);
    assert.equal(opened, true, 'new windows are denied');
    await win.locator('article.card').first().getByRole('button', { name: 'Connect' }).click();
    await win.getByRole('navigation').getByRole('button', { name: 'Nodes' }).click();
    await win.getByTestId('node-row').first().waitFor({ timeout: 30_000 });
    fs.mkdirSync(path.join(root, 'test-results'), { recursive: true });
    await win.screenshot({ path: path.join(root, 'test-results', 'electron-nodes.png') });
  } finally {
    await app.close();
  }
});
