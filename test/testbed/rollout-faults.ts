// Driver rollout faults: a node whose upgrade fails, a node that never comes
// back from the driver reload, and a PodDisruptionBudget that blocks a node's
// GPU-pod eviction. The first two are read by the simulated upgrade controller
// (fleet/driver-upgrade.ts) from the fault-state file's `rollout` section when
// the node reaches pod-restart-required; pdb-block is made of real objects the
// API server and the disruption controller enforce.
import { fleetSpec, type NodeSpec } from './fleet/catalog.ts';
import type { RolloutFaults } from './fleet/driver-upgrade.ts';
import { updateFaults } from './fleet/fault-state.ts';
import { registerFault, type FaultContext } from './faults.ts';
import { Kube, KubeError } from './kube.ts';
import { nodeNetOf } from './node-network.ts';
import { sleep } from './processes.ts';
import { sshControl, SSH_HOST_NAME } from './ssh-hosts.ts';
import { readInfo } from './state.ts';
import { adminKube } from './status.ts';

/** Where pdb-block puts its Deployments and PodDisruptionBudgets. */
export const PDB_BLOCK_NAMESPACE = 'tessera-faults';
const PDB_BLOCK_LABEL = 'tessera.dev/fault';
const GPU_RESOURCE = /^nvidia\.com\/(gpu|mig-.+)$/;

const now = () => new Date().toISOString();
const blockName = (node: string) => `pdb-block-${node}`;

/** A node the GPU Operator upgrades: GPUs, and the operator's labels (not an old standalone GFD). */
function operatorNode(ctx: FaultContext, name: string | undefined): NodeSpec {
  if (!name) throw new Error('no node given');
  const spec = fleetSpec(ctx.info.nodes, { net: nodeNetOf(ctx.info) }).find((s) => s.name === name);
  if (!spec) throw new Error(`not a simulated node: ${name}`);
  if (!spec.gpu) throw new Error(`${name} has no GPUs, so no driver to upgrade`);
  if (spec.gpu.labels !== 'both') throw new Error(`${name} runs a standalone GFD, not the GPU Operator: its driver is not upgraded by the operator`);
  return spec;
}

function onlyNodes(args: string[]): string[] {
  const flags = args.filter((a) => a.startsWith('-'));
  if (flags.length) throw new Error(`unknown option ${flags[0]}`);
  if (args.length === 0) throw new Error('no node given');
  return args;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const ignore404 = (err: unknown) => {
  if (!(err instanceof KubeError && err.status === 404)) throw err;
};

function setRollout(stateDir: string, fn: (r: RolloutFaults) => void): void {
  updateFaults(stateDir, (f) => {
    const r = (f.rollout ?? {}) as RolloutFaults;
    fn(r);
    f.rollout = r;
  });
}

registerFault({
  name: 'upgrade-fail',
  description: "the node's next driver upgrade ends in upgrade-failed (the new driver pod crash-loops; version unchanged, node stays cordoned) until rollout-clear",
  usage: 'upgrade-fail <node...>',
  async apply(ctx, args) {
    const nodes = onlyNodes(args).map((n) => operatorNode(ctx, n).name);
    setRollout(ctx.stateDir, (r) => {
      r.upgradeFail ??= {};
      for (const n of nodes) r.upgradeFail[n] = now();
    });
    return `driver upgrades will fail on ${nodes.join(', ')}`;
  },
});

/**
 * no-return and rollout-clear take nodes, SSH hosts (host-N, `up --ssh-hosts M`) or both. An SSH-only bed has no API
 * server, so they run without a cluster when every argument is an SSH host and open one only for nodes.
 */
function withHosts(apply: (ctx: FaultContext, nodes: string[]) => Promise<string>, onHost: (stateDir: string, host: string) => Promise<string>) {
  return async (ctx: Pick<FaultContext, 'stateDir' | 'log'>, args: string[]): Promise<string> => {
    const all = onlyNodes(args);
    const hosts = all.filter((a) => SSH_HOST_NAME.test(a));
    const nodes = all.filter((a) => !SSH_HOST_NAME.test(a));
    const out: string[] = [];
    for (const h of hosts) out.push(await onHost(ctx.stateDir, h));
    if (nodes.length) {
      const info = readInfo(ctx.stateDir);
      if (!info) throw new Error(`no cluster in ${ctx.stateDir} for nodes ${nodes.join(', ')}`);
      const kube = adminKube(ctx.stateDir);
      try {
        out.push(await apply({ ...ctx, info, kube }, nodes));
      } finally {
        kube.close();
      }
    }
    return out.join('; ');
  };
}

async function noReturnNodes(ctx: FaultContext, args: string[]): Promise<string> {
  const nodes = onlyNodes(args).map((n) => operatorNode(ctx, n).name);
  setRollout(ctx.stateDir, (r) => {
    r.noReturn ??= {};
    for (const n of nodes) r.noReturn[n] = now();
  });
  return `${nodes.join(', ')} will not come back from a driver reload`;
}
const noReturn = withHosts(noReturnNodes, (stateDir, host) => sshControl(stateDir, { op: 'no-return', host, on: true }));

registerFault({
  name: 'no-return',
  description: 'a node: during its next driver pod restart it goes NotReady (kubelet silent) and never comes back; an SSH host (host-N): its next `systemctl reboot` never ends (port closed). Until node-ready or rollout-clear',
  usage: 'no-return <node or host-N...>',
  apply: (ctx, args) => noReturn(ctx, args),
  applyWithoutCluster: noReturn,
});

/** The first GPU resource (nvidia.com/gpu or a MIG profile) the node has a unit of free. */
async function freeGpuResource(kube: Kube, node: string): Promise<string> {
  const n = await kube.get(`/api/v1/nodes/${node}`);
  if (n.spec?.unschedulable) throw new Error(`${node} is cordoned: the blocking pod could not be placed there`);
  const alloc: Record<string, string> = n.status?.allocatable ?? {};
  const pods = await kube.get<{ items: any[] }>('/api/v1/pods', { fieldSelector: `spec.nodeName=${node}` });
  const used = new Map<string, number>();
  for (const p of pods.items) {
    if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    for (const c of p.spec.containers ?? []) {
      for (const [k, v] of Object.entries<string>(c.resources?.limits ?? c.resources?.requests ?? {})) if (GPU_RESOURCE.test(k)) used.set(k, (used.get(k) ?? 0) + Number(v));
    }
  }
  const free = Object.entries(alloc)
    .filter(([k]) => GPU_RESOURCE.test(k))
    .find(([k, v]) => Number(v) - (used.get(k) ?? 0) >= 1);
  if (!free) throw new Error(`${node} has no free GPU or MIG device for the blocking pod`);
  return free[0];
}

registerFault({
  name: 'pdb-block',
  description: `a Ready GPU pod on the node (Deployment ${PDB_BLOCK_NAMESPACE}/pdb-block-<node>) with a PodDisruptionBudget of maxUnavailable 0: evicting it gets 429, so the node's upgrade cannot get past pod deletion; until rollout-clear`,
  usage: 'pdb-block <node>',
  async apply(ctx, args) {
    const [nodeArg, ...rest] = onlyNodes(args);
    if (rest.length) throw new Error('pdb-block takes one node');
    const node = operatorNode(ctx, nodeArg).name;
    const name = blockName(node);
    const kube = ctx.kube;
    const ns = `/api/v1/namespaces/${PDB_BLOCK_NAMESPACE}`;
    const existing = await kube.get(`/apis/apps/v1/namespaces/${PDB_BLOCK_NAMESPACE}/deployments/${name}`).catch((err) => {
      ignore404(err);
      return undefined;
    });
    if (existing) throw new Error(`${node} already has a pdb-block (${PDB_BLOCK_NAMESPACE}/${name}); rollout-clear it first`);
    const resource = await freeGpuResource(kube, node);
    await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: PDB_BLOCK_NAMESPACE, labels: { [PDB_BLOCK_LABEL]: 'true' } } }).catch((err) => {
      if (!(err instanceof KubeError && err.status === 409)) throw err;
    });
    const labels = { app: name, [PDB_BLOCK_LABEL]: 'pdb-block' };
    await kube.create(`/apis/policy/v1beta1/namespaces/${PDB_BLOCK_NAMESPACE}/poddisruptionbudgets`, {
      apiVersion: 'policy/v1beta1',
      kind: 'PodDisruptionBudget',
      metadata: { name, labels },
      spec: { maxUnavailable: 0, selector: { matchLabels: { app: name } } },
    });
    await kube.create(`/apis/apps/v1/namespaces/${PDB_BLOCK_NAMESPACE}/deployments`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels, annotations: { 'tessera.dev/sim-idle': 'true' } },
          spec: {
            nodeSelector: { 'kubernetes.io/hostname': node },
            tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
            containers: [{ name: 'hold', image: 'registry.k8s.io/pause:3.2', resources: { limits: { [resource]: '1' }, requests: { [resource]: '1' } } }],
          },
        },
      },
    });
    setRollout(ctx.stateDir, (r) => {
      r.pdbBlock ??= {};
      r.pdbBlock[node] = { namespace: PDB_BLOCK_NAMESPACE, name, since: now() };
    });
    // The disruption controller counts the pod only once it is Ready; until then the PDB proves nothing.
    await until(`${PDB_BLOCK_NAMESPACE}/${name} Ready on ${node} and its PDB at disruptionsAllowed 0`, async () => {
      const pods = await kube.get<{ items: any[] }>(`${ns}/pods`, { labelSelector: `app=${name}` });
      const ready = pods.items.some((p) => p.spec.nodeName === node && p.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'));
      const pdb = await kube.get(`/apis/policy/v1beta1/namespaces/${PDB_BLOCK_NAMESPACE}/poddisruptionbudgets/${name}`);
      const st = pdb.status ?? {};
      return ready && st.observedGeneration >= pdb.metadata.generation && st.currentHealthy === 1 && st.expectedPods === 1 && st.disruptionsAllowed === 0;
    });
    return `${PDB_BLOCK_NAMESPACE}/${name} holds ${resource} on ${node}; its PodDisruptionBudget allows 0 disruptions`;
  },
});

async function clearNodes(ctx: FaultContext, args: string[]): Promise<string> {
  const nodes = onlyNodes(args).map((n) => operatorNode(ctx, n).name);
  let held: string[] = [];
  const blocks: Array<{ namespace: string; name: string }> = [];
  setRollout(ctx.stateDir, (r) => {
    held = nodes.filter((n) => r.noReturn?.[n]);
    for (const n of nodes) {
      delete r.upgradeFail?.[n];
      delete r.noReturn?.[n];
      const b = r.pdbBlock?.[n];
      if (b) blocks.push(b);
      delete r.pdbBlock?.[n];
    }
  });
  // Also whatever a previous run left behind without a fault entry.
  for (const n of nodes) if (!blocks.some((b) => b.name === blockName(n))) blocks.push({ namespace: PDB_BLOCK_NAMESPACE, name: blockName(n) });
  for (const b of blocks) {
    await ctx.kube.delete(`/apis/policy/v1beta1/namespaces/${b.namespace}/poddisruptionbudgets/${b.name}`).catch(ignore404);
    await ctx.kube
      .delete(`/apis/apps/v1/namespaces/${b.namespace}/deployments/${b.name}`, { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' })
      .catch(ignore404);
  }
  for (const b of blocks) {
    await until(`pods of ${b.namespace}/${b.name} gone`, async () => (await ctx.kube.get<{ items: unknown[] }>(`/api/v1/namespaces/${b.namespace}/pods`, { labelSelector: `app=${b.name}` })).items.length === 0);
  }
  for (const n of held) {
    // Only if the simulator actually took it down; a no-return that never fired leaves the node as it was.
    await until(`${n} Ready=True`, async () => {
      const node = await ctx.kube.get(`/api/v1/nodes/${n}`);
      return node.status?.conditions?.find((c: { type: string }) => c.type === 'Ready')?.status === 'True';
    });
  }
  return `rollout faults cleared on ${nodes.join(', ')}`;
}
const rolloutClear = withHosts(clearNodes, (stateDir, host) => sshControl(stateDir, { op: 'no-return', host, on: false }));

registerFault({
  name: 'rollout-clear',
  description: "recover: drop the node's upgrade-fail, no-return and pdb-block (a held node comes back Ready; a node in upgrade-failed then finishes its upgrade, as when a crash-looping driver pod finally loads); for an SSH host (host-N), drop no-return (a host held down comes back up)",
  usage: 'rollout-clear <node or host-N...>',
  apply: (ctx, args) => rolloutClear(ctx, args),
  applyWithoutCluster: rolloutClear,
});
