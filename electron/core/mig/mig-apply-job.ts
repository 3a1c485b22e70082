/**
 * One MIG apply through the GPU Operator: for each node, refuse or drain its
 * GPU pods, set `nvidia.com/mig.config`, then follow `nvidia.com/mig.config.state`
 * (pending, rebooting, success, failed) until allocatable shows the new
 * instances. At most `maxParallel` nodes are between "labelled" and a final
 * step at any moment; cancel starts no further node.
 */
import type { KubeAccess } from '../kube/kube-access.ts';
import { migModelFor } from '../../../shared/gpu/mig-geometry.ts';
import type { MigPartedEntry } from '../../../shared/gpu/mig-parted.ts';
import { expectedGpuResources, gpuResourcesMatch, singleStrategyProblem } from '../../../shared/gpu/mig-resources.ts';
import { readGpuLabels } from '../../../shared/gpu/labels.ts';
import { deriveNodeGpu } from '../../../shared/gpu/node-gpu.ts';
import type { MigApplyJob, MigNodeProgress, MigNodeStep } from '../../../shared/model/mig.ts';
import { parseCount } from '../../../shared/quantity.ts';
import { toErrorShape } from '../../../shared/contract/errors.ts';
import { kubeJson, kubeText } from '../kube/kube-http.ts';
import { drainGpuPods, gpuPodsOn, podName, setCordon } from './gpu-pods.ts';

export const MIG_CONFIG_LABEL = 'nvidia.com/mig.config';
export const MIG_STATE_LABEL = 'nvidia.com/mig.config.state';
const FINAL: ReadonlySet<MigNodeStep> = new Set(['succeeded', 'skipped', 'failed', 'timed-out', 'cancelled', 'refused']);
export const isFinal = (s: MigNodeStep) => FINAL.has(s);

interface RawNode {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status?: { allocatable?: Record<string, string>; capacity?: Record<string, string> };
}

export interface MigJobDeps {
  kubeConfig: () => Promise<KubeAccess>;
  /** The config per node name's target (a revert sets each node's own previous config). */
  configs: Record<string, MigPartedEntry[]>;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  pollMs?: number;
  onChange: () => void;
  onNodeDone: (p: MigNodeProgress) => void;
}

export interface MigJobSpec {
  applyId: string;
  cluster: string;
  targets: { node: string; config: string }[];
  maxParallel: number;
  drain: boolean;
  timeoutS: number;
}

function allocatableOf(n: RawNode): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(n.status?.allocatable ?? {})) if (k.startsWith('nvidia.com/')) out[k] = parseCount(v);
  return out;
}

export class MigApplyRun {
  readonly job: MigApplyJob;
  private readonly abort = new AbortController();

  constructor(
    private readonly spec: MigJobSpec,
    private readonly deps: MigJobDeps,
  ) {
    const at = new Date(deps.now()).toISOString();
    this.job = {
      applyId: spec.applyId,
      cluster: spec.cluster,
      startedAt: at,
      state: 'running',
      maxParallel: spec.maxParallel,
      drain: spec.drain,
      nodes: spec.targets.map((t) => ({ node: t.node, config: t.config, step: 'queued', since: at })),
    };
  }

  cancel(): void {
    this.abort.abort();
    for (const p of this.job.nodes) if (p.step === 'queued') this.set(p, 'cancelled', 'Cancelled before it started: the node was not touched.');
  }

  /** Runs to the end; never throws (failures are per node). */
  async run(): Promise<MigApplyJob> {
    const queue = [...this.job.nodes];
    const worker = async () => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        if (this.abort.signal.aborted || p.step !== 'queued') continue;
        try {
          await this.applyNode(p);
        } catch (err) {
          this.set(p, 'failed', toErrorShape(err).message);
        }
        this.deps.onNodeDone(p);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.spec.maxParallel, queue.length) }, worker));
    const steps = this.job.nodes.map((n) => n.step);
    this.job.state = steps.every((s) => s === 'succeeded' || s === 'skipped') ? 'succeeded' : this.abort.signal.aborted ? 'cancelled' : 'failed';
    this.job.finishedAt = new Date(this.deps.now()).toISOString();
    this.deps.onChange();
    return this.job;
  }

  private set(p: MigNodeProgress, step: MigNodeStep, message?: string, extra: Partial<MigNodeProgress> = {}): void {
    if (p.step !== step) p.since = new Date(this.deps.now()).toISOString();
    p.step = step;
    if (message !== undefined) p.message = message;
    Object.assign(p, extra);
    this.deps.onChange();
  }

  private async applyNode(p: MigNodeProgress): Promise<void> {
    const kc = await this.deps.kubeConfig();
    const node = await kubeJson<RawNode>(kc, `/api/v1/nodes/${p.node}`, { action: `read node ${p.node}` });
    const labels = node.metadata.labels ?? {};
    const before = labels[MIG_CONFIG_LABEL];
    if (before !== undefined) p.previousConfig = before;
    const facts = readGpuLabels(labels);
    const model = migModelFor(facts.model);
    if (!model) return this.set(p, 'refused', `${p.node} has no MIG-capable GPU (${facts.product ?? 'no GPU labels'}).`);
    const config = this.deps.configs[p.config];
    if (!config) return this.set(p, 'refused', `The MIG manager has no config named "${p.config}".`);
    // Physical GPUs, not gpu.count: under the single strategy GFD counts MIG devices there.
    const physical = deriveNodeGpu(labels, node.status?.allocatable ?? {}, node.status?.capacity ?? {}, [])?.count ?? 0;
    const single = singleStrategyProblem(config, model, physical, facts.migStrategy);
    if (single) return this.set(p, 'refused', single);
    // A MIG-INVALID node reports no usable count: then only the state label can be followed.
    const expected = physical ? expectedGpuResources(config, model, physical, facts.migStrategy) : undefined;
    if (before === p.config && labels[MIG_STATE_LABEL] === 'success' && (!expected || gpuResourcesMatch(expected, allocatableOf(node)))) {
      return this.set(p, 'skipped', `Already at ${p.config}.`);
    }

    if (before === p.config && labels[MIG_STATE_LABEL] === 'failed') {
      // The MIG manager acts on a change of the label only; writing the same value again does nothing.
      return this.set(p, 'refused', `${p.node} already names ${p.config} and its MIG manager reported "failed"; it acts only when the label changes. Return the node to another config first.`);
    }
    const pods = await gpuPodsOn(kc, p.node);
    let cordoned = false;
    if (pods.length > 0) {
      if (!this.spec.drain) {
        return this.set(p, 'refused', `${pods.length} GPU pod(s) run on ${p.node} and would lose their device: ${pods.map(podName).join(', ')}. Drain the node first.`, { pods });
      }
      this.set(p, 'draining', `Evicting ${pods.length} GPU pod(s).`, { pods });
      if (!node.spec?.unschedulable) {
        await setCordon(kc, p.node, true);
        cordoned = true;
      }
      const drained = await drainGpuPods(kc, p.node, this.deps.now() + this.spec.timeoutS * 1000, this.abort.signal, this.deps.sleep);
      if (!drained.ok) {
        if (cordoned) await setCordon(kc, p.node, false);
        return this.set(p, 'failed', `The drain did not finish: a PodDisruptionBudget (or a slow shutdown) kept ${drained.blocked.map(podName).join(', ')} on the node. Nothing was changed.`, { pods: drained.blocked });
      }
    }

    try {
      await this.reconfigure(kc, p, expected);
    } finally {
      if (cordoned) await setCordon(kc, p.node, false).catch(() => undefined);
    }
  }

  private async reconfigure(kc: KubeAccess, p: MigNodeProgress, expected: Record<string, number> | undefined): Promise<void> {
    const started = this.deps.now();
    await kubeJson(kc, `/api/v1/nodes/${p.node}`, {
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { [MIG_CONFIG_LABEL]: p.config } } },
      action: `set ${MIG_CONFIG_LABEL} on ${p.node}`,
    });
    this.set(p, 'labelled', `${MIG_CONFIG_LABEL}=${p.config} set; waiting for the MIG manager.`);
    let sawChange = false;
    const deadline = started + this.spec.timeoutS * 1000;
    for (;;) {
      await this.deps.sleep(this.deps.pollMs ?? 500);
      const node = await kubeJson<RawNode>(kc, `/api/v1/nodes/${p.node}`);
      const state = node.metadata.labels?.[MIG_STATE_LABEL];
      p.state = state;
      if (node.metadata.labels?.[MIG_CONFIG_LABEL] !== p.config) {
        return this.set(p, 'failed', `Someone else changed ${MIG_CONFIG_LABEL} on ${p.node} to "${node.metadata.labels?.[MIG_CONFIG_LABEL] ?? ''}" during the apply.`);
      }
      if (state === 'failed') {
        return this.set(p, 'failed', `The MIG manager reported "failed" for ${p.config}.`, { report: await this.nodeReport(kc, p.node, started) });
      }
      if (state === 'pending' || state === 'rebooting') {
        sawChange = true;
        this.set(p, state, `mig.config.state=${state}`);
      } else if (state === 'success' && (sawChange || this.deps.now() - started > 3000)) {
        if (!expected || gpuResourcesMatch(expected, allocatableOf(node))) return this.set(p, 'succeeded', `Applied ${p.config}; allocatable shows the new instances.`);
        this.set(p, 'waiting-allocatable', 'mig.config.state=success; waiting for the device plugin to advertise the new instances.');
      }
      if (this.deps.now() > deadline) {
        return this.set(p, 'timed-out', `No result after ${this.spec.timeoutS} s: the node still reports mig.config.state=${state ?? '(none)'}. The MIG manager may still finish; check the node or return it to its previous config.`, {
          report: await this.nodeReport(kc, p.node, started),
        });
      }
    }
  }

  /** What the node said: its recent events and the MIG manager's last log lines on it. */
  private async nodeReport(kc: KubeAccess, node: string, since: number): Promise<string[]> {
    const out: string[] = [];
    try {
      const ev = await kubeJson<{ items?: { reason?: string; message?: string; lastTimestamp?: string; eventTime?: string }[] }>(
        kc,
        `/api/v1/events?fieldSelector=${encodeURIComponent(`involvedObject.kind=Node,involvedObject.name=${node}`)}`,
      );
      for (const e of ev.items ?? []) {
        const at = Date.parse(e.lastTimestamp ?? e.eventTime ?? '');
        if (!Number.isFinite(at) || at >= since - 60_000) out.push(`event ${e.reason ?? ''}: ${e.message ?? ''}`.trim());
      }
      const pods = await kubeJson<{ items?: { metadata: { name: string; namespace: string } }[] }>(
        kc,
        `/api/v1/pods?labelSelector=${encodeURIComponent('app=nvidia-mig-manager')}&fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`,
      );
      const mm = pods.items?.[0];
      if (mm) {
        const log = await kubeText(kc, `/api/v1/namespaces/${mm.metadata.namespace}/pods/${mm.metadata.name}/log?tailLines=20`);
        out.push(...log.split('\n').filter(Boolean).map((l) => `mig-manager: ${l}`));
      }
    } catch (err) {
      out.push(`(could not read the node's report: ${toErrorShape(err).message})`);
    }
    return out;
  }
}
