import type { AccessCheck, ClusterSummary, KubeconfigSource } from '../model/cluster.ts';
import { method, stream } from './define.ts';
import { clusterId } from './ids.ts';
import { s } from './schema.ts';

export const clusterMethods = {
  'clusters.list': method<ClusterSummary[]>()(s.object({}), 'Every context from every kubeconfig source, with its connection state.'),
  'clusters.sources': method<KubeconfigSource[]>()(s.object({}), 'The kubeconfig files in use and any error loading them.'),
  'clusters.connect': method<ClusterSummary>()(s.object({ id: clusterId }), 'Connect to a context; fails with a specific reason.'),
  'clusters.disconnect': method<ClusterSummary>()(s.object({ id: clusterId }), 'Stop watching and health-checking a context.'),
  'clusters.import': method<KubeconfigSource>()(
    s.object({
      label: s.string({ min: 1, max: 120 }),
      content: s.string({ min: 1, max: 2_000_000 }),
    }),
    'Import a kubeconfig by content; it is checked fully before anything changes.',
  ),
  'clusters.canI': method<AccessCheck>()(
    s.object({
      id: clusterId,
      verb: s.literal('get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'),
      resource: s.string({ min: 1, max: 253 }),
      group: s.optional(s.string({ max: 253 })),
      subresource: s.optional(s.string({ max: 253 })),
      namespace: s.optional(s.string({ max: 253 })),
      name: s.optional(s.string({ max: 253 })),
    }),
    'SelfSubjectAccessReview, cached briefly.',
  ),
};

export const clusterStreams = {
  'clusters.watch': stream<ClusterSummary[]>()(s.object({}), 'Snapshots of every cluster whenever one changes.'),
};
