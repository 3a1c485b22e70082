import { TesseraError } from '../../shared/contract/errors.ts';
import type { EventOf, MethodName, ParamsOf, ResultOf, StreamName, StreamParamsOf } from '../../shared/contract/index.ts';
import path from 'node:path';
import { AuditService } from './audit/audit-service.ts';
import { systemClock, type Clock } from './clock.ts';
import { ClusterService } from './clusters/cluster-service.ts';
import { MetricsService, type MetricsOptions } from './metrics/metrics-service.ts';
import { NodeService } from './nodes/node-service.ts';

export type MethodHandlers = { [M in MethodName]: (params: ParamsOf<M>) => Promise<ResultOf<M>> };
export type StreamHandlers = { [S in StreamName]: (params: StreamParamsOf<S>, emit: (event: EventOf<S>) => void) => () => void };

export interface CoreOptions {
  host: 'electron' | 'headless';
  version: string;
  kubeconfigFiles?: string[];
  dataDir?: string;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  metrics?: MetricsOptions;
}

export interface Core {
  methods: MethodHandlers;
  streams: StreamHandlers;
  clusters: ClusterService;
  nodes: NodeService;
  metrics: MetricsService;
  audit?: AuditService;
  dispose(): void;
}

/** Wires the domain services together; hosts only ever see `methods` and `streams`. */
export async function createCore(opts: CoreOptions): Promise<Core> {
  const clock = opts.clock ?? systemClock;
  const clusters = new ClusterService({ clock, kubeconfigFiles: opts.kubeconfigFiles, dataDir: opts.dataDir, env: opts.env });
  await clusters.load();
  const nodes = new NodeService(clusters, clock);
  const metrics = new MetricsService(clusters, clock, opts.metrics);
  const audit = opts.dataDir ? new AuditService(path.join(opts.dataDir, 'audit'), clock) : undefined;
  const noAudit = () => Promise.reject(new TesseraError('INTERNAL', 'this host keeps no audit trail (no data folder)'));

  const methods: MethodHandlers = {
    'app.info': async () => ({ name: 'Tessera', version: opts.version, host: opts.host, nodeVersion: process.versions.node }),
    'clusters.list': async () => clusters.list(),
    'clusters.sources': async () => clusters.listSources(),
    'clusters.connect': ({ id }) => clusters.connect(id),
    'clusters.disconnect': async ({ id }) => clusters.disconnect(id),
    'clusters.import': async ({ label, content }) => {
      try {
        const src = await clusters.importKubeconfig(label, content);
        await audit?.record({ action: 'kubeconfig.import', outcome: 'succeeded', targets: [{ kind: 'KubeconfigSource', name: src.id }], params: { label, contexts: clusters.list().filter((c) => c.id.startsWith(`${src.id}/`)).map((c) => c.context) } });
        return src;
      } catch (err) {
        await audit?.record({ action: 'kubeconfig.import', outcome: 'failed', targets: [{ kind: 'KubeconfigSource', name: label }], params: { label }, error: err });
        throw err;
      }
    },
    'clusters.canI': ({ id, ...req }) => clusters.canI(id, req),
    'nodes.list': ({ id }) => nodes.list(id),
    'nodes.events': ({ id, name }) => nodes.events(id, name),
    'nodes.describe': ({ id, name }) => nodes.describe(id, name),
    'audit.query': (q) => (audit ? audit.query(q) : noAudit()),
    'audit.verify': async () => {
      if (!audit) return noAudit();
      const r = await audit.verify();
      return { ok: r.ok, entries: r.entries, files: r.files, ...(r.lastSeq !== undefined ? { lastSeq: r.lastSeq } : {}), ...(r.firstProblem ? { firstProblem: r.firstProblem } : {}) };
    },
  };

  const streams: StreamHandlers = {
    'clusters.watch': (_params, emit) => clusters.subscribe(emit),
    'nodes.watch': ({ id }, emit) => nodes.watch(id, emit),
    'metrics.watch': ({ id }, emit) => metrics.watch(id, emit),
  };

  return {
    methods,
    streams,
    clusters,
    nodes,
    metrics,
    ...(audit ? { audit } : {}),
    dispose() {
      nodes.stopAll();
      metrics.stopAll();
      clusters.disconnectAll();
      void audit?.close();
    },
  };
}
