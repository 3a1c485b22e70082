// A small driver rollout from the UI in Chromium: plan (stages, evictions),
// start, approve the stage after the canary, and watch the timeline reach
// success; screenshots of the plan and the timeline in test-results/.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { sharedTestbed, testbedClient, type Kube, type TestbedInfo } from '../testbed/index.ts';
import { ARTIFACTS, connectFirstCluster, openConsole, type ConsoleSession } from '../support/console.ts';
import { applyRolloutDelta, type RolloutWatchEvent } from '../../shared/model/rollout-delta.ts';
import type { RolloutState } from '../../shared/model/rollout.ts';

const POOL = 'NVIDIA-A100-SXM4-40GB';
// A version no node has yet, so a second run on the same test bed still has work to do.
const VERSION = `570.124.${10 + (Math.floor(Date.now() / 1000) % 80)}`;

let info: TestbedInfo;
let s: ConsoleSession;
let admin: Kube;

before(async () => {
  info = await sharedTestbed();
  admin = testbedClient(info);
  s = await openConsole({ kubeconfig: info.kubeconfigs.admin, name: 'rollout', viewport: { width: 1500, height: 1100 } });
});

after(async () => {
  await s?.close();
  admin?.close();
});

test('plan a rollout of one pool, start it, approve the next stage and watch the timeline reach success', async () => {
  await connectFirstCluster(s);
  const page = s.page;
  // What the rollout watch sends the page, read off the console's stream socket (opened before this test could listen).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const watchIds = new Set<string>();
  const watchEvents: { reset: boolean; bytes: number; wholeBytes: number }[] = [];
  const rebuilt = new Map<string, RolloutState>();
  cdp.on('Network.webSocketFrameSent', (e) => {
    const m = JSON.parse(e.response.payloadData) as { op?: string; id?: string; stream?: string };
    if (m.op === 'sub' && m.stream === 'rollouts.watch' && m.id) watchIds.add(m.id);
  });
  cdp.on('Network.webSocketFrameReceived', (e) => {
    const m = JSON.parse(e.response.payloadData) as { id?: string; event?: RolloutWatchEvent };
    if (!m.id || !watchIds.has(m.id) || !m.event) return;
    const state = applyRolloutDelta(rebuilt.get(m.id), m.event);
    rebuilt.set(m.id, state);
    watchEvents.push({ reset: 'reset' in m.event, bytes: e.response.payloadData.length, wholeBytes: JSON.stringify(state).length });
  });
  await page.getByRole('navigation').getByRole('button', { name: 'Driver rollouts' }).click();

  await page.getByTestId('rollout-name').fill('e2e a100-40');
  await page.getByTestId('rollout-pool').selectOption(POOL);
  await page.getByTestId('rollout-version').fill(VERSION);
  await page.getByTestId('rollout-stages').fill('100%');
  await page.getByTestId('rollout-pause').selectOption('approval');
  // Over SSH, this console has no host for these nodes (and no site recipes): the plan says so and Start stays off.
  await page.getByTestId('rollout-executor').selectOption('ssh');
  await page.getByTestId('rollout-plan').click();
  const blocker = page.getByTestId('rollout-blocker').first();
  await blocker.waitFor({ timeout: 20_000 });
  assert.match(await blocker.innerText(), /^Cannot start: .*(no SSH host for node|rollout-recipes\.json)/);
  assert.equal(await page.getByTestId('rollout-start').isDisabled(), true, 'Start is off while the plan has blockers');
  await page.screenshot({ path: path.join(ARTIFACTS, 'rollout-plan-ssh-blocked.png') });
  await page.getByTestId('rollout-executor').selectOption('gpu-operator');
  await page.getByTestId('rollout-plan').click();
  await page.getByTestId('rollout-blocker').first().waitFor({ state: 'detached', timeout: 20_000 });
  const plan = page.getByTestId('rollout-plan-view');
  await plan.waitFor({ timeout: 20_000 });
  assert.match(await plan.innerText(), new RegExp(`Plan: driver ${VERSION.replace(/\./g, '\\.')} on \\d+ node\\(s\\) in 2 stage\\(s\\)`));
  assert.match(await plan.innerText(), /0: canary/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'rollout-plan.png') });

  await page.getByTestId('rollout-start').click();
  await page.getByTestId('rollout-confirm').click();
  const view = page.getByTestId('rollout-view');
  await view.waitFor({ timeout: 20_000 });
  await page.getByTestId('rollout-approve').waitFor({ timeout: 90_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'rollout-timeline-canary.png') });
  // The canary is done before the next stage may start.
  const canaryRows = page.getByTestId('rollout-stage-0').locator('tr');
  assert.ok((await canaryRows.count()) >= 1);
  for (const row of await canaryRows.all()) assert.equal(await row.getAttribute('data-step'), 'done');
  assert.equal(await page.getByTestId('rollout-stage-1').locator('tr[data-step="done"]').count(), 0, 'stage 1 waits for approval');

  await page.getByTestId('rollout-approve').click();
  await page.waitForSelector('[data-testid="rollout-view"][data-phase="succeeded"]', { timeout: 180_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'rollout-timeline-done.png') });
  // The page followed the rollout from one whole copy per subscription, then changes only, each smaller than the
  // rollout it changed; rebuilt from the frames, the rollout is the one the page shows as done.
  const resets = watchEvents.filter((e) => e.reset);
  const changes = watchEvents.filter((e) => !e.reset);
  assert.ok(resets.length >= 1 && resets.length <= watchIds.size, `${resets.length} whole rollouts for ${watchIds.size} subscriptions`);
  assert.ok(changes.length >= 5, `${changes.length} changes`);
  assert.ok(changes.every((e) => e.bytes < e.wholeBytes), changes.map((e) => `${e.bytes}/${e.wholeBytes} B`).join(', '));
  const sum = (xs: { bytes: number }[]) => xs.reduce((a, e) => a + e.bytes, 0);
  assert.ok(sum(changes) * 2 < changes.reduce((a, e) => a + e.wholeBytes, 0), 'changes cost under half of whole copies');
  const last = [...rebuilt.values()].at(-1)!;
  assert.equal(last.phase, 'succeeded');
  assert.ok(last.nodes.length > 0 && last.nodes.every((n) => n.upgrade.step === 'done' && n.upgrade.toVersion === VERSION));

  // A node's gates and log open below the controls; the filter narrows every stage to what it keeps.
  const rows = page.getByTestId('rollout-timeline').locator('[data-step]');
  const total = await rows.count();
  const first = rows.first();
  const name = (await first.getAttribute('data-testid'))!.replace('rollout-node-', '');
  await first.click();
  const detail = page.getByTestId('rollout-node-detail');
  assert.match(await detail.innerText(), new RegExp(`${name}[\\s\\S]*upgrade to ${VERSION.replace(/\./g, '\\.')}: done`));
  assert.match(await detail.getByTestId('rollout-node-log-upgrade').innerText(), /upgrade-state=upgrade-done|upgrade-done/, 'the operator walk is in the node log');
  await page.screenshot({ path: path.join(ARTIFACTS, 'rollout-node-detail.png') });
  await page.getByTestId('rollout-filter').fill(name);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="rollout-timeline"] [data-step]').length === n, 1);
  await page.getByTestId('rollout-filter').fill('');
  await page.getByTestId('rollout-show').selectOption('failed');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="rollout-timeline"] [data-step]').length === 0);
  await page.getByTestId('rollout-show').selectOption('done');
  assert.equal(await rows.count(), total, 'every node is done');

  // The cluster agrees: every node of the pool reports the new driver and none is left cordoned by us.
  const nodes = await admin.get<{ items: { metadata: { name: string; labels: Record<string, string> }; spec: { unschedulable?: boolean } }[] }>('/api/v1/nodes', { labelSelector: `nvidia.com/gpu.product=${POOL}` });
  assert.ok(nodes.items.length >= 2);
  for (const n of nodes.items) {
    const v = n.metadata.labels['nvidia.com/cuda.driver-version.full'] ?? [n.metadata.labels['nvidia.com/cuda.driver.major'], n.metadata.labels['nvidia.com/cuda.driver.minor'], n.metadata.labels['nvidia.com/cuda.driver.rev']].join('.');
    assert.equal(v, VERSION, `${n.metadata.name} runs the new driver`);
    assert.notEqual(n.spec.unschedulable, true, `${n.metadata.name} is schedulable again`);
  }
});
