// The idle policy at work: every interval, for each connected cluster, read
// the GPU activity of running GPU workstations from the dcgm-exporter on
// their nodes (through the API server's pod proxy, as the GPU page does, but
// only the nodes that hold workstations), mark the pod with since when it has
// been quiet (tessera.dev/gpu-idle-since, so every console and the CLI see the
// same flag and a restarted console keeps counting), clear the mark when it is
// busy again, and stop it through the ordinary stop path when its namespace's
// policy says stop and it has been quiet for longer than the policy allows.
// Runs in the console hosts (Electron, `tessera serve`), not in one-shot CLI
// commands. A workstation whose activity is not reported is left alone:
// missing metrics never stop anyone's work.
import { toErrorShape } from '../../../shared/contract/errors.ts';
import type { Clock } from '../clock.ts';
import type { KubeAccess } from '../kube/kube-access.ts';
import { findExporters, scrapeExporter } from '../metrics/dcgm-source.ts';
import { gpuMetricsFrom } from '../metrics/gpu-metrics.ts';
import { idleStopReason, podActivity } from './ws-idle.ts';
import type { WorkstationService } from './workstation-service.ts';

export interface IdleWatcherOptions {
  /** Default 60 s. */
  intervalMs?: number;
  scrapeTimeoutMs?: number;
}

export interface IdleWatcherDeps {
  service: WorkstationService;
  clock: Clock;
  connectedIds(): string[];
  kube(clusterId: string): Promise<KubeAccess>;
  log?(message: string): void;
}

/** What one pass did, by "cluster/namespace/name" (tests and logs read it). */
export interface IdlePass {
  marked: string[];
  cleared: string[];
  stopped: string[];
  /** No activity reported for its devices this pass. */
  unknown: string[];
  errors: string[];
}

export class IdleWatcher {
  private timer?: ReturnType<typeof setTimeout>;
  private running = false;
  private busy = false;

  constructor(
    private readonly d: IdleWatcherDeps,
    private readonly o: IdleWatcherOptions = {},
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(async () => {
      await this.pass().catch((err) => this.d.log?.(`idle watcher: ${toErrorShape(err).message}`));
      this.schedule();
    }, this.o.intervalMs ?? 60_000);
    this.timer.unref?.();
  }

  /** One look at every connected cluster. */
  async pass(): Promise<IdlePass> {
    const out: IdlePass = { marked: [], cleared: [], stopped: [], unknown: [], errors: [] };
    if (this.busy) return out;
    this.busy = true;
    try {
      for (const id of this.d.connectedIds()) await this.cluster(id, out).catch((err) => out.errors.push(`${id}: ${toErrorShape(err).message}`));
    } finally {
      this.busy = false;
    }
    for (const e of out.errors) this.d.log?.(`idle watcher: ${e}`);
    return out;
  }

  private async cluster(id: string, out: IdlePass): Promise<void> {
    const list = (await this.d.service.list(id)).filter((w) => w.state === 'running' && w.spec.gpu.kind !== 'none' && w.pod && w.node);
    if (list.length === 0) return;
    const kc = await this.d.kube(id);
    const exporters = await findExporters(kc);
    const byNode = new Map(exporters.map((e) => [e.node, e]));
    const gpusByNode = new Map<string, ReturnType<typeof gpuMetricsFrom>>();
    for (const node of new Set(list.map((w) => w.node!))) {
      const exp = byNode.get(node);
      if (!exp) continue;
      try {
        const { samples } = await scrapeExporter(kc, exp, this.o.scrapeTimeoutMs ?? 10_000);
        gpusByNode.set(node, gpuMetricsFrom(samples, { hotC: Number.POSITIVE_INFINITY }));
      } catch (err) {
        out.errors.push(`${id}: dcgm-exporter on ${node}: ${toErrorShape(err).message}`);
      }
    }
    const policies = await this.d.service.idlePolicies(id, list.map((w) => w.namespace));
    const now = new Date(this.d.clock.now()).toISOString();
    for (const w of list) {
      const key = `${id}/${w.namespace}/${w.name}`;
      const gpus = gpusByNode.get(w.node!);
      const activity = gpus ? podActivity(gpus, w.namespace, w.pod!) : undefined;
      const policy = policies.get(w.namespace);
      if (activity === undefined || !policy) {
        out.unknown.push(key);
        continue;
      }
      try {
        if (activity >= policy.belowPct) {
          if (w.idle) {
            await this.d.service.setIdleMarker(id, w.namespace, w.pod!, null);
            out.cleared.push(key);
          }
        } else if (!w.idle) {
          await this.d.service.setIdleMarker(id, w.namespace, w.pod!, now);
          out.marked.push(key);
        } else if (w.idle.flagged && policy.action === 'stop') {
          await this.d.service.stopIdle(id, w.namespace, w.name, idleStopReason(policy, w.idle, w.namespace), policy);
          out.stopped.push(key);
        }
      } catch (err) {
        out.errors.push(`${key}: ${toErrorShape(err).message}`);
      }
    }
  }
}
