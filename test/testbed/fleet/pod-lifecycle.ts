// The pod-facing half of the simulated kubelets: start bound pods (handing them
// concrete devices, like the device plugin), fail them on request, finish
// deletions. Writes go through the status subresource like a kubelet's, and
// nothing moves on a node whose kubelet is down.
import { Kube, KubeError } from '../kube.ts';
import type { DeviceAllocator } from './allocator.ts';
import type { FleetFaults, PodFault } from './fault-state.ts';
import type { Kubelets } from './kubelets.ts';
import { podKey, type Pod } from './pod-informer.ts';
import { rejectedStatus, runningStatus, terminatedStatus } from './pod-status.ts';

/** Pod annotations a test can set to steer the simulated kubelet. */
export const SIM_ANNOTATIONS = {
  fail: 'tessera.dev/sim-fail',
  startDelayMs: 'tessera.dev/sim-start-delay-ms',
  runMs: 'tessera.dev/sim-run-ms',
  /** "true": the pod holds its GPUs but does not use them (dcgm metrics stay near zero). */
  idle: 'tessera.dev/sim-idle',
} as const;

const DEFAULT_START_DELAY_MS = 300;
const CONCURRENCY = 16;
const TERMINAL = new Set(['Succeeded', 'Failed']);

export class PodLifecycle {
  private readonly queue = new Set<string>();
  private readonly inFlight = new Set<string>();
  /** key → where its start delay stands; the wait holds no worker slot. */
  private readonly startAt = new Map<string, 'waiting' | 'due'>();
  private readonly ips = new Map<string, { node: string; octet: number; ip: string }>();
  private readonly usedOctets = new Map<string, Set<number>>();
  private active = 0;
  private faults: FleetFaults = { nodes: {}, deletedNodes: {}, failPods: {} };

  constructor(
    private readonly kube: Kube,
    private readonly kubelets: Kubelets,
    private readonly devices: DeviceAllocator,
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
    const uid = pod.metadata.uid;
    if (deleted) {
      this.devices.release(uid);
      this.releaseIp(uid);
      this.startAt.delete(key);
      return;
    }
    const node = pod.spec.nodeName;
    if (!node || !this.kubelets.has(node)) return;
    const phase = pod.status?.phase;
    if (phase && TERMINAL.has(phase)) this.devices.release(uid);
    else if (phase === 'Running') this.adopt(pod, node);
    // Annotating a running pod idle (or busy) changes what its GPUs report, as a user walking away would.
    this.devices.setIdle(uid, pod.metadata.annotations?.[SIM_ANNOTATIONS.idle] === 'true');
    if (pod.status?.podIP && !pod.spec.hostNetwork) this.noteIp(uid, node, pod.status.podIP);
    this.enqueue(key);
  }

  onNodeReady(node: string): void {
    for (const [key, pod] of this.pods()) if (pod.spec.nodeName === node) this.enqueue(key);
  }

  /** A pod already Running (simulator restarted, or seen before our own write landed) keeps devices. */
  private adopt(pod: Pod, node: string): void {
    if (this.devices.holds(pod.metadata.uid)) return;
    const err = this.devices.allocate(node, pod);
    if (err) this.log(`pod ${podKey(pod)}: Running but its devices are gone: ${err}`);
  }

  private enqueue(key: string): void {
    this.queue.add(key);
    this.pump();
  }

  private pump(): void {
    while (this.active < CONCURRENCY) {
      let key: string | undefined;
      for (const k of this.queue) {
        if (!this.inFlight.has(k)) {
          key = k;
          break;
        }
      }
      if (!key) return;
      this.queue.delete(key);
      this.inFlight.add(key);
      this.active++;
      const k = key;
      this.sync(k)
        .catch((err) => {
          // Gone, or recreated under the same name (uid mismatch): the watch brings the new state.
          if (err instanceof KubeError && (err.status === 404 || err.status === 409)) return;
          if (err instanceof KubeError && err.status === 422) {
            this.log(`pod ${k}: ${err.message}`);
            return;
          }
          this.log(`pod ${k}: ${err instanceof Error ? err.message : String(err)}`);
          // Transient (API server restarting): try again shortly.
          setTimeout(() => this.enqueue(k), 1000).unref();
        })
        .finally(() => {
          this.active--;
          this.inFlight.delete(k);
          this.pump();
        });
    }
  }

  private async sync(key: string): Promise<void> {
    const pod = this.pods().get(key);
    const node = pod?.spec.nodeName;
    if (!pod || !node || !this.kubelets.has(node)) return;
    if (!this.kubelets.isReady(node)) return; // kubelet down: the pod stays exactly as it is

    if (pod.metadata.deletionTimestamp) {
      // Containers are "stopped" instantly (devices go back); the kubelet then removes the object with grace 0.
      this.devices.release(pod.metadata.uid);
      await this.kube.delete(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata.uid },
      });
      return;
    }

    const phase = pod.status?.phase ?? 'Pending';
    if (TERMINAL.has(phase)) return;

    const fault = this.failRequest(pod);
    if (fault) {
      await this.writeStatus(pod, terminatedStatus(pod, this.hostIp(node), this.podIp(pod), fault));
      this.devices.release(pod.metadata.uid);
      this.log(`pod ${key}: Failed (${fault.reason})`);
      return;
    }

    if (phase === 'Pending') {
      if (!this.delayOver(key, pod)) return;
      const refused = this.devices.allocate(node, pod);
      if (refused) {
        await this.writeStatus(pod, rejectedStatus('UnexpectedAdmissionError', `Pod Allocate failed due to ${refused}, which is unexpected`));
        this.log(`pod ${key}: rejected at admission: ${refused}`);
        return;
      }
      try {
        await this.writeStatus(pod, runningStatus(pod, this.hostIp(node), this.podIp(pod)));
      } catch (err) {
        this.devices.release(pod.metadata.uid);
        throw err;
      }
      this.scheduleCompletion(pod);
    }
  }

  /**
   * The first sync of a Pending pod arms a timer; the sync it triggers runs the start.
   * (A state, not a deadline: timers run on the loop's clock and may fire a
   * millisecond before Date.now() says the deadline has passed.)
   */
  private delayOver(key: string, pod: Pod): boolean {
    const state = this.startAt.get(key);
    if (state === 'due') {
      this.startAt.delete(key);
      return true;
    }
    if (state === 'waiting') return false;
    const delay = Number(pod.metadata.annotations?.[SIM_ANNOTATIONS.startDelayMs] ?? DEFAULT_START_DELAY_MS);
    if (!(delay > 0)) return true;
    this.startAt.set(key, 'waiting');
    setTimeout(() => {
      if (this.startAt.get(key) !== 'waiting') return;
      this.startAt.set(key, 'due');
      this.enqueue(key);
    }, delay).unref();
    return false;
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
      try {
        await this.writeStatus(cur, terminatedStatus(cur, this.hostIp(node), this.podIp(cur), { exitCode: 0, reason: 'Completed' }));
        this.devices.release(cur.metadata.uid);
      } catch (err) {
        this.log(`pod ${key}: completion failed: ${err instanceof Error ? err.message : String(err)}`);
      }
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

  private noteIp(uid: string, node: string, ip: string): void {
    if (this.ips.has(uid)) return;
    const octet = Number(ip.split('.')[3]);
    this.ips.set(uid, { node, octet, ip });
    (this.usedOctets.get(node) ?? this.usedOctets.set(node, new Set()).get(node)!).add(octet);
  }

  private releaseIp(uid: string): void {
    const e = this.ips.get(uid);
    if (!e) return;
    this.usedOctets.get(e.node)?.delete(e.octet);
    this.ips.delete(uid);
  }

  /** The lowest free address of the node's pod CIDR (.2–.254), as host-local IPAM hands them out. */
  private podIp(pod: Pod): string {
    const node = pod.spec.nodeName ?? '';
    if (pod.spec.hostNetwork) return this.hostIp(node);
    if (pod.status?.podIP) return pod.status.podIP;
    const known = this.ips.get(pod.metadata.uid);
    if (known) return known.ip;
    const used = this.usedOctets.get(node) ?? this.usedOctets.set(node, new Set()).get(node)!;
    let octet = 2;
    while (used.has(octet) && octet < 254) octet++;
    const cidr = this.kubelets.podCidr(node) ?? '10.255.255.0/24';
    const ip = cidr.replace(/\.0\/24$/, `.${octet}`);
    this.noteIp(pod.metadata.uid, node, ip);
    return ip;
  }
}
