// The headless console in Chromium for end-to-end tests: a core on a throwaway
// data folder, the built renderer served by the headless host, and a page.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { createCore, type Core, type CoreOptions } from '../../electron/core/core.ts';
import { startHeadless, type HeadlessServer } from '../../electron/host/http.ts';
import { launchChromium } from './browser.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = path.resolve(process.env.TESSERA_ARTIFACTS ?? path.join(ROOT, 'test-results'));

export interface ConsoleSession {
  core: Core;
  server: HeadlessServer;
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

export async function openConsole(opts: { kubeconfig: string; name: string; viewport?: { width: number; height: number }; core?: Partial<CoreOptions> }): Promise<ConsoleSession> {
  const staticDir = path.join(ROOT, 'dist/renderer');
  assert.ok(fs.existsSync(path.join(staticDir, 'index.html')), 'the renderer is built (npm run build)');
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `tessera-e2e-${opts.name}-`));
  const core = await createCore({ host: 'headless', version: 'e2e', kubeconfigFiles: [opts.kubeconfig], dataDir, ...opts.core });
  const server = await startHeadless({ core, staticDir });
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: opts.viewport ?? { width: 1440, height: 1000 } });
  return {
    core,
    server,
    browser,
    page,
    async close() {
      await browser.close();
      await server.close();
      await core.dispose();
    },
  };
}

/** Opens the console and connects the first cluster card, as a user would. */
export async function connectFirstCluster(s: ConsoleSession): Promise<void> {
  await s.page.goto(s.server.url);
  const card = s.page.locator('article.card').first();
  await card.waitFor({ timeout: 15_000 });
  await card.getByRole('button', { name: 'Connect' }).click();
  await card.locator('.badge-ok', { hasText: 'connected' }).waitFor({ timeout: 20_000 });
}
