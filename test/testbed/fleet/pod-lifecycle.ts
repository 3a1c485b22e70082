// The pod-facing half of the simulated kubelets: start bound pods, fail them on
// request, finish deletions. Writes go through the status subresource like a
// kubelet's, and nothing moves on a node whose kubelet is down.
import { Kube, KubeError } from '../kube.ts';
import { sleep } from '../processes.ts';
import type { FleetFaults, PodFault } from './fault-state.ts';
import type { Kubelets } from './kubelets.ts';
import { podKey, type Pod } from './pod-informer.ts';
import { runningStatus, terminatedStatus } from './pod-status.ts';

/** Pod annotations a test can set to steer the simulated kubelet. */
export const SIM_ANNOTATIONS = {
  fail: 'tessera.dev/sim-fail',
  startDelayMs: 'tessera.dev/sim-start-delay-ms',
  runMs: 'tessera.dev/sim-run-ms',
} as const;

const DEFAULT_START_DELAY_MS = 300;
const CONCURRENCY = 16;

export class PodLifecycle {
  private readonly queue = new Set<string>();
  private readonly inFlight = new Set<string>();
  private readonly nextIp = new Map<string, number>();
  private readonly ips = new Map<string, string>();
  private active = 0;
  private faults: FleetFaults = { nodes: {}, deletedNodes: {}, failPods: {} };

  constructor(
    private readonly kube: Kube,
    private readonly kubelets: Kubelets,
    private readonly pods: () => Map<string, Pod>,
    private readonly log: (m: string) => void,
  ) {}

  setFaults(f: FleetFaults): void {
    const before = this.faults.failPods;
    this.faults = f;
    for (const key of Object.keys(f.failPods)) if (!before[key]) this.enqueue(key);
  }

  onPodChange(pod: Pod, deleted: boolean): void {
    const key = podKey(pod);
    if (deleted) {
      this.ips.delete(pod.metadata.uid);
      return;
    }
    if (pod.spec.nodeName && this.kubelets.has(pod.spec.nodeName)) this.enqueue(key);
  }

  onNodeReady(node: string): void {
    for (const [key, pod] of this.pods()) if (pod.spec.nodeName === node) this.enqueue(key);
  }

  private enqueue(key: string): void {
    this.queue.add(key);
    this.pump();
  }

  private pump(): void {
    while (this.active < CONCURRENCY) {
      const key = [...this.queue].find((k) => !this.inFlight.has(k));
      if (!key) return;
      this.queue.delete(key);
      this.inFlight.add(key);
      this.active++;
      this.sync(key)
        .catch((err) => {
          // Gone, or recreated under the same name (uid mismatch): the watch brings the new state.
          if (err instanceof KubeError && (err.status === 404 || err.status === 409)) return;
          if (err instanceof KubeError && err.status === 422) {
            this.log(`pod ${key}: ${err.message}`);
            return;
          }
          this.log(`pod ${key}: ${err instanceof Error ? err.message : String(err)}`);
          // Transient (API server restarting): try again shortly.
          setTimeout(() => this.enqueue(key), 1000).unref();
        })
        .finally(() => {
          this.active--;
          this.inFlight.delete(key);
          this.pump();
        });
    }
  }

  private async sync(key: string): Promise<void> {
    let pod = this.pods().get(key);
    const node = pod?.spec.nodeName;
    if (!pod || !node || !this.kubelets.has(node)) return;
    if (!this.kubelets.isReady(node)) return; // kubelet down: the pod stays exactly as it is

    if (pod.metadata.deletionTimestamp) {
      // Containers are "stopped" instantly; the kubelet then removes the object with grace 0.
      await this.kube.delete(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata.uid },
      });
      return;
    }

    const phase = pod.status?.phase ?? 'Pending';
    if (phase === 'Failed' || phase === 'Succeeded') return;

    const fault = this.failRequest(pod);
    if (fault) {
      await this.writeStatus(pod, terminatedStatus(pod, this.hostIp(node), this.podIp(pod), fault));
      this.log(`pod ${key}: Failed (${fault.reason})`);
      return;
    }

    if (phase === 'Pending') {
      const delay = Number(pod.metadata.annotations?.[SIM_ANNOTATIONS.startDelayMs] ?? DEFAULT_START_DELAY_MS);
      if (delay > 0) await sleep(delay);
      pod = this.pods().get(key);
      if (!pod || pod.metadata.deletionTimestamp || !this.kubelets.isReady(node) || (pod.status?.phase ?? 'Pending') !== 'Pending') {
        if (pod) this.enqueue(key);
        return;
      }
      await this.writeStatus(pod, runningStatus(pod, this.hostIp(node), this.podIp(pod)));
      this.scheduleCompletion(pod);
    }
  }

  private failRequest(pod: Pod): Omit<PodFault, 'uid' | 'since'> | undefined {
    const f = this.faults.failPods[podKey(pod)];
    if (f && f.uid === pod.metadata.uid) return f;
    if (pod.metadata.annotations?.[SIM_ANNOTATIONS.fail] === 'true') {
      return { exitCode: 1, reason: 'Error', message: 'failed on request (tessera.dev/sim-fail annotation)' };
    }
    return undefined;
  }

  /** Pods that ask for it (Jobs) complete after sim-run-ms; restartPolicy Always pods never do. */
  private scheduleCompletion(pod: Pod): void {
    const runMs = Number(pod.metadata.annotations?.[SIM_ANNOTATIONS.runMs] ?? NaN);
    if (!Number.isFinite(runMs) || pod.spec.restartPolicy === 'Always' || pod.spec.restartPolicy === undefined) return;
    const key = podKey(pod);
    setTimeout(async () => {
      const cur = this.pods().get(key);
      const node = cur?.spec.nodeName;
      if (!cur || cur.metadata.uid !== pod.metadata.uid || !node || !this.kubelets.isReady(node) || cur.status?.phase !== 'Running') return;
      await this.writeStatus(cur, terminatedStatus(cur, this.hostIp(node), this.podIp(cur), { exitCode: 0, reason: 'Completed' })).catch((err) =>
        this.log(`pod ${key}: completion failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    }, runMs).unref();
  }

  private writeStatus(pod: Pod, status: Record<string, unknown>): Promise<unknown> {
    // Merge patch replaces the condition and container-status lists wholesale, as a kubelet's full status update does.
    return this.kube.patch(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`, {
      metadata: { uid: pod.metadata.uid },
      status,
    });
  }

  private hostIp(node: string): string {
    return this.kubelets.nodeIp(node) ?? '';
  }

  private podIp(pod: Pod): string {
    if (pod.spec.hostNetwork) return this.hostIp(pod.spec.nodeName ?? '');
    if (pod.status?.podIP) return pod.status.podIP;
    let ip = this.ips.get(pod.metadata.uid);
    if (!ip) {
      const node = pod.spec.nodeName ?? '';
      const n = (this.nextIp.get(node) ?? 0) + 1;
      this.nextIp.set(node, n);
      const cidr = this.kubelets.podCidr(node) ?? '10.255.255.0/24';
      ip = cidr.replace(/\.0\/24$/, `.${(n % 253) + 2}`);
      this.ips.set(pod.metadata.uid, ip);
    }
    return ip;
  }
}
