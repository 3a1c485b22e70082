// A synthetic rollout state of n nodes, shaped like a real one late in its run
// (gates, XIDs, evictions, a rollback on every seventh node), for tests of how
// rollout state is stored.
import type { NodeProgress, PlannedNode, RolloutState } from '../../shared/model/rollout.ts';

export function fleetState(n: number, id = 'big-abc123'): RolloutState {
  const names = Array.from({ length: n }, (_, i) => `gpu-node-${String(i).padStart(5, '0')}.rack-${i % 40}.site.example`);
  const plan: PlannedNode[] = names.map((name, i) => ({
    name,
    currentVersion: '550.54.15',
    gpuCount: 8,
    cordoned: false,
    ready: true,
    driverOwner: 'default',
    evictions: Array.from({ length: 4 }, (_, j) => ({ namespace: `team-${i % 30}`, name: `train-${i}-${j}-abcde`, owner: `ReplicaSet/train-${i}-${j}`, pdbs: [`train-${j}-pdb`] })),
  }));
  const at = '2026-11-22T22:00:00.000Z';
  const nodes: NodeProgress[] = names.map((name, i) => ({
    name,
    stage: Math.min(3, Math.floor(i / (n / 4))),
    before: { version: '550.54.15', cordoned: false, gpuCount: 8, migConfig: 'all-disabled', migResources: { 'nvidia.com/gpu': '8' }, skipLabel: 'false' },
    upgrade: {
      toVersion: '570.86.10',
      step: i % 7 === 0 ? 'failed' : 'done',
      startedAt: at,
      stepAt: at,
      finishedAt: at,
      drains: 1,
      gates: (['driver-version', 'gpu-count', 'mig-layout', 'xid', 'ready'] as const).map((gate) => ({ gate, ok: true, detail: `${gate} as expected on all 8 GPUs` })),
      xidsBefore: Object.fromEntries(Array.from({ length: 8 }, (_, g) => [String(g), 0])),
      log: Array.from({ length: 16 }, (_, l) => `${at} line ${l} of this node's log`),
    },
    ...(i % 7 === 0 ? { rollback: { toVersion: '550.54.15', step: 'done' as const, drains: 1, log: ['rolled back'] } } : {}),
  }));
  return {
    id,
    name: 'driver 570',
    cluster: 'kc/admin',
    createdAt: at,
    createdBy: 'admin@ws',
    plan: {
      cluster: 'kc/admin',
      driverVersion: '570.86.10',
      executor: { kind: 'gpu-operator' },
      stages: [0, 1, 2, 3].map((k) => ({ index: k, label: k ? `stage ${k}` : 'canary', nodes: names.filter((_, i) => nodes[i]!.stage === k), maxUnavailable: 20, tolerateFailures: 0 })),
      nodes: plan,
      skipped: [],
      blockingPdbs: [],
      cordoned: [],
      warnings: [],
      pause: { kind: 'none' },
      autoRollback: true,
      drainTimeoutSeconds: 600,
      upgradeTimeoutSeconds: 1800,
      stallTimeoutSeconds: 600,
      leaseSeconds: 30,
    },
    phase: 'running',
    currentStage: 2,
    nodes,
    control: { approvedStages: [] },
    held: [],
    history: Array.from({ length: 400 }, (_, h) => ({ at, kind: 'node' as const, node: names[h % n], message: `step ${h}: verified driver 570.86.10, uncordoned` })),
    updatedAt: at,
  };
}
