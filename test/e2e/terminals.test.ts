/**
 * An SSH terminal in Chromium: the Terminals page opens a shell on a real
 * sshd (test/sshbed) through the headless host, a command typed into xterm
 * runs, and its output is read back from the xterm screen. The host is given
 * by address (the same default keys as a saved host: the bed's client key is
 * the test home's ~/.ssh/id_ed25519; its host key is in the known_hosts file
 * passed to core).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { createCore, type Core } from '../../electron/core/core.ts';
import { startHeadless, type HeadlessServer } from '../../electron/host/http.ts';
import { sshBedUnavailable, startSshBed, type SshBed } from '../sshbed/index.ts';
import { launchChromium } from '../support/browser.ts';
import { sharedTestbed } from '../testbed/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ARTIFACTS = path.resolve(process.env.TESSERA_ARTIFACTS ?? path.join(root, 'test-results'));

describe('SSH terminal in the browser', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let core: Core;
  let server: HeadlessServer;
  let browser: Browser;
  let page: Page;
  let dataDir: string;

  const screenText = () => page.evaluate('document.querySelector(".term-pane.active .xterm-rows")?.innerText ?? ""') as Promise<string>;
  /** Polls from the test side: waitForFunction would evaluate a string in the page, which the console's CSP (no unsafe-eval) refuses. */
  const poll = async (check: () => Promise<boolean>, what: string, timeout = 15_000) => {
    const deadline = Date.now() + timeout;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${await screenText()}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  };
  const waitScreen = (re: RegExp, timeout = 15_000) => poll(async () => re.test(await screenText()), String(re), timeout);
  const rowCount = () => page.evaluate('document.querySelectorAll(".term-pane.active .xterm-rows > div").length') as Promise<number>;

  before(async () => {
    bed = await startSshBed({ count: 1 });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-e2e-term-'));
    const home = path.join(dataDir, 'home');
    fs.mkdirSync(path.join(home, '.ssh'), { recursive: true });
    fs.writeFileSync(path.join(home, '.ssh', 'id_ed25519'), bed.clientKey.privateKey, { mode: 0o600 });
    const staticDir = path.join(root, 'dist/renderer');
    assert.ok(fs.existsSync(path.join(staticDir, 'index.html')), 'the renderer is built (npm run build)');
    core = await createCore({ host: 'headless', version: 'e2e', kubeconfigFiles: [], dataDir, env: { HOME: home }, hosts: { home, userKnownHostsFiles: [bed.knownHostsFile] } });
    server = await startHeadless({ core, staticDir });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await core?.dispose();
    await bed?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('open a shell, type a command, read its output from the xterm screen, resize, search, exit and reconnect', async () => {
    const h = bed.hosts[0]!;
    const user = os.userInfo().username;
    await page.goto(server.url);
    await page.getByRole('navigation').getByRole('button', { name: 'Terminals' }).click();
    await page.getByLabel('SSH address').fill(h.address);
    await page.getByLabel('SSH port').fill(String(h.port));
    await page.getByLabel('SSH user').fill(user);
    await page.getByRole('button', { name: 'Open SSH terminal' }).click();

    await page.getByTestId('terminal-banner').filter({ hasText: `SSH ${user}@${h.address}:${h.port}` }).waitFor({ timeout: 15_000 });
    await waitScreen(/[#$] *$/m);
    // xterm's own rules (cell size, theme) are in force despite the CSP refusing its <style> elements.
    const spanDisplay = await page.evaluate('getComputedStyle(document.querySelector(".term-pane.active .xterm-rows span") ?? document.body).display');
    assert.equal(spanDisplay, 'inline-block', 'xterm dimension styles are applied through adopted stylesheets');

    await page.locator('.term-pane.active .xterm-screen').click();
    await page.keyboard.type('echo hello-$((6*7))');
    await page.keyboard.press('Enter');
    await waitScreen(/^hello-42\s*$/m);

    // The remote PTY has the size xterm shows.
    const rowsShown = await rowCount();
    await page.keyboard.type('stty size');
    await page.keyboard.press('Enter');
    await waitScreen(new RegExp(`^${rowsShown} \\d+\\s*$`, 'm'));
    await page.setViewportSize({ width: 1000, height: 640 });
    await poll(async () => (await rowCount()) < rowsShown, 'xterm to fit the smaller window', 5000);
    const rowsAfter = await rowCount();
    await page.keyboard.type('clear; stty size');
    await page.keyboard.press('Enter');
    await waitScreen(new RegExp(`^${rowsAfter} \\d+\\s*$`, 'm'));
    await page.screenshot({ path: path.join(ARTIFACTS, 'terminals-ssh.png') });

    await page.keyboard.type('echo needle-$((3*3))');
    await page.keyboard.press('Enter');
    await waitScreen(/^needle-9\s*$/m);
    await page.getByLabel('search scrollback').fill('needle-9');
    await page.getByLabel('search scrollback').press('Enter');
    await page.locator('.term-pane.active .xterm-selection div').first().waitFor({ timeout: 5000 });

    await page.locator('.term-pane.active .xterm-screen').click();
    await page.keyboard.type('exit 7');
    await page.keyboard.press('Enter');
    await waitScreen(/exited with status 7/);
    await page.locator('.term-tab .badge', { hasText: 'exited' }).waitFor({ timeout: 5000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'terminals-ssh-exited.png') });

    await page.getByRole('button', { name: 'Reconnect' }).click();
    await page.locator('.term-tab .badge', { hasText: 'open' }).waitFor({ timeout: 15_000 });
    // Type after the new prompt: a login shell discards what is typed while it sets up its terminal.
    await waitScreen(/reconnecting[^]*[#$] *$/);
    await page.locator('.term-pane.active .xterm-screen').click();
    await page.keyboard.type('echo again-$((5+5))');
    await page.keyboard.press('Enter');
    await waitScreen(/^again-10\s*$/m);
    assert.match(await screenText(), /reconnecting/);

    // Another page and back: the same terminal, with its scrollback, and output that came meanwhile.
    await page.keyboard.type('sleep 1; echo later-$((8*8))');
    await page.keyboard.press('Enter');
    await page.getByRole('navigation').getByRole('button', { name: 'Audit' }).click();
    await new Promise((r) => setTimeout(r, 1500));
    await page.getByRole('navigation').getByRole('button', { name: 'Terminals' }).click();
    await waitScreen(/^again-10\s*$[^]*^later-64\s*$/m);

    const audit = await core.audit!.query({ action: 'terminal' });
    const opens = audit.entries.filter((e) => e.action === 'terminal.open' && e.outcome === 'succeeded');
    const closes = audit.entries.filter((e) => e.action === 'terminal.close');
    assert.equal(opens.length, 2, 'the first session and the reconnect were recorded');
    assert.equal(closes.length, 1);
    assert.equal((closes[0]!.params as { exitCode: number }).exitCode, 7);
  });
});

describe('pod shell in the browser (pod picker, RBAC, exec through the API server)', () => {
  const pageErrors: string[] = [];
  let core: Core;
  let server: HeadlessServer;
  let browser: Browser;
  let page: Page;
  let dataDir: string;

  before(async () => {
    const info = await sharedTestbed();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-e2e-pod-'));
    core = await createCore({ host: 'headless', version: 'e2e', kubeconfigFiles: [info.kubeconfigs.admin, info.kubeconfigs.viewer], dataDir });
    for (const c of core.clusters.list()) await core.clusters.connect(c.id);
    server = await startHeadless({ core, staticDir: path.join(root, 'dist/renderer') });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await core?.dispose();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('choose cluster, namespace and pod; a viewer is told which permission is missing; an admin gets a shell', async (t) => {
    const admin = core.clusters.list().find((c) => c.context.startsWith('admin@'))!;
    const pods = await core.methods['terminals.pods']({ clusterId: admin.id });
    const pod = pods.find((p) => p.namespace === 'batch') ?? pods.find((p) => p.namespace !== 'gpu-operator')!;
    const screen = () => page.evaluate('document.querySelector(".term-pane.active .xterm-rows")?.innerText ?? ""') as Promise<string>;
    const until = async (re: RegExp, what: string) => {
      const deadline = Date.now() + 15_000;
      while (!re.test(await screen())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${await screen()}`);
        await new Promise((r) => setTimeout(r, 150));
      }
    };

    await page.goto(server.url);
    await page.getByRole('navigation').getByRole('button', { name: 'Terminals' }).click();
    await page.getByRole('button', { name: 'Pod', exact: true }).click();

    await page.getByLabel('cluster').selectOption({ label: 'viewer@tessera-testbed' });
    await page.locator(`select[aria-label="namespace"] option[value="${pod.namespace}"]`).waitFor({ state: 'attached', timeout: 15_000 });
    await page.getByLabel('namespace').selectOption(pod.namespace);
    await page.getByText(/missing permission: .*may not create pods\/exec in namespace/).waitFor({ timeout: 10_000 });
    await page.getByLabel('pod').selectOption(pod.name);
    assert.equal(await page.getByRole('button', { name: 'Open pod shell' }).isDisabled(), true, 'no exec offered without the permission');

    await page.getByLabel('cluster').selectOption({ label: 'admin@tessera-testbed' });
    await page.locator(`select[aria-label="namespace"] option[value="${pod.namespace}"]`).waitFor({ state: 'attached', timeout: 15_000 });
    await page.getByLabel('namespace').selectOption(pod.namespace);
    await page.getByLabel('pod').selectOption(pod.name);
    await page.getByRole('button', { name: 'Open pod shell' }).and(page.locator(':enabled')).waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'Open pod shell' }).click();
    await page.getByTestId('terminal-banner').filter({ hasText: `pod ${pod.namespace}/${pod.name} · container ${pod.containers[0]}` }).waitFor({ timeout: 15_000 });
    const opened = await Promise.race([until(/[#$] *$/m, 'a prompt').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000))]).catch(() => false);
    if (!opened && /kubelet|dialing backend/.test(await screen())) return t.skip('this test bed was started before the simulated kubelets served exec; restart it');
    await page.locator('.term-pane.active .xterm-screen').click();
    await page.keyboard.type('echo pod-$((6*7))');
    await page.keyboard.press('Enter');
    await until(/^pod-42\s*$/m, 'pod-42');
    await page.screenshot({ path: path.join(ARTIFACTS, 'terminals-pod.png') });
    await page.getByRole('button', { name: 'Close session' }).click();
    // The tab goes once core confirms the close, a moment after the click.
    await page.locator('.term-tab').first().waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await page.locator('.term-tab').count(), 0, 'the tab is gone');
    assert.deepEqual(pageErrors, [], 'the page threw nothing');
  });
});
