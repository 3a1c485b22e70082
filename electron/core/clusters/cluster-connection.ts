import { TesseraError, toErrorShape, type ErrorShape } from '../../../shared/contract/errors.ts';
import type { AccessCheck, ClusterFeatures, ClusterHealth, ConnectionState } from '../../../shared/model/cluster.ts';
import type { KubeAccess } from '../kube/kube-access.ts';
import { kubeJson } from '../kube/kube-http.ts';
import type { Clock } from '../clock.ts';
import { buildKubeConfig, type ResolvedContext } from './resolve-context.ts';

export interface ConnectionOptions {
  clock: Clock;
  pathEnv: () => Promise<string>;
  execTimeoutMs?: number;
  probeTimeoutMs?: number;
  healthIntervalMs?: number;
  maxBackoffMs?: number;
  accessCacheMs?: number;
  /** Whether to ask API servers for gzip (settings.connection.gzip). */
  compression?: () => Promise<boolean>;
}

const FEATURE_GROUPS: Record<keyof ClusterFeatures, string> = {
  kserve: 'serving.kserve.io',
  volumeSnapshot: 'snapshot.storage.k8s.io',
  gpuOperator: 'nvidia.com',
  kubeflow: 'kubeflow.org',
};

/** Errors that will not fix themselves by retrying: stop and tell the user. */
const PERMANENT = new Set(['UNAUTHORIZED', 'TLS_UNTRUSTED', 'KUBECONFIG_INVALID', 'EXEC_PLUGIN_NOT_FOUND', 'FORBIDDEN']);

export interface AccessRequest {
  verb: string;
  resource: string;
  group?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/**
 * One connected context: its client configuration, health checks with
 * backoff, discovery of optional APIs, and a cached access-review helper.
 */
export class ClusterConnection {
  state: ConnectionState = 'disconnected';
  health?: ClusterHealth;
  features?: ClusterFeatures;
  error?: ErrorShape;
  nextRetryAt?: string;

  private built?: { kc: KubeAccess; expiresAt?: number };
  private timer?: ReturnType<typeof setTimeout>;
  private failures = 0;
  private readonly access = new Map<string, { at: number; result: AccessCheck }>();
  private readonly disconnectListeners = new Set<() => void>();
  private generation = 0;

  constructor(
    readonly rc: ResolvedContext,
    private readonly opts: ConnectionOptions,
    private readonly onChange: () => void,
  ) {}

  /** Connects, or throws the specific reason; a failed first connect is not retried on its own. */
  async connect(): Promise<void> {
    const gen = ++this.generation;
    this.setState('connecting');
    try {
      await this.probe();
      if (gen !== this.generation) return;
      this.failures = 0;
      this.setState('connected');
      void this.discover();
      this.schedule(this.opts.healthIntervalMs ?? 15_000);
    } catch (err) {
      if (gen !== this.generation) return;
      this.error = toErrorShape(err);
      this.setState('error');
      throw err;
    }
  }

  disconnect(): void {
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.built = undefined;
    this.health = undefined;
    this.error = undefined;
    this.nextRetryAt = undefined;
    this.access.clear();
    for (const l of [...this.disconnectListeners]) l();
    this.setState('disconnected');
  }

  onDisconnect(listener: () => void): () => void {
    this.disconnectListeners.add(listener);
    return () => this.disconnectListeners.delete(listener);
  }

  /** How to reach the cluster (for kube-http.ts), rebuilt when exec credentials are about to expire. */
  async kubeConfig(): Promise<KubeAccess> {
    if (this.state === 'disconnected') throw new TesseraError('NOT_CONNECTED', `${this.rc.context} is not connected`);
    const now = this.opts.clock.now();
    if (!this.built || (this.built.expiresAt !== undefined && this.built.expiresAt - now < 30_000)) {
      this.built = await buildKubeConfig(this.rc, { execTimeoutMs: this.opts.execTimeoutMs ?? 20_000, pathEnv: this.opts.pathEnv, ...(this.opts.compression ? { compression: this.opts.compression } : {}) });
    }
    return this.built.kc;
  }

  async canI(req: AccessRequest): Promise<AccessCheck> {
    const key = JSON.stringify(req);
    const now = this.opts.clock.now();
    const hit = this.access.get(key);
    if (hit && now - hit.at < (this.opts.accessCacheMs ?? 30_000)) return hit.result;
    const review = await kubeJson<{ status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string } }>(
      await this.kubeConfig(),
      '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      {
        method: 'POST',
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: req } },
        action: 'check permissions',
      },
    );
    const allowed = review.status?.allowed === true;
    const what = `${req.verb} ${req.group ? `${req.resource}.${req.group}` : req.resource}${req.subresource ? `/${req.subresource}` : ''}`;
    const where = req.namespace ? ` in namespace ${req.namespace}` : ' cluster-wide';
    const result: AccessCheck = {
      allowed,
      reason: allowed
        ? `allowed: ${what}${where}`
        : `user "${this.rc.userName}" may not ${what}${where}${review.status?.reason ? ` (${review.status.reason})` : ''}`,
    };
    this.access.set(key, { at: now, result });
    return result;
  }

  private async probe(): Promise<void> {
    const started = this.opts.clock.now();
    const kc = await this.kubeConfig().catch((err) => {
      this.built = undefined;
      throw err;
    });
    const version = await kubeJson<{ gitVersion?: string }>(kc, '/version', { timeoutMs: this.opts.probeTimeoutMs ?? 10_000, action: 'read the server version' });
    // /version is readable anonymously on many clusters; make sure the credentials themselves work.
    await kubeJson(kc, '/api', { timeoutMs: this.opts.probeTimeoutMs ?? 10_000, action: 'list API versions' });
    this.health = {
      reachable: true,
      latencyMs: Math.max(0, Math.round(this.opts.clock.now() - started)),
      serverVersion: version.gitVersion,
      checkedAt: new Date(this.opts.clock.now()).toISOString(),
    };
    this.error = undefined;
    this.nextRetryAt = undefined;
  }

  private async discover(): Promise<void> {
    try {
      const apis = await kubeJson<{ groups?: { name: string; versions?: { version: string }[] }[] }>(await this.kubeConfig(), '/apis', {
        action: 'discover API groups',
      });
      const byName = new Map((apis.groups ?? []).map((g) => [g.name, (g.versions ?? []).map((v) => v.version)]));
      const features = {} as ClusterFeatures;
      for (const [key, group] of Object.entries(FEATURE_GROUPS) as [keyof ClusterFeatures, string][]) features[key] = byName.get(group) ?? [];
      this.features = features;
      this.onChange();
    } catch {
      // Discovery is advisory; health checks report real connectivity problems.
    }
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    const gen = this.generation;
    this.timer = this.opts.clock.setTimeout(() => void this.check(gen), delayMs);
  }

  private async check(gen: number): Promise<void> {
    try {
      await this.probe();
      if (gen !== this.generation) return;
      const recovered = this.state !== 'connected';
      this.failures = 0;
      this.setState('connected');
      if (recovered) void this.discover();
      this.schedule(this.opts.healthIntervalMs ?? 15_000);
    } catch (err) {
      if (gen !== this.generation) return;
      this.error = toErrorShape(err);
      this.health = { reachable: false, checkedAt: new Date(this.opts.clock.now()).toISOString() };
      if (PERMANENT.has(this.error.code)) {
        this.setState('error');
        return;
      }
      this.failures++;
      const delay = Math.min(this.opts.maxBackoffMs ?? 30_000, 1000 * 2 ** Math.min(this.failures - 1, 10));
      this.nextRetryAt = new Date(this.opts.clock.now() + delay).toISOString();
      this.setState('reconnecting');
      this.schedule(delay);
    }
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.onChange();
  }
}
