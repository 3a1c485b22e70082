import type { RolloutWatchEvent } from '../model/rollout-delta.ts';
import type { RolloutPlan, RolloutState, RolloutSummary } from '../model/rollout.ts';
import { method, stream } from './define.ts';
import { clusterId, k8sName } from './ids.ts';
import { s } from './schema.ts';

/** Rollout ids as Tessera makes them: `<slug>-<6 hex>`. */
export const rolloutId = s.string({ min: 1, max: 40, pattern: /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/, patternHint: 'must be a rollout id such as driver-550-1a2b3c' });

const stageSize = s.object({ count: s.optional(s.number({ min: 1, max: 100_000, integer: true })), percent: s.optional(s.number({ min: 1, max: 100 })) });

const pause = s.object({ kind: s.literal('none', 'duration', 'approval'), seconds: s.optional(s.number({ min: 1, max: 7 * 24 * 3600, integer: true })) });

export const rolloutRequest = s.object({
  id: clusterId,
  name: s.optional(s.string({ min: 1, max: 60 })),
  targets: s.object({
    nodes: s.optional(s.array(k8sName, { max: 5000 })),
    selector: s.optional(s.string({ min: 1, max: 1000 })),
    pool: s.optional(s.string({ min: 1, max: 253, pattern: /^[A-Za-z0-9][-A-Za-z0-9_.]*$/, patternHint: 'must be a GPU product label value' })),
  }),
  driverVersion: s.string({ min: 1, max: 32 }),
  executor: s.object({ kind: s.literal('gpu-operator', 'ssh') }),
  canary: s.optional(s.number({ min: 0, max: 1000, integer: true })),
  stages: s.optional(s.array(stageSize, { max: 50 })),
  maxUnavailable: s.optional(s.number({ min: 1, max: 1000, integer: true })),
  pause: s.optional(pause),
  tolerateFailures: s.optional(s.number({ min: 0, max: 1000, integer: true })),
  autoRollback: s.optional(s.boolean()),
  drainTimeoutSeconds: s.optional(s.number({ min: 1, max: 86_400, integer: true })),
  upgradeTimeoutSeconds: s.optional(s.number({ min: 1, max: 86_400, integer: true })),
  stallTimeoutSeconds: s.optional(s.number({ min: 1, max: 86_400, integer: true })),
  leaseSeconds: s.optional(s.number({ min: 2, max: 3600, integer: true })),
});

const ref = s.object({ id: clusterId, rollout: rolloutId });

export interface RolloutStarted {
  rollout: RolloutState;
}

export const rolloutMethods = {
  'rollouts.plan': method<RolloutPlan>()(rolloutRequest, 'What a rollout would do: stages, evictions, blocking PDBs, skipped and cordoned nodes. Changes nothing.'),
  'rollouts.start': method<RolloutState>()(rolloutRequest, 'Plans, records and starts a rollout driven by this console (RBAC checked first).'),
  'rollouts.status': method<RolloutState>()(ref, 'The durable state of one rollout, with who drives it.'),
  'rollouts.list': method<RolloutSummary[]>()(s.object({ id: clusterId }), 'Every rollout recorded in the cluster, newest first.'),
  'rollouts.pause': method<RolloutState>()(ref, 'Stops starting new nodes; nodes in flight finish. Safe at any moment.'),
  'rollouts.resume': method<RolloutState>()(ref, 'Continues a paused rollout, or takes over one whose console is gone (its lease expired).'),
  'rollouts.approve': method<RolloutState>()(s.object({ id: clusterId, rollout: rolloutId, stage: s.number({ min: 0, max: 1000, integer: true }) }), 'Lets a stage that waits for approval start.'),
  'rollouts.abort': method<RolloutState>()(ref, 'Stops the rollout after the nodes in flight; nothing is rolled back.'),
  'rollouts.rollback': method<RolloutState>()(ref, 'Returns upgraded nodes to their recorded versions, newest stage first.'),
};

export const rolloutStreams = {
  'rollouts.watch': stream<RolloutWatchEvent>()(ref, 'Progress of one rollout, at most about once a second: the whole rollout first, then only the fields, nodes and history lines that changed (applyRolloutDelta rebuilds it).'),
};
