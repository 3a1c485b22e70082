// The rollout page in Chromium while a big rollout runs: how long the page's
// main thread is blocked (long tasks, over 50 ms each) as snapshots arrive every
// second, how many node rows it keeps in the DOM, and how long a name filter
// takes to show its node. Needs `npm run build` (dist/renderer).
import fs from 'node:fs';
import path from 'node:path';
import type { Core } from '../../electron/core/core.ts';
import { startHeadless } from '../../electron/host/http.ts';
import { launchChromium } from '../support/browser.ts';

export interface PageFigures {
  longTasks: number;
  longTaskMsPerMinute: number;
  worstLongTaskMs: number;
  nodeRowsInDom: number;
  filterToRowMs: number;
}

export async function watchRolloutPage(core: Core, root: string, driverVersion: string): Promise<{ done: (lastNode: string, matching: number) => Promise<PageFigures>; close: () => Promise<void> }> {
  const staticDir = path.join(root, 'dist/renderer');
  if (!fs.existsSync(path.join(staticDir, 'index.html'))) throw new Error('--page needs the built renderer: run npm run build first');
  const server = await startHeadless({ core, staticDir });
  const browser = await launchChromium();
  const close = async () => {
    await browser.close();
    await server.close();
  };
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  await page.goto(server.url);
  await page.getByRole('navigation').getByRole('button', { name: 'Driver rollouts' }).click();
  // The history refreshes every 10 s; the rollout shows up there once it is recorded.
  const row = page.getByTestId('rollout-history').locator('tr', { hasText: driverVersion });
  await row.waitFor({ timeout: 60_000 });
  await row.click();
  await page.getByTestId('rollout-view').waitFor({ timeout: 60_000 });
  await page.evaluate(`(() => {
    window.__long = [];
    new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); }).observe({ type: 'longtask' });
    window.__t0 = performance.now();
  })()`);
  const done = async (lastNode: string, matching: number): Promise<PageFigures> => {
    await page.waitForSelector('[data-testid="rollout-view"][data-phase="succeeded"]', { timeout: 600_000 });
    const { long, ms } = await page.evaluate<{ long: number[]; ms: number }>(`({ long: window.__long, ms: performance.now() - window.__t0 })`);
    const rows = '[data-testid="rollout-timeline"] [data-step]';
    const nodeRowsInDom = await page.locator(rows).count();
    const filterToRowMs = await page.evaluate<number>(`(async () => {
      const input = document.querySelector('[data-testid=rollout-filter]');
      if (!input) return -1;
      const t0 = performance.now();
      const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
      set.call(input, ${JSON.stringify(lastNode)});
      input.dispatchEvent(new Event('input', { bubbles: true }));
      while (!document.querySelector('[data-testid="rollout-node-${lastNode}"]') || document.querySelectorAll('${rows}').length !== ${matching}) await new Promise((r) => requestAnimationFrame(r));
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      return performance.now() - t0;
    })()`);
    await page.screenshot({ path: path.join(root, 'test-results', 'bench-rollout-page.png') });
    const total = long.reduce((a, b) => a + b, 0);
    return {
      longTasks: long.length,
      longTaskMsPerMinute: Math.round((total / ms) * 60_000),
      worstLongTaskMs: Math.round(Math.max(0, ...long)),
      nodeRowsInDom,
      filterToRowMs: Math.round(filterToRowMs),
    };
  };
  return { done, close };
}
