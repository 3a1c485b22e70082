import type { ClusterService } from '../clusters/cluster-service.ts';
import type { Clock } from '../clock.ts';
import type { AuditInput } from '../../../shared/model/audit.ts';
import { RolloutDeltaEncoder } from '../../../shared/model/rollout-delta.ts';
import type { MethodHandlers, StreamHandlers } from '../core.ts';
import { RolloutService, type RolloutServiceOptions } from './rollout-service.ts';

type RolloutMethods = Pick<MethodHandlers, 'rollouts.plan' | 'rollouts.start' | 'rollouts.status' | 'rollouts.list' | 'rollouts.pause' | 'rollouts.resume' | 'rollouts.approve' | 'rollouts.abort' | 'rollouts.rollback'>;

/** The rollout service over the connected clusters, and its contract handlers. */
export function rolloutHandlers(clusters: ClusterService, clock: Clock, audit: (input: AuditInput) => Promise<unknown>, ssh: Pick<RolloutServiceOptions, 'hosts' | 'dataDir'> = {}): { service: RolloutService; methods: RolloutMethods; streams: Pick<StreamHandlers, 'rollouts.watch'> } {
  const service = new RolloutService({
    ...ssh,
    clock,
    audit,
    cluster: (id) => {
      const conn = clusters.connection(id);
      return { kubeConfig: () => conn.kubeConfig(), canI: (req) => conn.canI(req), userName: conn.rc.userName };
    },
  });
  return {
    service,
    methods: {
      'rollouts.plan': (p) => service.plan(p),
      'rollouts.start': (p) => service.start(p),
      'rollouts.status': ({ id, rollout }) => service.status(id, rollout),
      'rollouts.list': ({ id }) => service.list(id),
      'rollouts.pause': ({ id, rollout }) => service.pause(id, rollout),
      'rollouts.resume': ({ id, rollout }) => service.resume(id, rollout),
      'rollouts.approve': ({ id, rollout, stage }) => service.approve(id, rollout, stage),
      'rollouts.abort': ({ id, rollout }) => service.abort(id, rollout),
      'rollouts.rollback': ({ id, rollout }) => service.rollback(id, rollout),
    },
    streams: {
      'rollouts.watch': ({ id, rollout }, emit) => {
        const encoder = new RolloutDeltaEncoder();
        return service.watch(id, rollout, (s) => {
          const e = encoder.encode(s);
          if (e) emit(e);
        });
      },
    },
  };
}
