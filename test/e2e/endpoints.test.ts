// Walks the Endpoints page in Chromium against the test bed's KServe stand-in:
// the create form (format → compatible runtime, the namespace's PVC as
// pvc:// storage, a MIG slice from the free-capacity list, Serverless), its
// YAML tab, a confirmed create, Ready on the list with its traffic, the
// detail page's conditions and revisions, a v1 request and a small load test
// in the test panel (real answers from the simulated model server), and a
// 10% canary with both revisions side by side and the split measured, a
// promote, and a confirmed delete that says the model storage stays. Screenshots of the
// form, list, detail and test panel land in test-results/.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { sharedTestbed, testbedClient, type Kube, type TestbedInfo } from '../testbed/index.ts';
import { ARTIFACTS, connectFirstCluster, openConsole, type ConsoleSession } from '../support/console.ts';

const NS = 'team-a';
const NAME = 'e2e-iris';
const ISVC = `/apis/serving.kserve.io/v1beta1/namespaces/${NS}/inferenceservices`;

let info: TestbedInfo;
let s: ConsoleSession;
let page: Page;
let admin: Kube;

async function removeIsvc(): Promise<void> {
  await admin.request('DELETE', `${ISVC}/${NAME}`).catch(() => undefined);
  // The simulated controller deletes the predictor pods; wait so a rerun starts clean.
  for (let i = 0; i < 60; i++) {
    const pods = await admin.get(`/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent(`serving.kserve.io/inferenceservice=${NAME}`)}`);
    const gone = await admin
      .get(`${ISVC}/${NAME}`)
      .then(() => false)
      .catch(() => true);
    if (gone && pods.items.length === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  await removeIsvc();
  s = await openConsole({ kubeconfig: info.kubeconfigs.admin, name: 'ep' });
  page = s.page;
});

after(async () => {
  try {
    await page?.screenshot({ path: path.join(ARTIFACTS, 'endpoints-last.png') }).catch(() => undefined);
    await removeIsvc();
  } finally {
    await s?.close();
    admin?.close();
  }
});

test('create form → Ready on the list → detail → a v1 request and a load test → 10% canary, promote → delete keeps the model storage', async () => {
  await connectFirstCluster(s);
  await page.getByRole('navigation').getByRole('button', { name: 'Endpoints' }).click();
  await page.getByRole('button', { name: 'New endpoint' }).click();
  const form = page.getByTestId('ep-create');
  await form.waitFor();

  // Formats come from the runtimes; the runtime list narrows to what serves the format.
  await form.getByLabel('namespace', { exact: true }).selectOption(NS);
  const format = form.getByLabel('model format');
  await format.locator('option[value="sklearn"]').waitFor({ state: 'attached', timeout: 20_000 });
  await format.selectOption('sklearn');
  const runtime = form.getByLabel('runtime');
  const runtimes = await runtime.locator('option').evaluateAll((os) => (os as HTMLOptionElement[]).map((o) => o.value).filter(Boolean));
  assert.ok(runtimes.includes('kserve-sklearnserver'), `sklearn runtimes: ${runtimes.join(', ')}`);
  assert.ok(!runtimes.includes('kserve-tritonserver') && !runtimes.includes('kserve-vllmserver'), 'runtimes that cannot serve sklearn are not offered');
  await runtime.selectOption('kserve-sklearnserver');

  // Storage: the namespace's PVC as pvc://, with the air-gap note.
  const pvc = form.getByLabel('model pvc');
  await pvc.locator('option[value="models"]').waitFor({ state: 'attached', timeout: 15_000 });
  await pvc.selectOption('models');
  await form.getByLabel('model path').fill('iris');
  assert.match(await form.innerText(), /cannot reach public hubs/);

  // A MIG slice from where capacity is free now.
  const gpu = form.getByLabel('gpu', { exact: true });
  await gpu.locator('option[value^="mig:"]').first().waitFor({ state: 'attached', timeout: 20_000 });
  const mig = await gpu.locator('option').evaluateAll((os) => (os as HTMLOptionElement[]).map((o) => ({ value: o.value, label: o.textContent ?? '' })).filter((o) => o.value.startsWith('mig:')));
  assert.match(mig[0]!.label, /MIG \d+g\.\d+gb · .* — \d+ free on \d+ nodes?/);
  await gpu.selectOption(mig[0]!.value);
  const profile = mig[0]!.value.slice(4).split('@')[0]!;
  await form.getByLabel('memory').fill('1Gi');
  await form.getByLabel('deployment mode').selectOption('Serverless');
  await form.getByLabel('name', { exact: true }).fill(NAME);

  // The preview: valid, dry run accepted.
  await page.getByTestId('ep-preview').filter({ hasText: /Valid/ }).waitFor({ timeout: 20_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'endpoints-create-form.png'), fullPage: true });

  // The YAML tab shows what will be applied.
  await form.getByRole('tab', { name: /YAML/ }).click();
  const yaml = await form.getByLabel('yaml').inputValue();
  assert.match(yaml, /kind: InferenceService/);
  assert.match(yaml, new RegExp(`storageUri: ['"]?pvc://models/iris`));
  assert.match(yaml, new RegExp(`nvidia\\.com/mig-${profile.replace('.', '\\.')}`));
  assert.match(yaml, /serving\.kserve\.io\/deploymentMode: ['"]?Serverless/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'endpoints-create-yaml.png') });

  // An expert edit that breaks it is refused with the problem named...
  const yamlBox = form.getByLabel('yaml');
  const preview = page.getByTestId('ep-preview');
  await yamlBox.fill(yaml.replace('kind: InferenceService', 'kind: Deployment'));
  await form.getByRole('button', { name: 'Validate YAML' }).click();
  await preview.filter({ hasText: /^Not valid yet/ }).waitFor({ timeout: 15_000 });
  assert.match(await preview.innerText(), /InferenceService/);
  assert.equal(await form.getByRole('button', { name: 'Create endpoint' }).isDisabled(), false, 'submit re-checks, so it stays pressable');
  await form.getByRole('button', { name: 'Create endpoint' }).click();
  await preview.filter({ hasText: /^Not valid yet/ }).waitFor();
  assert.equal(await page.getByTestId('ep-confirm').count(), 0, 'no confirmation for an invalid object');
  // ...and one that adds a label is what gets applied.
  await yamlBox.fill(yaml.replace(/^(\s+)app\.kubernetes\.io\/managed-by: tessera$/m, '$1app.kubernetes.io/managed-by: tessera\n$1team: e2e'));
  await form.getByRole('button', { name: 'Validate YAML' }).click();
  await preview.filter({ hasText: /^Valid:/ }).waitFor({ timeout: 15_000 });

  // Submit asks first; nothing exists until confirmed.
  await form.getByRole('button', { name: 'Create endpoint' }).click();
  const confirm = page.getByTestId('ep-confirm');
  await confirm.waitFor({ timeout: 20_000 });
  assert.match(await confirm.innerText(), new RegExp(`Create InferenceService ${NS}/${NAME} from your edited YAML`));
  await assert.rejects(admin.get(`${ISVC}/${NAME}`), 'not created before the confirmation');
  await confirm.getByRole('button', { name: 'Confirm create' }).click();
  await page.getByTestId('ep-row').filter({ hasText: NAME }).waitFor({ timeout: 20_000 });
  assert.equal((await admin.get(`${ISVC}/${NAME}`)).metadata.labels.team, 'e2e', 'the edited YAML was applied');

  // Ready on the list, with its URL and 100% on one revision.
  const row = page.getByTestId('ep-row').filter({ hasText: NAME });
  await row.waitFor({ timeout: 20_000 });
  await row.locator('.badge-ok', { hasText: 'ready' }).waitFor({ timeout: 90_000 });
  const rowText = await row.innerText();
  assert.match(rowText, /http:\/\/127\.0\.0\.1:\d+/);
  assert.match(rowText, /kserve-sklearnserver/);
  assert.match(rowText, new RegExp(`1× ${profile.replace('.', '\\.')}`));
  assert.match(rowText, /00001.* 100%/);
  await page.getByTestId('ep-detail').getByRole('button', { name: 'close' }).click();
  await page.screenshot({ path: path.join(ARTIFACTS, 'endpoints-list.png') });

  // Detail: conditions with their status, the revision, the actions.
  await row.click();
  const detail = page.getByTestId('ep-detail');
  const conditions = detail.getByTestId('ep-conditions');
  await conditions.waitFor({ timeout: 15_000 });
  assert.match(await conditions.innerText(), /Ready\s+True/);
  assert.match(await conditions.innerText(), /PredictorReady\s+True/);
  const revision = detail.getByTestId('ep-revision').first();
  await revision.waitFor();
  assert.match(await revision.innerText(), new RegExp(`${NAME}-predictor-00001`));
  assert.match(await revision.innerText(), /100%/);
  assert.match(await detail.getByTestId('ep-actions').innerText(), /Start canary/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'endpoints-detail.png') });

  // Events, the predictor pod with the slice it holds, and its logs.
  await detail.getByRole('tab', { name: 'Events, pods, logs' }).click();
  const pods = detail.getByTestId('ep-pods');
  await pods.waitFor();
  assert.match(await pods.innerText(), new RegExp(`${NAME}-predictor-00001.*\\s+00001\\s+ready\\s+\\S+\\s+1× ${profile.replace('.', '\\.')}`));
  await detail.getByRole('button', { name: 'Show logs' }).click();
  await detail.getByTestId('ep-logs').first().waitFor({ timeout: 15_000 });
  assert.match(await detail.getByTestId('ep-logs').first().innerText(), new RegExp(`${NAME}-predictor-00001`));
  await page.screenshot({ path: path.join(ARTIFACTS, 'endpoints-activity.png') });
  // The run before the last restart: this container never restarted, and the panel says so instead of showing nothing.
  await detail.getByLabel('before the last restart').check();
  await detail.getByRole('button', { name: 'Reload logs' }).click();
  await detail.getByTestId('ep-logs').filter({ hasText: 'has not restarted' }).first().waitFor({ timeout: 15_000 });
  assert.match(await detail.getByTestId('ep-logs').first().innerText(), /\(before the last restart\)[^]*has not restarted: there is no earlier run to show/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'endpoints-previous-log.png') });
  await detail.getByLabel('before the last restart').uncheck();

  // Test panel: a v1 request with the sample body gets the model's real answer.
  await detail.getByRole('tab', { name: 'Test' }).click();
  const panel = detail.getByTestId('ep-test');
  assert.equal(await panel.getByLabel('protocol').inputValue(), 'v1');
  assert.deepEqual(JSON.parse(await panel.getByLabel('request body').inputValue()), { instances: [[1, 2], [3, 4]] });
  await panel.getByRole('button', { name: 'Run readiness probes' }).click();
  await panel.getByTestId('ep-probes').waitFor({ timeout: 15_000 });
  assert.match(await panel.getByTestId('ep-probes').innerText(), /200/);
  await panel.getByRole('button', { name: 'Send request' }).click();
  const result = panel.getByTestId('ep-test-result');
  await result.waitFor({ timeout: 15_000 });
  assert.match(await result.innerText(), /HTTP 200/);
  assert.match(await result.innerText(), new RegExp(`revision\\s+${NAME}-predictor-00001`));
  assert.deepEqual(JSON.parse(await panel.getByTestId('ep-test-body').innerText()).predictions, [3, 7]);
  assert.match(await panel.getByTestId('ep-test-latency').innerText(), /^\d+(\.\d+)? ms$/);

  // An edited body is what is sent.
  await panel.getByLabel('request body').fill('{"instances": [[10, 20, 30]]}');
  await panel.getByRole('button', { name: 'Send request' }).click();
  await panel.getByTestId('ep-test-body').filter({ hasText: '60' }).waitFor({ timeout: 15_000 });
  assert.deepEqual(JSON.parse(await panel.getByTestId('ep-test-body').innerText()).predictions, [60]);

  // A small load test: every response from the one revision, percentiles in order.
  await panel.getByLabel('requests').fill('40');
  await panel.getByLabel('concurrency').fill('4');
  await panel.getByRole('button', { name: 'Run load test' }).click();
  const load = panel.getByTestId('ep-load-result');
  await load.waitFor({ timeout: 60_000 });
  assert.match(await load.innerText(), /40 of 40 succeeded at concurrency 4/);
  assert.equal((await panel.getByTestId('ep-load-errors').innerText()).trim(), 'none');
  assert.match(await panel.getByTestId('ep-load-revisions').innerText(), new RegExp(`${NAME}-predictor-00001\\s+40\\s+100%`));
  const msOf = async (k: string) => Number((await panel.getByTestId(`ep-load-${k}`).innerText()).replace(/ ms$/, ''));
  const [p50, p95, p99] = [await msOf('p50'), await msOf('p95'), await msOf('p99')];
  assert.ok(p50 > 0 && p50 <= p95 && p95 <= p99, `p50 ${p50} ≤ p95 ${p95} ≤ p99 ${p99}`);
  await load.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(ARTIFACTS, 'endpoints-test-panel.png') });

  // A 10% canary with a new model: both revisions side by side, then the split measured, then promote.
  await detail.getByRole('tab', { name: 'Overview' }).click();
  const actions = detail.getByTestId('ep-actions');
  await actions.getByLabel('new storage uri').fill('pvc://models/iris-v2');
  await actions.getByLabel('canary percent').fill('10');
  await actions.getByRole('button', { name: 'Start canary…' }).click();
  assert.match(await page.getByTestId('ep-confirm').innerText(), /a new revision with model pvc:\/\/models\/iris-v2 receives 10% of the traffic; .*-00001 keeps 90%/);
  await page.getByTestId('ep-confirm').getByRole('button', { name: 'Confirm' }).click();
  const canaryRev = detail.getByTestId('ep-revision').filter({ hasText: `${NAME}-predictor-00002` });
  await canaryRev.locator('.badge-ok', { hasText: 'ready' }).waitFor({ timeout: 60_000 });
  assert.match(await canaryRev.innerText(), /10%/);
  assert.match(await detail.getByTestId('ep-revision').filter({ hasText: `${NAME}-predictor-00001` }).innerText(), /90%/);
  assert.match(await row.innerText(), /canary/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'endpoints-canary.png') });
  await detail.getByRole('tab', { name: 'Test' }).click();
  await panel.getByLabel('requests').fill('100');
  await panel.getByLabel('concurrency').fill('8');
  await panel.getByRole('button', { name: 'Run load test' }).click();
  await panel.getByTestId('ep-load-result').filter({ hasText: '100 of 100 succeeded' }).waitFor({ timeout: 60_000 });
  const split = await panel.getByTestId('ep-load-revisions').innerText();
  const canaryCount = Number(new RegExp(`${NAME}-predictor-00002\\s+(\\d+)`).exec(split)?.[1]);
  const stableCount = Number(new RegExp(`${NAME}-predictor-00001\\s+(\\d+)`).exec(split)?.[1]);
  assert.equal(canaryCount + stableCount, 100, split);
  assert.ok(canaryCount >= 5 && canaryCount <= 15, `about 10% to the canary: ${split}`);
  await detail.getByRole('tab', { name: 'Overview' }).click();
  await actions.getByRole('button', { name: 'Promote' }).click();
  assert.match(await page.getByTestId('ep-confirm').innerText(), /receives 100% of the traffic/);
  await page.getByTestId('ep-confirm').getByRole('button', { name: 'Confirm' }).click();
  await detail.getByTestId('ep-revision').filter({ hasText: `${NAME}-predictor-00002` }).filter({ hasText: '100%' }).waitFor({ timeout: 60_000 });
  await row.locator('.badge-ok', { hasText: 'ready' }).waitFor({ timeout: 30_000 });

  // Delete: the statement names what goes and that the model storage stays; then the row goes.
  await detail.getByRole('button', { name: 'Delete…' }).click();
  const del = page.getByTestId('ep-confirm');
  await del.filter({ hasText: /Stays:/ }).waitFor({ timeout: 15_000 });
  const statement = await del.innerText();
  assert.match(statement, new RegExp(`InferenceService ${NS}/${NAME}`));
  assert.match(statement, /Stays:.*models/);
  await del.getByRole('button', { name: 'Confirm' }).click();
  await row.waitFor({ state: 'detached', timeout: 30_000 });
  // The detail closes when the delete call returns (the watch can drop the row a moment sooner).
  await detail.waitFor({ state: 'detached', timeout: 30_000 });
  assert.match(await page.getByTestId('ep-notice').innerText(), /^deleted: .*Model storage stays/);
  await assert.rejects(admin.get(`${ISVC}/${NAME}`), 'the InferenceService is gone');
  assert.ok((await admin.get(`/api/v1/namespaces/${NS}/persistentvolumeclaims/models`)).metadata.name, 'the model PVC stays');

  // Core names the actions endpoint.* (checked for either spelling: the test asserts that they are recorded, not how they are named).
  const entries: string[] = [];
  for (const action of ['endpoint', 'endpoints']) entries.push(...(await s.core.audit!.query({ action })).entries.map((e) => `${e.action}:${e.outcome}`));
  assert.ok(entries.some((a) => /create:succeeded$/.test(a)), `audit: ${entries.join(', ')}`);
  for (const what of ['canary', 'promote', 'delete']) assert.ok(entries.some((a) => new RegExp(`${what}:succeeded$`).test(a)), `audit has ${what}: ${entries.join(', ')}`);
});

test('a viewer sees endpoints (a failing one with its reason) but every change is disabled with the missing permission named; RawDeployment offers an update (not a canary), which the admin runs', async () => {
  const raw = 'e2e-viewer-iris';
  await admin.request('DELETE', `${ISVC}/${raw}`).catch(() => undefined);
  await admin.create(ISVC, {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: raw, namespace: NS, annotations: { 'serving.kserve.io/deploymentMode': 'RawDeployment' } },
    spec: { predictor: { model: { modelFormat: { name: 'sklearn' }, storageUri: 'pvc://models/iris', resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '100m', memory: '256Mi' } } } } },
  });
  // And one no runtime can serve: it fails, and the list says why.
  const broken = 'e2e-no-runtime';
  await admin.request('DELETE', `${ISVC}/${broken}`).catch(() => undefined);
  await admin.create(ISVC, {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: broken, namespace: NS, annotations: { 'serving.kserve.io/deploymentMode': 'RawDeployment' } },
    spec: { predictor: { model: { modelFormat: { name: 'pmml' }, storageUri: 'pvc://models/pmml' } } },
  });
  const v = await openConsole({ kubeconfig: info.kubeconfigs.viewer, name: 'ep-viewer' });
  try {
    await connectFirstCluster(v);
    await v.page.getByRole('navigation').getByRole('button', { name: 'Endpoints' }).click();
    const row = v.page.getByTestId('ep-row').filter({ hasText: raw });
    await row.locator('.badge-ok', { hasText: 'ready' }).waitFor({ timeout: 60_000 });
    assert.match(await row.innerText(), /RawDeployment/);
    assert.match(await row.innerText(), /no split/);

    const failed = v.page.getByTestId('ep-row').filter({ hasText: broken });
    await failed.locator('.badge-bad', { hasText: 'failed' }).waitFor({ timeout: 30_000 });
    assert.match(await failed.getByTestId('ep-ready').innerText(), /NoSupportingRuntime/);
    await v.page.getByLabel('state filter').selectOption('failed');
    assert.equal(await v.page.getByTestId('ep-row').count(), 1, 'the state filter shows only the failed endpoint');
    await v.page.getByLabel('state filter').selectOption('');

    await row.click();
    const actions = v.page.getByTestId('ep-detail').getByTestId('ep-actions');
    await actions.waitFor({ timeout: 15_000 });
    assert.match(await actions.innerText(), /KServe has no canary or traffic split/);
    assert.equal(await actions.getByRole('button', { name: /canary/i }).count(), 0, 'no canary in RawDeployment');
    // Update is a PUT: the verb named is `update`, the one core checks (not `patch`).
    await actions.getByText(/Changes disabled: .*\bupdate\b/).waitFor({ timeout: 15_000 });
    await actions.getByLabel('new storage uri').fill('pvc://models/iris-v2');
    assert.equal(await actions.getByRole('button', { name: 'Update…' }).isDisabled(), true);
    assert.equal(await actions.getByRole('button', { name: 'Delete…' }).isDisabled(), true);
    assert.match(await actions.innerText(), /Delete disabled: .*delete/);
    await v.page.screenshot({ path: path.join(ARTIFACTS, 'endpoints-viewer-detail.png') });
    await v.page.getByTestId('ep-detail').getByRole('button', { name: 'close' }).click();

    // The create form says no before anything is submitted.
    await v.page.getByRole('button', { name: 'New endpoint' }).click();
    const form = v.page.getByTestId('ep-create');
    await form.getByLabel('namespace', { exact: true }).locator(`option[value="${NS}"]`).waitFor({ state: 'attached', timeout: 20_000 });
    await form.getByLabel('namespace', { exact: true }).selectOption(NS);
    const refused = v.page.getByTestId('ep-refused');
    await refused.waitFor({ timeout: 15_000 });
    assert.match(await refused.innerText(), new RegExp(`may not create InferenceServices in ${NS}: .*create`));
    assert.equal(await form.getByRole('button', { name: 'Create endpoint' }).isDisabled(), true);

    // The admin may: a plain update of the RawDeployment endpoint, gated on the new pods being Ready.
    await page.getByRole('navigation').getByRole('button', { name: 'Endpoints' }).click();
    await page.getByTestId('ep-row').filter({ hasText: raw }).click();
    const detail = page.getByTestId('ep-detail');
    const actions2 = detail.getByTestId('ep-actions');
    await actions2.getByLabel('new storage uri').fill('pvc://models/iris-v2');
    await actions2.getByRole('button', { name: 'Update…' }).click();
    assert.match(await page.getByTestId('ep-confirm').innerText(), /the old ones go only once the new ones are Ready/);
    // Records whether the first step showed while the update was still running (streamed, not listed at the end).
    await page.evaluate(`(() => {
      window.__epStepsWhileBusy = undefined;
      const obs = new MutationObserver(() => {
        if (!document.querySelector('[data-testid="ep-steps"] li')) return;
        const actions = document.querySelector('[data-testid="ep-actions"]');
        window.__epStepsWhileBusy = !!actions && /waiting for the new pods to be Ready/.test(actions.textContent || '');
        obs.disconnect();
      });
      obs.observe(document.body, { subtree: true, childList: true, characterData: true });
    })()`);
    await page.getByTestId('ep-confirm').getByRole('button', { name: 'Confirm' }).click();
    const steps = detail.getByTestId('ep-steps');
    await steps.waitFor({ timeout: 90_000 });
    assert.match(await steps.innerText(), /applied: generation 2/);
    await actions2.getByText('updated: the new pods are Ready and the old ones are gone').waitFor({ timeout: 15_000 });
    assert.equal(await page.evaluate('window.__epStepsWhileBusy'), true, 'the steps appear as the update runs, before it is over');
    assert.ok((await steps.locator('li').count()) >= 2, `every step is listed: ${await steps.innerText()}`);
    await detail.getByText('pvc://models/iris-v2', { exact: true }).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'endpoints-raw-update.png') });
    const updates = (await s.core.audit!.query({ action: 'endpoint.update' })).entries.map((e) => e.outcome);
    assert.ok(updates.includes('succeeded'), `audit has the update: ${updates.join(', ')}`);
  } finally {
    await v.close();
    await admin.request('DELETE', `${ISVC}/${raw}`).catch(() => undefined);
    await admin.request('DELETE', `${ISVC}/${broken}`).catch(() => undefined);
  }
});
