// `rollouts.plan`: which nodes, in which stages, what each drain evicts, which
// PodDisruptionBudgets will block, what is skipped and why. Reads only.
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { EvictionPreview, PdbRisk, PlannedNode, RolloutPlan, RolloutRequest, SkippedNode } from '../../../shared/model/rollout.ts';
import { parseSelector, requestProblems, ROLLOUT_DEFAULTS, selectorMatches, splitStages } from '../../../shared/rollout/stages.ts';
import { evictable, listPdbs, nodeFacts, ownerOf, pdbSelects, type RawNode, type RawPod } from './node-facts.ts';
import { operatorManaged } from './executors/operator-executor.ts';
import type { RolloutApi } from './rollout-api.ts';
import { GPU_PRODUCT_LABEL } from '../nodes/whole-gpu-affinity.ts';

const ACTIVE_UPGRADE = new Set(['cordon-required', 'wait-for-jobs-required', 'pod-deletion-required', 'drain-required', 'node-maintenance-required', 'post-maintenance-required', 'pod-restart-required', 'validation-required', 'uncordon-required']);

export function assertValidRequest(req: RolloutRequest): void {
  const problems = requestProblems(req);
  if (problems.length) throw new TesseraError('INVALID_REQUEST', `the rollout request is not valid: ${problems.join('; ')}`, { problems });
}

async function targetNodes(api: RolloutApi, req: RolloutRequest): Promise<RawNode[]> {
  const all = (await api.json<{ items?: RawNode[] }>('/api/v1/nodes', { action: 'list nodes' })).items ?? [];
  const t = req.targets;
  if (t.nodes) {
    const byName = new Map(all.map((n) => [n.metadata.name, n]));
    const missing = t.nodes.filter((n) => !byName.has(n));
    if (missing.length) throw new TesseraError('NOT_FOUND', `no such node${missing.length > 1 ? 's' : ''} in ${req.id}: ${missing.join(', ')}`, { missing });
    return t.nodes.map((n) => byName.get(n)!);
  }
  const terms = t.selector !== undefined ? parseSelector(t.selector) : [{ key: GPU_PRODUCT_LABEL, op: '=' as const, value: t.pool! }];
  const picked = all.filter((n) => selectorMatches(terms, n.metadata.labels ?? {}));
  if (picked.length === 0) throw new TesseraError('NOT_FOUND', `no node of ${req.id} matches ${t.selector !== undefined ? `selector "${t.selector}"` : `pool "${t.pool}"`}`);
  return picked.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

export async function planRollout(api: RolloutApi, req: RolloutRequest): Promise<RolloutPlan> {
  assertValidRequest(req);
  const nodes = await targetNodes(api, req);
  const active = new URLSearchParams({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' });
  const [pods, pdbs] = await Promise.all([
    api.json<{ items?: RawPod[] }>(`/api/v1/pods?${active}`, { action: 'list pods' }).then((l) => l.items ?? []),
    listPdbs(api),
  ]);
  const names = new Set(nodes.map((n) => n.metadata.name));
  const podsByNode = new Map<string, RawPod[]>();
  for (const p of pods) {
    const n = p.spec?.nodeName;
    if (n && names.has(n) && evictable(p)) podsByNode.set(n, [...(podsByNode.get(n) ?? []), p]);
  }

  const planned: PlannedNode[] = [];
  const skipped: SkippedNode[] = [];
  const risks = new Map<string, PdbRisk>();
  for (const raw of nodes) {
    const f = nodeFacts(raw);
    if (!f.hasGpu) {
      skipped.push({ name: f.name, reason: 'no-gpu', detail: 'the node has no NVIDIA GPU' });
      continue;
    }
    if (req.executor.kind === 'gpu-operator' && !operatorManaged(raw)) {
      skipped.push({ name: f.name, reason: 'not-managed', detail: 'the GPU Operator does not run the driver here (no nvidia.com/gpu.deploy.driver label)' });
      continue;
    }
    if (f.version === req.driverVersion) {
      skipped.push({ name: f.name, reason: 'at-target', detail: `already at ${req.driverVersion}` });
      continue;
    }
    if (!f.ready) {
      skipped.push({ name: f.name, reason: 'not-ready', detail: 'the node is not Ready; fix it first, an upgrade would not be verifiable' });
      continue;
    }
    if (f.upgradeState && ACTIVE_UPGRADE.has(f.upgradeState)) {
      skipped.push({ name: f.name, reason: 'upgrade-in-progress', detail: `the GPU Operator is upgrading it (${f.upgradeState})` });
      continue;
    }
    const evictions: EvictionPreview[] = (podsByNode.get(f.name) ?? []).map((p) => {
      const covering = pdbs.filter((b) => pdbSelects(b, p));
      for (const b of covering) {
        if ((b.status?.disruptionsAllowed ?? 0) > 0) continue;
        const k = `${b.metadata.namespace}/${b.metadata.name}`;
        const r = risks.get(k) ?? { namespace: b.metadata.namespace, name: b.metadata.name, disruptionsAllowed: b.status?.disruptionsAllowed ?? 0, nodes: [] };
        if (!r.nodes.includes(f.name)) r.nodes.push(f.name);
        risks.set(k, r);
      }
      const owner = ownerOf(p);
      return { namespace: p.metadata.namespace, name: p.metadata.name, ...(owner ? { owner } : {}), pdbs: covering.map((b) => `${b.metadata.namespace}/${b.metadata.name}`) };
    });
    planned.push({ name: f.name, ...(f.version ? { currentVersion: f.version } : {}), ...(f.gpuCount !== undefined ? { gpuCount: f.gpuCount } : {}), cordoned: f.cordoned, ready: f.ready, ...(f.owner ? { driverOwner: f.owner } : {}), evictions });
  }

  const maxUnavailable = req.maxUnavailable ?? ROLLOUT_DEFAULTS.maxUnavailable;
  const stages = splitStages(
    planned.map((n) => n.name),
    { canary: req.canary ?? ROLLOUT_DEFAULTS.canary, stages: req.stages ?? [], maxUnavailable, tolerateFailures: req.tolerateFailures ?? ROLLOUT_DEFAULTS.tolerateFailures },
  );
  const warnings: string[] = [];
  if (planned.length === 0) warnings.push('nothing to do: every target node is skipped');
  if (risks.size) warnings.push(`${risks.size} PodDisruptionBudget(s) allow no disruption now; drains of ${[...new Set([...risks.values()].flatMap((r) => r.nodes))].join(', ')} will wait for them and fail after the drain timeout`);
  const versions = new Set(planned.map((n) => n.currentVersion ?? '?'));
  if (versions.size > 1) warnings.push(`target nodes run ${versions.size} different driver versions (${[...versions].join(', ')}); a rollback returns each to its own`);
  if (req.executor.kind === 'gpu-operator') {
    warnings.push('the GPU Operator executor holds every target node with nvidia.com/gpu-driver-upgrade.skip=true while it runs, and releases one node at a time');
  }

  return {
    cluster: req.id,
    driverVersion: req.driverVersion,
    executor: req.executor,
    stages,
    nodes: planned,
    skipped,
    blockingPdbs: [...risks.values()],
    cordoned: planned.filter((n) => n.cordoned).map((n) => n.name),
    warnings,
    pause: req.pause ?? { kind: 'none' },
    autoRollback: req.autoRollback ?? ROLLOUT_DEFAULTS.autoRollback,
    drainTimeoutSeconds: req.drainTimeoutSeconds ?? ROLLOUT_DEFAULTS.drainTimeoutSeconds,
    upgradeTimeoutSeconds: req.upgradeTimeoutSeconds ?? ROLLOUT_DEFAULTS.upgradeTimeoutSeconds,
    stallTimeoutSeconds: req.stallTimeoutSeconds ?? ROLLOUT_DEFAULTS.stallTimeoutSeconds,
    leaseSeconds: req.leaseSeconds ?? ROLLOUT_DEFAULTS.leaseSeconds,
  };
}
