import type { KubeAccess } from '../kube/kube-access.ts';
import type { KubeAccess as KubeConfig } from '../kube/kube-access.ts';
import { TesseraError } from '../../../shared/contract/errors.ts';
import { kubeJson, kubeText, type KubeRequest } from '../kube/kube-http.ts';

/** The Kubernetes side of a rollout: one KubeConfig source and a request count (the benchmark reports requests per node). */
export class RolloutApi {
  requests = 0;
  /** Reads of a rollout with every node shard (status, a watch of a rollout driven elsewhere); the benchmark reports them. */
  wholeReads = 0;
  private policy?: Promise<string>;

  constructor(private readonly kubeConfig: () => Promise<KubeAccess>) {}

  async json<T = unknown>(path: string, req: KubeRequest = {}): Promise<T> {
    this.requests++;
    return kubeJson<T>(await this.kubeConfig(), path, req);
  }

  /** A text body (metrics through the API server's pod proxy). */
  async text(path: string, req: KubeRequest & { accept?: string } = {}): Promise<string> {
    this.requests++;
    return kubeText(await this.kubeConfig(), path, req);
  }

  /** The cluster's access for a list+watch (counted as two requests: the list, and the watch as one long GET). */
  async access(): Promise<KubeAccess> {
    this.requests += 2;
    return this.kubeConfig();
  }

  /** Like json(), but a 404 is undefined rather than an error. */
  async maybe<T = unknown>(path: string, req: KubeRequest = {}): Promise<T | undefined> {
    try {
      return await this.json<T>(path, req);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  mergePatch<T = unknown>(path: string, body: unknown, action: string): Promise<T> {
    return this.json<T>(path, { method: 'PATCH', body, contentType: 'application/merge-patch+json', action });
  }

  /** policy/v1 where the server has it (1.21+), policy/v1beta1 on older servers such as the 1.20 test bed. */
  policyVersion(): Promise<string> {
    this.policy ??= this.json<{ versions?: { version: string }[] }>('/apis/policy', { action: 'discover the policy API' }).then(
      (g) => ((g.versions ?? []).some((v) => v.version === 'v1') ? 'policy/v1' : 'policy/v1beta1'),
      () => 'policy/v1beta1',
    );
    return this.policy;
  }
}

/** The HTTP status a classified Kubernetes error carries, if any. */
export function statusOf(err: unknown): number | undefined {
  const s = (err as TesseraError)?.details?.status;
  return typeof s === 'number' ? s : undefined;
}

/** Kubernetes MicroTime wants six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
