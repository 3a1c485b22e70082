/**
 * The Hosts page in Chromium against a real sshd: add a host (a bad port is
 * refused beside its field), test it, confirm its key from the fingerprint
 * shown, run a named operation, download a support bundle, and screenshot.
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
import { launchChromium } from '../support/browser.ts';
import { defaultGpus, fingerprintOf, generateKey, sshBedUnavailable, startSshBed, type SshBed } from '../sshbed/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ARTIFACTS = path.resolve(process.env.TESSERA_ARTIFACTS ?? path.join(root, 'test-results'));

describe('Hosts page in Chromium', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let core: Core;
  let server: HeadlessServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    bed = await startSshBed({ count: 1 });
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-e2e-hosts-'));
    const home = path.join(dataDir, 'home');
    fs.mkdirSync(home);
    core = await createCore({ host: 'headless', version: 'e2e', kubeconfigFiles: [path.join(dataDir, 'none')], dataDir, hosts: { userKnownHostsFiles: [], home } });
    server = await startHeadless({ core, staticDir: path.join(root, 'dist/renderer') });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Console "failed to load" lines carry no URL; failed responses are checked by URL instead (the browser's own favicon probe is not ours).
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
    });
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) pageErrors.push(`${r.status()} ${r.url()}`);
    });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await core?.dispose();
    await bed?.stop();
  });

  test('add, test, trust, run an operation, download a bundle', async () => {
    const h = bed.hosts[0]!;
    await page.goto(server.url);
    await page.getByRole('button', { name: 'SSH hosts' }).click();
    await page.getByText('No hosts yet').waitFor({ timeout: 10_000 });

    await page.getByRole('button', { name: 'Add host' }).click();
    const form = page.getByRole('form', { name: 'add host' });
    await form.locator('input[name=name]').fill('gpu-box');
    await form.locator('input[name=address]').fill(h.address);
    await form.locator('input[name=port]').fill('70000');
    await form.locator('input[name=user]').fill(os.userInfo().username);
    await form.locator('input[name=identityFile]').fill(bed.clientKey.privatePath);
    await form.locator('input[name=group]').fill('lab');
    await form.getByRole('button', { name: 'Add host' }).click();
    const portProblem = form.getByTestId('problem-port');
    await portProblem.waitFor({ timeout: 10_000 });
    assert.match(await portProblem.innerText(), /1 to 65535/);
    await form.locator('input[name=port]').fill(String(h.port));
    await form.getByRole('button', { name: 'Add host' }).click();
    const row = page.locator('tr[data-testid=host-row]', { hasText: 'gpu-box' });
    await row.waitFor({ timeout: 10_000 });

    await row.getByRole('button', { name: 'Test' }).click();
    const fp = page.getByTestId('trust-fingerprint');
    await fp.waitFor({ timeout: 20_000 });
    assert.equal((await fp.innerText()).trim(), fingerprintOf(h.hostKey.publicPath));
    await page.getByRole('button', { name: 'Trust this key' }).click();
    await row.getByTestId('test-ok').waitFor({ timeout: 20_000 });
    assert.match(await row.getByTestId('test-ok').innerText(), /publickey/);

    await row.getByRole('checkbox').check();
    await page.getByLabel('operation', { exact: true }).selectOption('nvidia-smi.list');
    await page.getByRole('button', { name: 'Run on 1 selected' }).click();
    await page.getByRole('alertdialog', { name: 'confirm run' }).getByRole('button', { name: 'Run' }).click();
    const result = page.getByTestId('exec-row').first();
    await result.waitFor({ timeout: 20_000 });
    assert.match(await result.innerText(), /exit 0[\s\S]*GPU 0:/);

    // The host's GPUs now: one busy with a training process, one idle.
    h.setGpuProcesses([{ pid: 5150, gpuUuid: defaultGpus(h.name)[0]!.uuid, usedMiB: 1024, name: 'python3 train.py' }]);
    await row.getByRole('button', { name: 'GPUs' }).click();
    const panel = page.getByTestId('host-gpus');
    await panel.getByTestId('host-gpu').nth(1).waitFor({ timeout: 20_000 });
    const busy = await panel.getByTestId('host-gpu').first().innerText();
    assert.match(busy, /NVIDIA H100 80GB HBM3[\s\S]*37 %[\s\S]*40 °C[\s\S]*246 W[\s\S]*1\.0 \/ 79\.6 GiB[\s\S]*5150 python3 train\.py 1024 MiB/);
    assert.match(await panel.getByTestId('host-gpu').nth(1).innerText(), /0 %[\s\S]*none/);
    assert.match(await panel.innerText(), /driver 550\.54\.15 · CUDA 12\.4/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-hosts-gpus.png') });
    h.setGpuProcesses([]);
    await panel.getByRole('button', { name: 'Refresh' }).click();
    await panel.getByTestId('host-gpu-process').waitFor({ state: 'detached', timeout: 20_000 });
    await panel.getByRole('button', { name: 'Close' }).click();
    await panel.waitFor({ state: 'detached' });

    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), row.getByRole('button', { name: 'Support bundle' }).click()]);
    assert.match(download.suggestedFilename(), /^tessera-bundle-gpu-box-.*\.tar\.gz$/);
    const saved = path.join(bed.root, download.suggestedFilename());
    await download.saveAs(saved);
    assert.equal(fs.readFileSync(saved).subarray(0, 2).toString('hex'), '1f8b', 'a gzip file');

    // An encrypted key: the passphrase is asked for in the app-wide prompt, typed into a password field.
    const enc = generateKey(path.join(bed.root, 'enc'), 'id_enc', 'ed25519', { passphrase: 'open sesame' });
    h.authorize(enc.publicKey);
    await page.getByRole('button', { name: 'Add host' }).click();
    const form2 = page.getByRole('form', { name: 'add host' });
    await form2.locator('input[name=name]').fill('gpu-box-enc');
    await form2.locator('input[name=address]').fill(h.address);
    await form2.locator('input[name=port]').fill(String(h.port));
    await form2.locator('input[name=user]').fill(os.userInfo().username);
    await form2.locator('input[name=identityFile]').fill(enc.privatePath);
    await form2.getByRole('button', { name: 'Add host' }).click();
    const row2 = page.locator('tr[data-testid=host-row]', { hasText: 'gpu-box-enc' });
    await row2.waitFor({ timeout: 10_000 });
    await row2.getByRole('button', { name: 'Test' }).click();
    const prompt = page.getByRole('dialog', { name: 'secret prompt' });
    await prompt.waitFor({ timeout: 20_000 });
    assert.match(await prompt.innerText(), /Passphrase for .*id_enc/);
    assert.equal(await prompt.getByLabel('secret').getAttribute('type'), 'password');
    assert.equal(await prompt.getByRole('checkbox').isDisabled(), true, 'nothing can be remembered in the headless host');
    await prompt.getByLabel('secret').fill('open sesame');
    await page.screenshot({ path: path.join(ARTIFACTS, 'console-hosts-prompt.png') });
    await prompt.getByRole('button', { name: 'OK' }).click();
    await row2.getByTestId('test-ok').waitFor({ timeout: 20_000 });

    await page.screenshot({ path: path.join(ARTIFACTS, 'console-hosts.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });
});
