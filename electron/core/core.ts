import type { EventOf, MethodName, ParamsOf, ResultOf, StreamName, StreamParamsOf } from '../../shared/contract/index.ts';
import { systemClock, type Clock } from './clock.ts';
import { ClusterService } from './clusters/cluster-service.ts';
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
}

export interface Core {
  methods: MethodHandlers;
  streams: StreamHandlers;
  clusters: ClusterService;
  nodes: NodeService;
  dispose(): void;
}

/** Wires the domain services together; hosts only ever see `methods` and `streams`. */
export async function createCore(opts: CoreOptions): Promise<Core> {
  const clock = opts.clock ?? systemClock;
  const clusters = new ClusterService({ clock, kubeconfigFiles: opts.kubeconfigFiles, dataDir: opts.dataDir, env: opts.env });
  await clusters.load();
  const nodes = new NodeService(clusters, clock);

  const methods: MethodHandlers = {
    'app.info': async () => ({ name: 'Tessera', version: opts.version, host: opts.host, nodeVersion: process.versions.node }),
    'clusters.list': async () => clusters.list(),
    'clusters.sources': async () => clusters.listSources(),
    'clusters.connect': ({ id }) => clusters.connect(id),
    'clusters.disconnect': async ({ id }) => clusters.disconnect(id),
    'clusters.import': ({ label, content }) => clusters.importKubeconfig(label, content),
    'clusters.canI': ({ id, ...req }) => clusters.canI(id, req),
    'nodes.list': ({ id }) => nodes.list(id),
  };

  const streams: StreamHandlers = {
    'clusters.watch': (_params, emit) => clusters.subscribe(emit),
    'nodes.watch': ({ id }, emit) => nodes.watch(id, emit),
  };

  return {
    methods,
    streams,
    clusters,
    nodes,
    dispose() {
      nodes.stopAll();
      clusters.disconnectAll();
    },
  };
}
