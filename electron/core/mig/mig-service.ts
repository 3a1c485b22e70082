/**
 * MIG layouts through the GPU Operator: the configs it can apply, a preflight
 * (GPU pods that would lose their device, the permissions needed), saving a
 * custom layout into Tessera's own ConfigMap, and apply jobs followed node by
 * node. Every change goes into the audit trail.
 */
import { randomUUID } from 'node:crypto';
import { TesseraError } from '../../../shared/contract/errors.ts';
import { permissionName } from '../clusters/access-required.ts';
import { readGpuLabels } from '../../../shared/gpu/labels.ts';
import { migModelFor } from '../../../shared/gpu/mig-geometry.ts';
import { deriveNodeGpu } from '../../../shared/gpu/node-gpu.ts';
import { singleStrategyProblem } from '../../../shared/gpu/mig-resources.ts';
import type { MigPartedEntry } from '../../../shared/gpu/mig-parted.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import type { MigApplyJob, MigCheck, MigConfigSet, MigNodeCheck, MigPermission } from '../../../shared/model/mig.ts';
import type { Clock } from '../clock.ts';
import type { ClusterService } from '../clusters/cluster-service.ts';
import type { AccessRequest } from '../clusters/cluster-connection.ts';
import type { KubeAccess } from '../kube/kube-access.ts';
import { kubeJson } from '../kube/kube-http.ts';
import { gpuPodsOn } from './gpu-pods.ts';
import { MIG_CONFIG_LABEL, MIG_STATE_LABEL, MigApplyRun, isFinal } from './mig-apply-job.ts';
import { configSetOf, needsPolicyChange, OWN_MIG_CONFIGMAP, pointPolicyAtOwn, readMigConfigs, saveCustomConfig, type MigConfigState } from './mig-configs.ts';

export interface MigApplyRequest {
  id: string;
  nodes: string[];
  config: string;
  maxParallel: number;
  drain: boolean;
  pointPolicy: boolean;
  timeoutS?: number;
}

type Record_ = (input: AuditInput) => Promise<unknown>;

const DEFAULT_TIMEOUT_S = 600;
const KEEP_JOBS = 50;

export class MigService {
  private readonly runs = new Map<string, MigApplyRun>();
  private readonly watchers = new Map<string, Set<(jobs: MigApplyJob[]) => void>>();
  private readonly pending = new Set<string>();
  private readonly publishing = new Set<string>();

  constructor(
    private readonly clusters: ClusterService,
    private readonly clock: Clock,
    private readonly record: Record_,
    private readonly pollMs = 500,
  ) {}

  private kc(id: string): Promise<KubeAccess> {
    return this.clusters.connection(id).kubeConfig();
  }

  /**
   * Entries written while an apply runs on its own, with no caller to hand an error to. A failed
   * write is already reported loudly by the audit service; left unhandled it would end the process.
   */
  private recordInBackground(input: AuditInput): void {
    this.record(input).catch(() => undefined);
  }

  async configs(id: string): Promise<MigConfigSet> {
    return configSetOf(await readMigConfigs(await this.kc(id)));
  }

  private async permissions(id: string, st: MigConfigState, withPolicy: boolean, drain: boolean): Promise<(MigPermission & { permission: string })[]> {
    const checks: [string, AccessRequest][] = [
      ['label nodes (nvidia.com/mig.config)', { verb: 'patch', resource: 'nodes' }],
      [`write ConfigMap ${st.own.namespace}/${OWN_MIG_CONFIGMAP}`, { verb: st.own.exists ? 'update' : 'create', resource: 'configmaps', namespace: st.own.namespace }],
    ];
    if (withPolicy) checks.push(['point the ClusterPolicy at it', { verb: 'patch', resource: 'clusterpolicies', group: 'nvidia.com' }]);
    if (drain) checks.push(['evict GPU pods (drain)', { verb: 'create', resource: 'pods', subresource: 'eviction' }]);
    return Promise.all(checks.map(async ([what, req]) => ({ what, permission: permissionName(req), ...(await this.clusters.canI(id, req)) })));
  }

  async check(id: string, nodes: string[], config: string): Promise<MigCheck> {
    const kc = await this.kc(id);
    const st = await readMigConfigs(kc);
    const needsPolicy = needsPolicyChange(st, config);
    const checks = await Promise.all(nodes.map((n) => this.checkNode(kc, n, config, st)));
    return { nodes: checks, permissions: await this.permissions(id, st, needsPolicy, true), needsPolicyChange: needsPolicy, configs: configSetOf(st) };
  }

  private async checkNode(kc: KubeAccess, name: string, config: string, st: MigConfigState): Promise<MigNodeCheck> {
    let node: { metadata: { labels?: Record<string, string> }; spec?: { unschedulable?: boolean }; status?: { allocatable?: Record<string, string>; capacity?: Record<string, string> } };
    try {
      node = await kubeJson(kc, `/api/v1/nodes/${name}`, { action: `read node ${name}` });
    } catch (err) {
      return { node: name, unschedulable: false, pods: [], problems: [err instanceof Error ? err.message : String(err)] };
    }
    const labels = node.metadata.labels ?? {};
    const facts = readGpuLabels(labels);
    const problems: string[] = [];
    if (!facts.migCapable && !labels[MIG_CONFIG_LABEL]) problems.push(`${name} is not MIG-capable (${facts.product ?? 'no GPU labels'}).`);
    const cfg = st.configs[config];
    if (!cfg) problems.push(`The MIG manager has no config named "${config}".`);
    const model = migModelFor(facts.model);
    const physical = deriveNodeGpu(labels, node.status?.allocatable ?? {}, node.status?.capacity ?? {}, [])?.count ?? 0;
    const single = cfg && model ? singleStrategyProblem(cfg, model, physical, facts.migStrategy) : undefined;
    if (single) problems.push(single);
    const pods = await gpuPodsOn(kc, name);
    return {
      node: name,
      ...(facts.product ? { product: facts.product } : {}),
      ...(facts.model ? { model: facts.model } : {}),
      ...(labels[MIG_CONFIG_LABEL] ? { migConfig: labels[MIG_CONFIG_LABEL] } : {}),
      ...(labels[MIG_STATE_LABEL] ? { migConfigState: labels[MIG_STATE_LABEL] } : {}),
      unschedulable: node.spec?.unschedulable === true,
      pods,
      problems,
    };
  }

  async saveConfig(id: string, name: string, entries: MigPartedEntry[]): Promise<MigConfigSet> {
    const kc = await this.kc(id);
    const st = await readMigConfigs(kc);
    const denied = (await this.permissions(id, st, false, false)).filter((p) => !p.allowed && p.what.startsWith('write'));
    if (denied.length) throw new TesseraError('FORBIDDEN', `Cannot save the layout: ${denied.map((d) => d.reason).join('; ')}.`, { missing: denied.map((d) => d.permission) });
    const before = st.configs[name];
    try {
      await saveCustomConfig(kc, st, name, entries);
      await this.record({ action: 'mig.config.save', outcome: 'succeeded', cluster: id, targets: [{ kind: 'ConfigMap', namespace: st.own.namespace, name: OWN_MIG_CONFIGMAP }], params: { name, entries }, ...(before ? { before } : {}), after: entries });
    } catch (err) {
      await this.record({ action: 'mig.config.save', outcome: 'failed', cluster: id, targets: [{ kind: 'ConfigMap', namespace: st.own.namespace, name: OWN_MIG_CONFIGMAP }], params: { name, entries }, error: err });
      throw err;
    }
    return this.configs(id);
  }

  async apply(req: MigApplyRequest): Promise<MigApplyJob> {
    const nodes = [...new Set(req.nodes)];
    const busy = nodes.filter((n) => this.pending.has(`${req.id}\n${n}`));
    if (busy.length) throw new TesseraError('INVALID_REQUEST', `Another MIG apply is still working on ${busy.join(', ')}.`);
    const kc = await this.kc(req.id);
    const st = await readMigConfigs(kc);
    if (!st.configs[req.config]) throw new TesseraError('INVALID_REQUEST', `The MIG manager has no config named "${req.config}" (known: ${Object.keys(st.configs).sort().join(', ') || 'none'}).`);
    const needsPolicy = needsPolicyChange(st, req.config);
    if (needsPolicy && !req.pointPolicy) {
      throw new TesseraError('INVALID_REQUEST', `"${req.config}" is a custom config in ${st.own.namespace}/${OWN_MIG_CONFIGMAP}, but the MIG manager reads ${st.active.namespace}/${st.active.name}. Agree to point the ClusterPolicy at Tessera's ConfigMap first.`);
    }
    const denied = (await this.permissions(req.id, st, needsPolicy, req.drain)).filter((p) => !p.allowed && !p.what.startsWith('write'));
    if (denied.length) throw new TesseraError('FORBIDDEN', `Cannot apply: ${denied.map((d) => d.reason).join('; ')}.`, { missing: denied.map((d) => d.permission) });
    if (needsPolicy) {
      await pointPolicyAtOwn(kc, st);
      await this.record({ action: 'mig.policy.point', outcome: 'succeeded', cluster: req.id, targets: [{ kind: 'ClusterPolicy', name: st.clusterPolicy! }], before: { configMap: st.active.name }, after: { configMap: OWN_MIG_CONFIGMAP } });
    }
    return this.start(req.id, nodes.map((node) => ({ node, config: req.config })), st.configs, req);
  }

  private start(cluster: string, targets: { node: string; config: string }[], configs: Record<string, MigPartedEntry[]>, opts: { maxParallel: number; drain: boolean; timeoutS?: number }): MigApplyJob {
    const applyId = randomUUID().slice(0, 8);
    for (const t of targets) this.pending.add(`${cluster}\n${t.node}`);
    const run = new MigApplyRun(
      { applyId, cluster, targets, maxParallel: opts.maxParallel, drain: opts.drain, timeoutS: opts.timeoutS ?? DEFAULT_TIMEOUT_S },
      {
        kubeConfig: () => this.kc(cluster),
        configs,
        now: () => this.clock.now(),
        // A real timer, not the clock's unref'd one: an apply in flight must keep the CLI alive.
        sleep: (ms) => new Promise<void>((r) => setTimeout(r, ms)),
        pollMs: this.pollMs,
        onChange: () => this.publish(cluster),
        onNodeDone: (p) => {
          this.pending.delete(`${cluster}\n${p.node}`);
          this.recordInBackground({
            action: 'mig.apply.node',
            outcome: p.step === 'succeeded' || p.step === 'skipped' ? 'succeeded' : 'failed',
            cluster,
            correlationId: applyId,
            targets: [{ kind: 'Node', name: p.node }],
            before: { [MIG_CONFIG_LABEL]: p.previousConfig ?? null },
            after: { [MIG_CONFIG_LABEL]: p.config, step: p.step },
            ...(p.step === 'succeeded' || p.step === 'skipped' ? {} : { error: p.message ?? p.step }),
          });
        },
      },
    );
    this.runs.set(applyId, run);
    this.recordInBackground({ action: 'mig.apply', outcome: 'started', cluster, correlationId: applyId, targets: targets.map((t) => ({ kind: 'Node', name: t.node })), params: { targets, maxParallel: opts.maxParallel, drain: opts.drain, layout: configs[targets[0]?.config ?? ''] } });
    void run.run().then((job) => {
      for (const t of targets) this.pending.delete(`${cluster}\n${t.node}`);
      this.recordInBackground({ action: 'mig.apply', outcome: job.state === 'succeeded' ? 'succeeded' : job.state === 'cancelled' ? 'cancelled' : 'failed', cluster, correlationId: applyId, targets: targets.map((t) => ({ kind: 'Node', name: t.node })), after: job.nodes.map((n) => ({ node: n.node, step: n.step })) });
      this.prune();
    });
    this.publish(cluster);
    return run.job;
  }

  private runOf(applyId: string): MigApplyRun {
    const run = this.runs.get(applyId);
    if (!run) throw new TesseraError('NOT_FOUND', `No MIG apply ${applyId} in this console.`);
    return run;
  }

  cancel(applyId: string): MigApplyJob {
    const run = this.runOf(applyId);
    run.cancel();
    this.recordInBackground({ action: 'mig.apply.cancel', outcome: 'succeeded', cluster: run.job.cluster, correlationId: applyId });
    return run.job;
  }

  /** Returns failed and timed-out nodes to the config they had before. */
  async revert(applyId: string, maxParallel?: number): Promise<MigApplyJob> {
    const run = this.runOf(applyId);
    const targets = run.job.nodes.filter((n) => (n.step === 'failed' || n.step === 'timed-out') && n.previousConfig).map((n) => ({ node: n.node, config: n.previousConfig! }));
    if (targets.length === 0) throw new TesseraError('INVALID_REQUEST', 'No failed node of this apply has a previous config to return to.');
    if (targets.some((t) => this.pending.has(`${run.job.cluster}\n${t.node}`))) throw new TesseraError('INVALID_REQUEST', 'Some of these nodes are still being followed; wait for the apply to end.');
    const st = await readMigConfigs(await this.kc(run.job.cluster));
    // Permissions can change while a job runs (a role binding removed), so the revert checks again.
    const denied = (await this.permissions(run.job.cluster, st, false, run.job.drain)).filter((p) => !p.allowed && !p.what.startsWith('write'));
    if (denied.length) throw new TesseraError('FORBIDDEN', `Cannot revert: ${denied.map((d) => d.reason).join('; ')}.`, { missing: denied.map((d) => d.permission) });
    const missing = targets.filter((t) => !st.configs[t.config]);
    if (missing.length) throw new TesseraError('INVALID_REQUEST', `The previous config ${missing.map((m) => `"${m.config}" of ${m.node}`).join(', ')} no longer exists in the MIG manager's ConfigMap.`);
    return this.start(run.job.cluster, targets, st.configs, { maxParallel: maxParallel ?? run.job.maxParallel, drain: run.job.drain });
  }

  jobs(id?: string): MigApplyJob[] {
    return [...this.runs.values()].map((r) => r.job).filter((j) => !id || j.cluster === id).reverse();
  }

  watch(id: string, emit: (jobs: MigApplyJob[]) => void): () => void {
    let set = this.watchers.get(id);
    if (!set) this.watchers.set(id, (set = new Set()));
    set.add(emit);
    emit(this.jobs(id));
    return () => set.delete(emit);
  }

  /** At most every 200 ms per cluster: node steps can move in bursts. */
  private publish(cluster: string): void {
    if (this.publishing.has(cluster)) return;
    this.publishing.add(cluster);
    this.clock.setTimeout(() => {
      this.publishing.delete(cluster);
      const jobs = this.jobs(cluster).map((j) => structuredClone(j));
      for (const emit of this.watchers.get(cluster) ?? []) emit(jobs);
    }, 200);
  }

  private prune(): void {
    const done = [...this.runs.entries()].filter(([, r]) => r.job.nodes.every((n) => isFinal(n.step)));
    for (const [k] of done.slice(0, Math.max(0, this.runs.size - KEEP_JOBS))) this.runs.delete(k);
  }

  /** Waits for a job to end (CLI and tests). */
  async wait(applyId: string): Promise<MigApplyJob> {
    const run = this.runOf(applyId);
    while (run.job.state === 'running') await new Promise<void>((r) => setTimeout(r, 200));
    return run.job;
  }
}
