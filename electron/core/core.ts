import { TesseraError } from '../../shared/contract/errors.ts';
import type { EventOf, MethodName, ParamsOf, ResultOf, StreamName, StreamParamsOf } from '../../shared/contract/index.ts';
import path from 'node:path';
import { AuditService } from './audit/audit-service.ts';
import { KubeEventMirror } from './audit/audit-event-mirror.ts';
import os from 'node:os';
import { systemClock, type Clock } from './clock.ts';
import { ClusterService } from './clusters/cluster-service.ts';
import { MetricsService, type MetricsOptions } from './metrics/metrics-service.ts';
import { NodeService } from './nodes/node-service.ts';
import { TerminalService } from './terminals/terminal-service.ts';
import { terminalSshFromHosts } from './terminals/ssh-targets.ts';
import { MigService } from './mig/mig-service.ts';
import { entriesFromContract } from './mig/mig-entries.ts';
import { migOverSsh } from './mig/mig-ssh-service.ts';
import { hostHandlers } from './hosts/host-handlers.ts';
import { HostService, type HostServiceOptions } from './hosts/host-service.ts';
import type { SecretStore } from './hosts/secrets.ts';
import { rolloutHandlers } from './rollouts/rollout-handlers.ts';
import { settingsHandlers } from './settings/settings-handlers.ts';
import { quotaShowbackHandlers } from './quotas/quota-handlers.ts';
import { SettingsService } from './settings/settings-service.ts';
import type { RolloutService } from './rollouts/rollout-service.ts';
import { workstationHandlers, type WsHostOptions } from './workstations/ws-handlers.ts';
import { endpointHandlers } from './endpoints/endpoint-handlers.ts';
import type { EndpointService } from './endpoints/endpoint-service.ts';
import type { WorkstationService } from './workstations/workstation-service.ts';

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
  /** Where remembered SSH secrets go: Electron's safeStorage; none in the headless host. */
  secretStore?: SecretStore;
  /** Test seams for SSH hosts (known_hosts files, home folder). */
  hosts?: Partial<Pick<HostServiceOptions, 'userKnownHostsFiles' | 'home' | 'agentSocket' | 'readyTimeoutMs'>>;
  /** Workstations: the host's browser opener for IDE forwards, and the idle policy watcher (console hosts only). */
  workstations?: WsHostOptions;
}

export interface Core {
  methods: MethodHandlers;
  streams: StreamHandlers;
  clusters: ClusterService;
  nodes: NodeService;
  metrics: MetricsService;
  mig: MigService;
  audit?: AuditService;
  hosts?: HostService;
  settings?: SettingsService;
  terminals: TerminalService;
  rollouts: RolloutService;
  workstations: WorkstationService;
  endpoints: EndpointService;
  /** Stops everything; resolves once what was being recorded (a terminal's close, the audit trail) is on disk, or after a few seconds. */
  dispose(): Promise<void>;
}

/** Wires the domain services together; hosts only ever see `methods` and `streams`. */
export async function createCore(opts: CoreOptions): Promise<Core> {
  const clock = opts.clock ?? systemClock;
  // Read per request, so a change in settings applies at once (settings is set below, before any cluster connects).
  const compression = async (): Promise<boolean> => (settings ? (await settings.get()).settings.connection.gzip : false);
  const clusters = new ClusterService({ clock, kubeconfigFiles: opts.kubeconfigFiles, dataDir: opts.dataDir, env: opts.env, compression });
  await clusters.load();
  const nodes = new NodeService(clusters, clock);
  const metrics = new MetricsService(clusters, clock, opts.metrics);
  // Audit entries become Kubernetes Events too when settings say so (read per entry; settings is set below).
  const eventMirror = new KubeEventMirror({
    enabled: async (): Promise<boolean> => (settings ? (await settings.get()).settings.audit.mirrorEvents : false),
    access: (id) => clusters.connection(id).kubeConfig(),
    host: os.hostname(),
  });
  const audit: AuditService | undefined = opts.dataDir
    ? new AuditService(path.join(opts.dataDir, 'audit'), clock, { mirror: eventMirror, onWarning: (m) => process.stderr.write(`tessera: audit: ${m}\n`) })
    : undefined;
  const mig = new MigService(clusters, clock, (input) => audit?.record(input) ?? Promise.resolve(undefined));
  const env = opts.env ?? process.env;
  const hosts = opts.dataDir
    ? new HostService({
        dataDir: opts.dataDir,
        version: opts.version,
        ...(opts.secretStore ? { secretStore: opts.secretStore } : {}),
        ...(env.SSH_AUTH_SOCK ? { agentSocket: env.SSH_AUTH_SOCK } : {}),
        ...opts.hosts,
        record: (input) => audit?.record(input) ?? Promise.resolve(undefined),
        listNodes: (id) => nodes.list(id),
      })
    : undefined;
  const hostApi = hostHandlers(hosts);
  const terminals = new TerminalService({ clock, clusters, ...(audit ? { audit } : {}), ...(hosts ? { ssh: terminalSshFromHosts(hosts) } : {}) });
  const rolloutApi = rolloutHandlers(clusters, clock, (input) => audit?.record(input) ?? Promise.resolve(undefined), { ...(hosts ? { hosts } : {}), ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) });
  const wsApi = workstationHandlers(clusters, nodes, clock, (input) => audit?.record(input) ?? Promise.resolve(undefined), opts.dataDir, {}, opts.workstations);
  const epApi = endpointHandlers(clusters, nodes, clock, (input) => audit?.record(input) ?? Promise.resolve(undefined));
  const settings = opts.dataDir ? new SettingsService({ dataDir: opts.dataDir, record: (input) => audit?.record(input) ?? Promise.resolve(undefined) }) : undefined;
  const quotaApi = quotaShowbackHandlers(clusters, (input) => audit?.record(input) ?? Promise.resolve(undefined), { ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), ...(settings ? { settings } : {}) });
  const noAudit = () => Promise.reject(new TesseraError('INTERNAL', 'this host keeps no audit trail (no data folder)'));

  const methods: MethodHandlers = {
    ...hostApi.methods,
    ...rolloutApi.methods,
    ...wsApi.methods,
    ...epApi.methods,
    ...settingsHandlers(settings),
    ...quotaApi.methods,
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
    'terminals.open': (req) => terminals.open(req),
    'terminals.input': async ({ id, data }) => terminals.input(id, data),
    'terminals.resize': async ({ id, cols, rows }) => terminals.resize(id, cols, rows),
    'terminals.close': async ({ id }) => terminals.close(id),
    'terminals.pods': ({ clusterId, namespace }) => terminals.pods(clusterId, namespace),
    'mig.configs': ({ id }) => mig.configs(id),
    'mig.check': ({ id, nodes, config }) => mig.check(id, nodes, config),
    'mig.saveConfig': ({ id, name, entries }) => mig.saveConfig(id, name, entriesFromContract(entries)),
    'mig.apply': (req) => mig.apply(req),
    'mig.cancel': async ({ applyId }) => mig.cancel(applyId),
    'mig.revert': ({ applyId, maxParallel }) => mig.revert(applyId, maxParallel),
    'mig.sshApply': ({ hostId, gpus, layout, model, force }) => migOverSsh(hosts, { hostId, gpus, layout, ...(model ? { model } : {}), ...(force ? { force } : {}) }, (input) => audit?.record(input) ?? Promise.resolve(undefined)),
    'mig.jobs': async ({ id }) => mig.jobs(id),
    'audit.query': (q) => (audit ? audit.query(q) : noAudit()),
    'audit.verify': async () => {
      if (!audit) return noAudit();
      const r = await audit.verify();
      return { ok: r.ok, entries: r.entries, files: r.files, ...(r.lastSeq !== undefined ? { lastSeq: r.lastSeq } : {}), ...(r.firstProblem ? { firstProblem: r.firstProblem } : {}) };
    },
  };

  const streams: StreamHandlers = {
    ...hostApi.streams,
    ...rolloutApi.streams,
    ...epApi.streams,
    'clusters.watch': (_params, emit) => clusters.subscribe(emit),
    'nodes.watch': ({ id }, emit) => nodes.watch(id, emit),
    'metrics.watch': ({ id }, emit) => metrics.watch(id, emit),
    'terminals.output': ({ id }, emit) => terminals.output(id, emit),
    'mig.watch': ({ id }, emit) => mig.watch(id, emit),
  };

  return {
    methods,
    streams,
    clusters,
    nodes,
    metrics,
    mig,
    ...(audit ? { audit } : {}),
    ...(hosts ? { hosts } : {}),
    ...(settings ? { settings } : {}),
    terminals,
    rollouts: rolloutApi.service,
    workstations: wsApi.service,
    endpoints: epApi.service,
    async dispose() {
      terminals.closeAll();
      wsApi.forwards.closeAll();
      wsApi.idle.stop();
      const closing = Promise.all([hosts?.close(), audit?.close()]).catch(() => undefined);
      nodes.stopAll();
      metrics.stopAll();
      quotaApi.showback?.stopAll();
      clusters.disconnectAll();
      let timer: ReturnType<typeof setTimeout> | undefined;
      // A stuck disk or SSH server must not keep the app from quitting.
      await Promise.race([closing, new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
    },
  };
}
