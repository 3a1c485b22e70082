// Fault injection registry. Each fault is one object; later work (MIG apply
// failures, driver upgrade failures, SSH host faults) registers more with
// registerFault(). Faults that need the simulator's cooperation write the
// fault-state file it re-reads every tick; others act through the API or on
// the processes directly. apply() waits until the fault is visible, so tests
// can assert right after it returns.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { waitForApiserver } from './controlplane.ts';
import { fleetSpec } from './fleet/catalog.ts';
import { updateFaults } from './fleet/fault-state.ts';
import { Kube, KubeError } from './kube.ts';
import { isAlive, sleep } from './processes.ts';
import { readInfo, withLock, type TestbedInfo } from './state.ts';
import { adminKube } from './status.ts';
import { restartProcess } from './supervise.ts';

export interface FaultContext {
  stateDir: string;
  info: TestbedInfo;
  kube: Kube;
  log: (m: string) => void;
}

export interface Fault {
  name: string;
  description: string;
  usage: string;
  /** Returns a one-line summary of what was done. */
  apply(ctx: FaultContext, args: string[]): Promise<string>;
  /**
   * Set by faults that act only on the SSH hosts (ssh-faults.ts): they also work
   * on an SSH-only bed (`up --nodes 0 --ssh-hosts M`), which has no API server,
   * and injectFault calls this instead of apply().
   */
  applyWithoutCluster?(ctx: Pick<FaultContext, 'stateDir' | 'log'>, args: string[]): Promise<string>;
}

const registry = new Map<string, Fault>();

export function registerFault(fault: Fault): void {
  if (registry.has(fault.name)) throw new Error(`fault ${fault.name} registered twice`);
  registry.set(fault.name, fault);
}

export const listFaults = (): Fault[] => [...registry.values()];
export const getFault = (name: string): Fault | undefined => registry.get(name);

export async function injectFault(stateDir: string, name: string, args: string[], log: (m: string) => void = () => {}): Promise<string> {
  const fault = registry.get(name);
  if (!fault) throw new Error(`unknown fault ${name}; known: ${[...registry.keys()].join(', ')}`);
  const withoutCluster = fault.applyWithoutCluster;
  if (withoutCluster) {
    if (!existsSync(stateDir)) throw new Error(`no test bed in ${stateDir}`);
    return withLock(stateDir, () => withoutCluster.call(fault, { stateDir, log }, args));
  }
  const info = readInfo(stateDir);
  if (!info) throw new Error(`no test bed in ${stateDir}`);
  // Serialised with up/down and other faults: they all rewrite files in the state dir.
  return withLock(stateDir, async () => {
    const kube = adminKube(stateDir);
    try {
      return await fault.apply({ stateDir, info, kube, log }, args);
    } finally {
      kube.close();
    }
  });
}

// ---- helpers -----------------------------------------------------------------

const now = () => new Date().toISOString();

function fleetNodes(ctx: FaultContext, names: string[]): string[] {
  if (names.length === 0) throw new Error('no node given');
  const known = new Set(fleetSpec(ctx.info.nodes).map((s) => s.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length) throw new Error(`not simulated nodes: ${unknown.join(', ')}`);
  return names;
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function readyStatus(kube: Kube, node: string): Promise<string | undefined> {
  try {
    const n = await kube.get(`/api/v1/nodes/${node}`);
    return n.status?.conditions?.find((c: { type: string }) => c.type === 'Ready')?.status;
  } catch (err) {
    if (err instanceof KubeError && err.status === 404) return undefined;
    throw err;
  }
}

// ---- built-in faults ---------------------------------------------------------

registerFault({
  name: 'node-notready',
  description: 'the kubelet stops heartbeating (Ready=Unknown), or with --runtime-down stays up but reports Ready=False',
  usage: 'node-notready [--runtime-down] [--message TEXT] <node...>',
  async apply(ctx, args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { 'runtime-down': { type: 'boolean' }, message: { type: 'string' } } });
    const nodes = fleetNodes(ctx, positionals);
    const ready = values['runtime-down'] ? 'False' : 'Unknown';
    updateFaults(ctx.stateDir, (f) => {
      for (const n of nodes) f.nodes[n] = { ready, message: values.message, since: now() };
    });
    for (const n of nodes) await until(`${n} Ready=${ready}`, 20_000, async () => (await readyStatus(ctx.kube, n)) === ready);
    return `Ready=${ready} on ${nodes.join(', ')}`;
  },
});

registerFault({
  name: 'node-ready',
  description: 'recover: restart the kubelet (re-registering a deleted Node) and report Ready=True again',
  usage: 'node-ready <node...>',
  async apply(ctx, args) {
    const nodes = fleetNodes(ctx, args);
    updateFaults(ctx.stateDir, (f) => {
      const restarts = (f.kubeletRestarts ?? {}) as Record<string, string>;
      for (const n of nodes) {
        delete f.nodes[n];
        delete f.deletedNodes[n];
        restarts[n] = now();
      }
      f.kubeletRestarts = restarts;
    });
    for (const n of nodes) await until(`${n} Ready=True`, 20_000, async () => (await readyStatus(ctx.kube, n)) === 'True');
    return `Ready=True on ${nodes.join(', ')}`;
  },
});

registerFault({
  name: 'pod-fail',
  description: 'the containers of a pod exit with an error and the pod goes Failed',
  usage: 'pod-fail [--exit-code N] [--reason TEXT] [--message TEXT] <namespace/pod...>',
  async apply(ctx, args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { 'exit-code': { type: 'string' }, reason: { type: 'string' }, message: { type: 'string' } },
    });
    if (positionals.length === 0) throw new Error('no pod given');
    const known = new Set(fleetSpec(ctx.info.nodes).map((s) => s.name));
    const targets: Array<{ key: string; uid: string }> = [];
    for (const key of positionals) {
      const [ns, name] = key.split('/');
      if (!ns || !name) throw new Error(`expected namespace/pod, got ${key}`);
      const pod = await ctx.kube.get(`/api/v1/namespaces/${ns}/pods/${name}`);
      if (!pod.spec.nodeName || !known.has(pod.spec.nodeName)) throw new Error(`${key} is not bound to a simulated node (yet)`);
      targets.push({ key, uid: pod.metadata.uid });
    }
    updateFaults(ctx.stateDir, (f) => {
      for (const t of targets) {
        f.failPods[t.key] = {
          uid: t.uid,
          exitCode: Number(values['exit-code'] ?? 1),
          reason: values.reason ?? 'Error',
          message: values.message,
          since: now(),
        };
      }
    });
    for (const t of targets) {
      const [ns, name] = t.key.split('/') as [string, string];
      await until(`${t.key} Failed`, 20_000, async () => (await ctx.kube.get(`/api/v1/namespaces/${ns}/pods/${name}`)).status?.phase === 'Failed');
    }
    return `Failed: ${positionals.join(', ')}`;
  },
});

registerFault({
  name: 'node-delete',
  description: 'the Node object is deleted; its kubelet stays silent until node-ready restarts it',
  usage: 'node-delete <node...>',
  async apply(ctx, args) {
    const nodes = fleetNodes(ctx, args);
    // Silence the kubelet first so it does not race the delete with a heartbeat.
    updateFaults(ctx.stateDir, (f) => {
      for (const n of nodes) f.deletedNodes[n] = now();
    });
    await sleep(1100);
    for (const n of nodes) {
      await ctx.kube.delete(`/api/v1/nodes/${n}`).catch((err) => {
        if (!(err instanceof KubeError && err.status === 404)) throw err;
      });
    }
    return `deleted ${nodes.join(', ')}`;
  },
});

registerFault({
  name: 'apiserver-restart',
  description: 'stop kube-apiserver and start it again with the same flags and port; open watches break',
  usage: 'apiserver-restart [--down-seconds S] [--grace-seconds S (default 3)] [--kill]',
  async apply(ctx, args) {
    const { values } = parseArgs({ args, options: { 'down-seconds': { type: 'string' }, 'grace-seconds': { type: 'string' }, kill: { type: 'boolean' } } });
    const downMs = Number(values['down-seconds'] ?? 0) * 1000;
    // A SIGTERMed apiserver stops listening at once but lingers while watch connections
    // stay open; like a kubelet restarting a static pod, we SIGKILL after a short grace.
    const graceMs = values.kill ? 0 : Number(values['grace-seconds'] ?? 3) * 1000;
    const t0 = performance.now();
    const pid = await restartProcess(ctx.stateDir, 'kube-apiserver', { downMs, graceMs, log: ctx.log });
    await waitForApiserver(ctx.kube, () => isAlive(pid));
    return `kube-apiserver restarted (pgid ${pid}), ready after ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  },
});
