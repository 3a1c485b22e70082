// The simulated GPU Operator driver upgrade controller and the rollout faults,
// on a real API server: one ClusterPolicy version change with every GPU node
// but five skipped, so five walks run side by side (a clean one, upgrade-fail,
// pdb-block, no-return, and a node that was cordoned before it started); then
// drain is switched on with short timeouts so the blocked node fails as real.
// Everything is put back afterwards (policy, skip labels, nodes walked home).
// Run with TESSERA_TESTBED_STATE=/tmp/tb-<you> (24 nodes).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  clusterPolicyPath,
  fleetTruth,
  injectFault,
  INITIAL_UNSCHEDULABLE,
  KubeError,
  PDB_BLOCK_NAMESPACE,
  scrapeNode,
  sharedTestbed,
  testbedClient,
  testbedFleet,
  UPGRADE_SKIP_LABEL,
  UPGRADE_STATE_LABEL,
  type Kube,
  type NodeSpec,
  type TestbedInfo,
} from '../testbed/index.ts';

let info: TestbedInfo;
let admin: Kube;
let fleet: NodeSpec[];
let savedDriver: { version: string; upgradePolicy: unknown };
/** Skip labels as they were before the test, to put back. */
const savedSkip = new Map<string, string | null>();
const history = new Map<string, string[]>();
let stopWatch: (() => void) | undefined;
const NEW = `590.${10 + (Date.now() % 89)}.01`;
const nodes = { ok: '', fail: '', pdb: '', noReturn: '', cordoned: '' };
let evictedUids: string[] = [];
let stateDir = '';

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (history: ${JSON.stringify(Object.fromEntries(history))})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const getNode = (name: string) => admin.get(`/api/v1/nodes/${name}`);
const stateOf = (n: any): string => n.metadata.labels?.[UPGRADE_STATE_LABEL] ?? '';
const versionOf = (n: any): string | undefined => n.metadata.labels?.['nvidia.com/cuda.driver-version.full'];
const readyOf = (n: any): string | undefined => n.status?.conditions?.find((c: any) => c.type === 'Ready')?.status;
const gpuRequest = (p: any) => (p.spec.containers ?? []).some((c: any) => Object.keys(c.resources?.limits ?? {}).some((k) => /^nvidia\.com\/(gpu|mig-)/.test(k)));
const controlled = (p: any) => (p.metadata.ownerReferences ?? []).some((o: any) => o.controller);
const setLabels = (name: string, labels: Record<string, string | null>) => admin.patch(`/api/v1/nodes/${name}`, { metadata: { labels } });

before(async () => {
  info = await sharedTestbed();
  stateDir = info.stateDir;
  admin = testbedClient(info, 'admin');
  fleet = testbedFleet(info);
  const operatorNodes = fleet.filter((s) => s.gpu?.labels === 'both');
  const { items: allNodes } = await admin.get<{ items: any[] }>('/api/v1/nodes');
  const byName = new Map(allNodes.map((n) => [n.metadata.name as string, n]));
  const { items: pods } = await admin.get<{ items: any[] }>('/api/v1/pods');
  const gpuPods = pods.filter((p) => p.spec.nodeName && p.status?.phase === 'Running' && gpuRequest(p) && controlled(p));
  const usable = operatorNodes.filter((s) => {
    const n = byName.get(s.name);
    return n && !n.spec.unschedulable && readyOf(n) === 'True' && ['upgrade-done', ''].includes(stateOf(n));
  });
  const free = (name: string) => {
    const n = byName.get(name);
    const alloc = Object.entries<string>(n.status.allocatable).filter(([k]) => /^nvidia\.com\/(gpu|mig-)/.test(k));
    // Devices held, not pods: one pod may hold all eight GPUs of a node.
    const used = pods
      .filter((p) => p.spec.nodeName === name && !['Succeeded', 'Failed'].includes(p.status?.phase))
      .flatMap((p) => p.spec.containers ?? [])
      .flatMap((c: any) => Object.entries<string>(c.resources?.limits ?? {}).filter(([k]) => /^nvidia\.com\/(gpu|mig-)/.test(k)))
      .reduce((a: number, [, v]: [string, string]) => a + Number(v), 0);
    return alloc.reduce((a, [, v]) => a + Number(v), 0) - used;
  };
  const take = (pred: (s: NodeSpec) => boolean, what: string): string => {
    const s = usable.find((x) => !Object.values(nodes).includes(x.name) && pred(x));
    if (!s) throw new Error(`no node for ${what}`);
    return s.name;
  };
  nodes.ok = take((s) => gpuPods.some((p) => p.spec.nodeName === s.name), 'a clean upgrade (with a GPU pod to evict)');
  nodes.pdb = take((s) => free(s.name) >= 2 && s.gpu!.mig === undefined, 'pdb-block (free GPUs)');
  nodes.fail = take(() => true, 'upgrade-fail');
  nodes.noReturn = take(() => true, 'no-return');
  const cordoned = operatorNodes.find((s) => byName.get(s.name)?.spec.unschedulable && stateOf(byName.get(s.name)) === 'upgrade-done');
  nodes.cordoned = cordoned?.name ?? '';
  evictedUids = gpuPods.filter((p) => p.spec.nodeName === nodes.ok).map((p) => p.metadata.uid);

  // Every other operator node sits this one out, as a staged rollout keeps them.
  const inPlay = new Set(Object.values(nodes).filter(Boolean));
  for (const s of operatorNodes) {
    const n = byName.get(s.name);
    savedSkip.set(s.name, n?.metadata.labels?.[UPGRADE_SKIP_LABEL] ?? null);
    await setLabels(s.name, { [UPGRADE_SKIP_LABEL]: inPlay.has(s.name) ? null : 'true' });
  }

  const cp = await admin.get(clusterPolicyPath());
  savedDriver = { version: cp.spec.driver.version, upgradePolicy: cp.spec.driver.upgradePolicy };
  for (const n of inPlay) assert.notEqual(versionOf(byName.get(n)), NEW);

  // Record every state each node passes through (each is its own write, so the watch sees all of them).
  const list = await admin.get<{ metadata: { resourceVersion: string } }>('/api/v1/nodes', { limit: 1 });
  const handle = admin.watch('/api/v1/nodes', { resourceVersion: list.metadata.resourceVersion }, (e) => {
    if (e.type !== 'ADDED' && e.type !== 'MODIFIED') return;
    const name = e.object.metadata.name as string;
    if (!inPlay.has(name)) return;
    const h = history.get(name) ?? [];
    const s = stateOf(e.object);
    if (h[h.length - 1] !== s) h.push(s);
    history.set(name, h);
  });
  stopWatch = () => handle.close();

  await injectFault(stateDir, 'upgrade-fail', [nodes.fail]);
  await injectFault(stateDir, 'no-return', [nodes.noReturn]);
  const pdb = await injectFault(stateDir, 'pdb-block', [nodes.pdb]);
  assert.match(pdb, /allows 0 disruptions/);

  // The documented trigger, plus a policy that lets all five go at once.
  await admin.patch(clusterPolicyPath(), {
    spec: { driver: { version: NEW, upgradePolicy: { autoUpgrade: true, maxParallelUpgrades: 0, maxUnavailable: '100%', podDeletion: { timeoutSeconds: 300 } } } },
  });
});

after(async () => {
  stopWatch?.();
  if (!admin) return;
  const inPlay = Object.values(nodes).filter(Boolean);
  // One write: a policy without autoUpgrade for a moment would make the controller drop every state label.
  if (savedDriver) {
    await admin.patch(clusterPolicyPath(), [
      { op: 'replace', path: '/spec/driver/version', value: savedDriver.version },
      { op: 'replace', path: '/spec/driver/upgradePolicy', value: savedDriver.upgradePolicy },
    ], 'json');
  }
  await injectFault(stateDir, 'rollout-clear', [nodes.fail, nodes.noReturn, nodes.pdb].filter(Boolean)).catch((e) => console.error(e));
  // Skipped nodes went upgrade-required and would stay so (as with the real operator); put them back.
  for (const [name, skip] of savedSkip) {
    if (inPlay.includes(name)) continue;
    const n = await getNode(name);
    if (stateOf(n) === 'upgrade-required') await setLabels(name, { [UPGRADE_STATE_LABEL]: 'upgrade-done' });
    await setLabels(name, { [UPGRADE_SKIP_LABEL]: skip });
  }
  // Failed nodes retry when relabelled upgrade-required (gpu-operator#2549); the rest walk back by themselves.
  for (const name of [nodes.fail, nodes.pdb]) {
    if (name && stateOf(await getNode(name)) === 'upgrade-failed') await setLabels(name, { [UPGRADE_STATE_LABEL]: 'upgrade-required' });
  }
  await Promise.all(
    inPlay.map((name) =>
      waitFor(`${name} back to upgrade-done and schedulable`, async () => {
        const n = await getNode(name);
        return stateOf(n) === 'upgrade-done' && Boolean(n.spec.unschedulable) === (name === nodes.cordoned) && versionOf(n) !== NEW;
      }, 40_000).catch((e) => console.error(e.message)),
    ),
  );
  admin.close();
});

test('a node outside the skip label walks every state to upgrade-done; its GPU pods are evicted and its version changes only then', async () => {
  const n = await waitFor(`${nodes.ok} upgrade-done on ${NEW}`, async () => {
    const node = await getNode(nodes.ok);
    return stateOf(node) === 'upgrade-done' && versionOf(node) === NEW && node;
  });
  const walk = history.get(nodes.ok)!;
  assert.deepEqual(walk.slice(walk.indexOf('upgrade-required')), [
    'upgrade-required',
    'cordon-required',
    'wait-for-jobs-required',
    'pod-deletion-required',
    'pod-restart-required',
    'validation-required',
    'uncordon-required',
    'upgrade-done',
  ]);
  assert.equal(n.spec.unschedulable, undefined, 'uncordoned at the end');
  // Both label generations and the runtime the new driver supports.
  assert.equal(n.metadata.labels['nvidia.com/cuda.driver.major'], '590');
  assert.equal(n.metadata.labels['nvidia.com/cuda.driver-version.major'], '590');
  assert.equal(n.metadata.labels['nvidia.com/cuda.runtime-version.major'], '13');
  assert.ok(evictedUids.length > 0);
  const { items: after } = await admin.get<{ items: any[] }>('/api/v1/pods', { fieldSelector: `spec.nodeName=${nodes.ok}` });
  for (const uid of evictedUids) assert.ok(!after.some((p) => p.metadata.uid === uid), `GPU pod ${uid} evicted`);
  const truth = await waitFor('truth shows the new driver', async () => fleetTruth(stateDir)?.nodes[nodes.ok]?.driverVersion === NEW);
  assert.ok(truth);
  const spec = fleet.find((s) => s.name === nodes.ok)!;
  if (spec.gpu!.exporter.labels !== 'legacy') assert.match((await scrapeNode(spec)).body, new RegExp(`DCGM_FI_DRIVER_VERSION="${NEW.replace(/\./g, '\\.')}"`));
  // Skipped nodes are marked but never touched.
  const skipped = fleet.find((s) => s.gpu?.labels === 'both' && !Object.values(nodes).includes(s.name))!;
  const sk = await getNode(skipped.name);
  assert.equal(stateOf(sk), 'upgrade-required');
  assert.notEqual(versionOf(sk), NEW);
});

test('upgrade-fail: the walk ends in upgrade-failed, version unchanged, node left cordoned', async () => {
  const before = fleetTruth(stateDir)?.nodes[nodes.fail]?.driverVersion;
  const n = await waitFor(`${nodes.fail} upgrade-failed`, async () => {
    const node = await getNode(nodes.fail);
    return stateOf(node) === 'upgrade-failed' && node;
  });
  assert.notEqual(versionOf(n), NEW);
  assert.equal(versionOf(n), before);
  assert.equal(n.spec.unschedulable, true);
  assert.ok(history.get(nodes.fail)!.includes('pod-restart-required'));
  const ev = await admin.get<{ items: any[] }>('/api/v1/namespaces/default/events', { fieldSelector: `involvedObject.name=${nodes.fail}` });
  assert.ok(ev.items.some((e) => e.reason === 'GPUDriverUpgrade' && /failing/.test(e.message)), 'a Warning event says why');
});

test('pdb-block: evicting the blocked pod gets 429 and the node does not get past pod deletion', async () => {
  await waitFor(`${nodes.pdb} pod-deletion-required`, async () => stateOf(await getNode(nodes.pdb)) === 'pod-deletion-required');
  const { items } = await admin.get<{ items: any[] }>(`/api/v1/namespaces/${PDB_BLOCK_NAMESPACE}/pods`, { labelSelector: `app=pdb-block-${nodes.pdb}` });
  const pod = items[0];
  assert.ok(pod, 'the blocking pod exists');
  await assert.rejects(
    admin.create(`/api/v1/namespaces/${PDB_BLOCK_NAMESPACE}/pods/${pod.metadata.name}/eviction`, {
      apiVersion: 'policy/v1beta1',
      kind: 'Eviction',
      metadata: { name: pod.metadata.name, namespace: PDB_BLOCK_NAMESPACE },
    }),
    (err: unknown) => err instanceof KubeError && err.status === 429,
  );
  // The controller retries and reports; the node stays put (cordoned, old driver).
  await waitFor('an event naming the disruption budget', async () => {
    const ev = await admin.get<{ items: any[] }>('/api/v1/namespaces/default/events', { fieldSelector: `involvedObject.name=${nodes.pdb}` });
    return ev.items.some((e) => /disruption budget/.test(e.message) && e.message.includes(pod.metadata.name));
  });
  await new Promise((r) => setTimeout(r, 6000));
  const n = await getNode(nodes.pdb);
  assert.equal(stateOf(n), 'pod-deletion-required');
  assert.notEqual(versionOf(n), NEW);
  assert.equal(n.spec.unschedulable, true);
  const still = await admin.get(`/api/v1/namespaces/${PDB_BLOCK_NAMESPACE}/pods/${pod.metadata.name}`);
  assert.equal(still.metadata.uid, pod.metadata.uid);
  assert.equal(still.metadata.deletionTimestamp, undefined);
});

test('no-return: the node goes NotReady in pod-restart-required and stays there until node-ready', async () => {
  const n = await waitFor(`${nodes.noReturn} NotReady`, async () => {
    const node = await getNode(nodes.noReturn);
    return readyOf(node) !== 'True' && node;
  });
  assert.equal(readyOf(n), 'Unknown');
  assert.equal(stateOf(n), 'pod-restart-required');
  await new Promise((r) => setTimeout(r, 4000));
  const later = await getNode(nodes.noReturn);
  assert.equal(readyOf(later), 'Unknown');
  assert.equal(stateOf(later), 'pod-restart-required');
  assert.notEqual(versionOf(later), NEW);
  // A kubelet restart brings the host back; the driver then loads and the walk finishes.
  await injectFault(stateDir, 'node-ready', [nodes.noReturn]);
  const done = await waitFor(`${nodes.noReturn} upgrade-done after node-ready`, async () => {
    const node = await getNode(nodes.noReturn);
    return stateOf(node) === 'upgrade-done' && node;
  });
  assert.equal(versionOf(done), NEW);
  assert.equal(readyOf(done), 'True');
});

test('a node cordoned before its upgrade is upgraded and stays cordoned', async (t) => {
  if (!nodes.cordoned) return t.skip('no pre-cordoned operator node in this fleet');
  const n = await waitFor(`${nodes.cordoned} upgrade-done on ${NEW}`, async () => {
    const node = await getNode(nodes.cordoned);
    return stateOf(node) === 'upgrade-done' && versionOf(node) === NEW && node;
  });
  assert.equal(n.spec.unschedulable, true);
  assert.ok(!(INITIAL_UNSCHEDULABLE in (n.metadata.annotations ?? {})), 'the bookkeeping annotation is removed');
  assert.ok(!history.get(nodes.cordoned)!.includes('uncordon-required'));
});

test('pdb-block with drain on and short timeouts: pod deletion falls through to drain-required, and the failed drain to upgrade-failed', async () => {
  assert.equal(stateOf(await getNode(nodes.pdb)), 'pod-deletion-required');
  await admin.patch(clusterPolicyPath(), { spec: { driver: { upgradePolicy: { podDeletion: { timeoutSeconds: 2 }, drain: { enable: true, timeoutSeconds: 2 } } } } });
  const n = await waitFor(`${nodes.pdb} upgrade-failed`, async () => {
    const node = await getNode(nodes.pdb);
    return stateOf(node) === 'upgrade-failed' && node;
  }, 30_000);
  const walk = history.get(nodes.pdb)!;
  assert.deepEqual(walk.slice(walk.indexOf('pod-deletion-required')), ['pod-deletion-required', 'drain-required', 'upgrade-failed']);
  assert.notEqual(versionOf(n), NEW);
  assert.equal(n.spec.unschedulable, true);
  const ev = await admin.get<{ items: any[] }>('/api/v1/namespaces/default/events', { fieldSelector: `involvedObject.name=${nodes.pdb}` });
  assert.ok(ev.items.some((e) => /^Failed to drain the node: timed out/.test(e.message)), 'the failed drain is reported');
});
