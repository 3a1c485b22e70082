import fs from 'node:fs/promises';
import path from 'node:path';
import { TesseraError, toErrorShape } from '../../../shared/contract/errors.ts';
import type { AccessCheck, ClusterSummary, KubeconfigSource } from '../../../shared/model/cluster.ts';
import type { Clock } from '../clock.ts';
import { ClusterConnection, type AccessRequest } from './cluster-connection.ts';
import { defaultKubeconfigFiles, readMergedKubeconfig } from './kubeconfig-files.ts';
import { parseKubeconfig, type ParsedKubeconfig } from './kubeconfig-parse.ts';
import { loginShellPath } from './login-shell-path.ts';
import { authKindOf, configWarnings, resolveContext } from './resolve-context.ts';

interface Source {
  info: KubeconfigSource;
  config?: ParsedKubeconfig;
}

export interface ClusterServiceOptions {
  clock: Clock;
  /** Explicit files (CLI --kubeconfig); replaces $KUBECONFIG and ~/.kube/config, as kubectl does. */
  kubeconfigFiles?: string[];
  /** Where imported kubeconfigs are kept; imports are refused without it. */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  pathEnv?: () => Promise<string>;
  execTimeoutMs?: number;
  /** How often connected clusters are probed (default 15 s). */
  healthIntervalMs?: number;
  /** Whether to ask API servers for gzip (settings.connection.gzip). */
  compression?: () => Promise<boolean>;
}

function slug(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'kubeconfig';
}

/** Every kubeconfig source, every context in them, and the connections the user opened. */
export class ClusterService {
  private sources: Source[] = [];
  private readonly connections = new Map<string, ClusterConnection>();
  private readonly listeners = new Set<(clusters: ClusterSummary[]) => void>();
  private notifyQueued = false;

  constructor(private readonly opts: ClusterServiceOptions) {}

  /** Loads sources; a broken source is recorded with its error and does not stop the others. */
  async load(): Promise<void> {
    const next: Source[] = [];
    if (this.opts.kubeconfigFiles?.length) {
      next.push(await this.loadSource({ id: 'cli', label: '--kubeconfig', kind: 'cli', files: this.opts.kubeconfigFiles }, false));
    } else {
      const d = defaultKubeconfigFiles(this.opts.env);
      next.push(await this.loadSource({ id: d.kind === 'environment' ? 'env' : 'default', label: d.kind === 'environment' ? '$KUBECONFIG' : '~/.kube/config', kind: d.kind, files: d.files }, true));
    }
    next.push(...(await this.loadImported()));
    this.sources = next;
    this.notify();
  }

  /** Throws the source's error: used by the CLI, where a broken kubeconfig must fail the command. */
  assertLoaded(): void {
    const broken = this.sources.find((s) => s.info.error);
    if (broken?.info.error) throw new TesseraError(broken.info.error.code, broken.info.error.message, broken.info.error.details);
  }

  listSources(): KubeconfigSource[] {
    return this.sources.map((s) => s.info);
  }

  list(): ClusterSummary[] {
    const out: ClusterSummary[] = [];
    for (const src of this.sources) {
      if (!src.config) continue;
      for (const name of src.config.contexts.keys()) out.push(this.summary(src, name));
    }
    return out;
  }

  get(id: string): ClusterSummary {
    const { src, context } = this.find(id);
    return this.summary(src, context);
  }

  async connect(id: string): Promise<ClusterSummary> {
    const { src, context } = this.find(id);
    let conn = this.connections.get(id);
    if (!conn) {
      const rc = resolveContext(src.config!, context);
      conn = new ClusterConnection(rc, {
          clock: this.opts.clock,
          pathEnv: this.opts.pathEnv ?? (() => loginShellPath(this.opts.env)),
          execTimeoutMs: this.opts.execTimeoutMs,
          healthIntervalMs: this.opts.healthIntervalMs,
          compression: this.opts.compression,
        }, () => this.notify());
      this.connections.set(id, conn);
    }
    if (conn.state === 'connected') return this.summary(src, context);
    await conn.connect();
    return this.summary(src, context);
  }

  disconnect(id: string): ClusterSummary {
    const { src, context } = this.find(id);
    const conn = this.connections.get(id);
    if (conn) {
      conn.disconnect();
      this.connections.delete(id);
    }
    this.notify();
    return this.summary(src, context);
  }

  disconnectAll(): void {
    for (const [id, conn] of this.connections) {
      conn.disconnect();
      this.connections.delete(id);
    }
  }

  /** The live connection for a cluster id, or a NOT_CONNECTED error naming it. */
  connection(id: string): ClusterConnection {
    const conn = this.connections.get(id);
    if (!conn || conn.state === 'disconnected' || conn.state === 'connecting') {
      this.find(id);
      throw new TesseraError('NOT_CONNECTED', `${id} is not connected; connect to it first`, { id });
    }
    return conn;
  }

  async canI(id: string, req: AccessRequest): Promise<AccessCheck> {
    return this.connection(id).canI(req);
  }

  /**
   * Imports a kubeconfig given as text. It is parsed and checked before
   * anything is written, so a bad file leaves the loaded configuration as it was.
   */
  async importKubeconfig(label: string, content: string): Promise<KubeconfigSource> {
    if (!this.opts.dataDir) throw new TesseraError('INTERNAL', 'this host has no data folder to keep imported kubeconfigs');
    const dir = path.join(this.opts.dataDir, 'kubeconfigs');
    const base = slug(label);
    let id = `import-${base}`;
    for (let i = 2; this.sources.some((s) => s.info.id === id); i++) id = `import-${base}-${i}`;
    const file = path.join(dir, `${id.slice('import-'.length)}.yaml`);
    const config = parseKubeconfig(content, label);
    if (config.contexts.size === 0) throw new TesseraError('KUBECONFIG_INVALID', `${label}: defines no contexts, so there is nothing to connect to`);
    for (const name of config.contexts.keys()) resolveContext(config, name);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp`;
    await fs.writeFile(tmp, content, { mode: 0o600 });
    await fs.rename(tmp, file);
    await fs.writeFile(`${file}.label`, label, { mode: 0o600 });
    const src: Source = { info: { id, label, kind: 'imported', files: [file] }, config: { ...config, file } };
    this.sources.push(src);
    this.notify();
    return src.info;
  }

  subscribe(listener: (clusters: ClusterSummary[]) => void): () => void {
    this.listeners.add(listener);
    listener(this.list());
    return () => this.listeners.delete(listener);
  }

  private async loadSource(info: KubeconfigSource, skipMissing: boolean): Promise<Source> {
    try {
      return { info, config: await readMergedKubeconfig(info.files, { skipMissing }) };
    } catch (err) {
      return { info: { ...info, error: toErrorShape(err) } };
    }
  }

  private async loadImported(): Promise<Source[]> {
    if (!this.opts.dataDir) return [];
    const dir = path.join(this.opts.dataDir, 'kubeconfigs');
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    const out: Source[] = [];
    for (const name of names.filter((n) => n.endsWith('.yaml')).sort()) {
      const file = path.join(dir, name);
      const label = await fs.readFile(`${file}.label`, 'utf8').catch(() => name);
      out.push(await this.loadSource({ id: `import-${name.slice(0, -5)}`, label, kind: 'imported', files: [file] }, false));
    }
    return out;
  }

  private find(id: string): { src: Source; context: string } {
    const slash = id.indexOf('/');
    const srcId = id.slice(0, slash);
    const context = id.slice(slash + 1);
    const src = this.sources.find((s) => s.info.id === srcId);
    if (!src) throw new TesseraError('CONTEXT_NOT_FOUND', `no kubeconfig source "${srcId}" (cluster id ${id})`, { id });
    if (!src.config) throw new TesseraError(src.info.error?.code ?? 'KUBECONFIG_INVALID', src.info.error?.message ?? `${src.info.label} could not be loaded`, { id });
    if (!src.config.contexts.has(context)) resolveContext(src.config, context);
    return { src, context };
  }

  private summary(src: Source, context: string): ClusterSummary {
    const id = `${src.info.id}/${context}`;
    const ctx = src.config!.contexts.get(context)!;
    const cluster = src.config!.clusters.get(ctx.cluster);
    const user = src.config!.users.get(ctx.user) ?? {};
    const conn = this.connections.get(id);
    const summary: ClusterSummary = {
      id,
      context,
      source: src.info.label,
      cluster: ctx.cluster,
      server: cluster?.server ?? '(undefined cluster)',
      user: ctx.user,
      namespace: ctx.namespace,
      authKind: authKindOf(user),
      isCurrent: src.config!.currentContext === context,
      warnings: cluster ? configWarnings({ cluster }) : [`cluster "${ctx.cluster}" is not defined in the kubeconfig`],
      state: conn?.state ?? 'disconnected',
    };
    if (conn?.health) summary.health = conn.health;
    if (conn?.features) summary.features = conn.features;
    if (conn?.error) summary.error = conn.error;
    if (conn?.nextRetryAt) summary.nextRetryAt = conn.nextRetryAt;
    return summary;
  }

  /** Coalesces bursts of changes (several connections changing at once) into one snapshot. */
  private notify(): void {
    if (this.notifyQueued || this.listeners.size === 0) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      const snapshot = this.list();
      for (const l of this.listeners) l(snapshot);
    });
  }
}
