import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { createCore, type Core } from '../../electron/core/core.ts';
import { startHeadless, type HeadlessServer } from '../../electron/host/http.ts';
import { sharedTestbed } from '../testbed/index.ts';
import { launchChromium } from '../support/browser.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let core: Core;
let server: HeadlessServer;
let browser: Browser;

before(async () => {
  const info = await sharedTestbed();
  core = await createCore({ host: 'headless', version: 'air-gap', kubeconfigFiles: [info.kubeconfigs.admin] });
  server = await startHeadless({ core, staticDir: path.join(root, 'dist/renderer') });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
  await core?.dispose();
});

test('every screen loads with nothing requested beyond the console host itself', async () => {
  const page = await browser.newPage();
  const leaks: string[] = [];
  const own = new URL(server.origin);
  // Intercept at the network layer: anything not for the console's own origin is recorded and aborted.
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.host === own.host && (url.protocol === 'http:' || url.protocol === 'ws:')) return route.continue();
    if (url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    leaks.push(route.request().url());
    return route.abort();
  });
  page.on('websocket', (ws) => {
    if (new URL(ws.url()).host !== own.host) leaks.push(ws.url());
  });
  await page.goto(server.url);
  await page.locator('article.card').first().getByRole('button', { name: 'Connect' }).click();
  await page.locator('.badge-ok', { hasText: 'connected' }).first().waitFor({ timeout: 20_000 });
  const nav = page.getByRole('navigation');
  const labels = await nav.getByRole('button').allInnerTexts();
  assert.ok(labels.length >= 5, `screens: ${labels.join(', ')}`);
  for (const label of labels) {
    await nav.getByRole('button', { name: label, exact: true }).click();
    await page.waitForTimeout(400);
  }
  const html = fs.readFileSync(path.join(root, 'dist/renderer/index.html'), 'utf8');
  assert.doesNotMatch(html, /https?:\/\//, 'the built page references no remote origin');
  assert.deepEqual(leaks, []);
});

test('the built renderer bundle references no remote fonts, scripts or telemetry endpoints', () => {
  const dir = path.join(root, 'dist/renderer/assets');
  for (const f of fs.readdirSync(dir).filter((n) => /\.(js|css)$/.test(n))) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    assert.doesNotMatch(text, /fonts\.googleapis|fonts\.gstatic|cdn\.jsdelivr|unpkg\.com|googletagmanager|sentry\.io|segment\.io/i, f);
    assert.doesNotMatch(text, /@import\s+url\(\s*['"]?https?:/i, f);
  }
});
