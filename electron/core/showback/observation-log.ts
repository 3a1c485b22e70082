// What Tessera has seen of GPU pods on one cluster, kept in the data folder so
// showback without Prometheus can count pods that were deleted while Tessera
// watched: the API server forgets a deleted pod at once, this log does not.
// A pod that disappears is taken to have ended when it was last seen (a lower
// bound), and the report says so. Utilization samples taken at each
// observation give an estimate of idle time where dcgm-exporter reports the pod.
import fs from 'node:fs/promises';
import path from 'node:path';
import { withAppendLock } from '../audit/audit-lock.ts';
import { podGpuResources } from '../../../shared/gpu/node-gpu.ts';
import type { GpuUsageRecord } from '../../../shared/model/showback.ts';
import { loadJson, saveJson } from '../hosts/atomic-json.ts';
import { workloadOf } from '../nodes/node-projection.ts';

export const TEAM_LABEL = 'tessera.dev/team';

export interface ObservedPod {
  namespace: string;
  pod: string;
  uid: string;
  workload: string;
  team?: string;
  node?: string;
  model?: string;
  resources: Record<string, number>;
  start: string;
  end?: string;
  endSeen: 'terminated' | 'deleted' | 'running';
  lastSeen: string;
  /** Utilization samples taken while it ran, how many were below the idle threshold, and their sum (%). */
  samples: number;
  idleSamples: number;
  utilSum: number;
}

export interface RawPodForUsage {
  metadata?: { name?: string; namespace?: string; uid?: string; labels?: Record<string, string>; ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
  spec?: { nodeName?: string; containers?: Parameters<typeof podGpuResources>[0] };
  status?: { phase?: string; startTime?: string; containerStatuses?: { state?: { terminated?: { finishedAt?: string } } }[] };
}

/** A pod as showback sees it: GPU resources, start (status.startTime), and end when its containers have finished. */
export function podObservation(raw: RawPodForUsage, ctx: { now: string; nodeModel: (node: string) => string | undefined; nsTeam: (ns: string) => string | undefined }): ObservedPod | undefined {
  const res = podGpuResources(raw.spec?.containers);
  const resources = Object.fromEntries(Object.entries(res).filter(([, v]) => v > 0));
  const start = raw.status?.startTime;
  // No startTime: the kubelet never accepted it, so it never held a device.
  if (!start || Object.keys(resources).length === 0 || !raw.metadata?.name || !raw.metadata.namespace) return undefined;
  const ns = raw.metadata.namespace;
  const phase = raw.status?.phase;
  let end: string | undefined;
  if (phase === 'Succeeded' || phase === 'Failed') {
    const finished = (raw.status?.containerStatuses ?? []).map((c) => c.state?.terminated?.finishedAt).filter((x): x is string => !!x).sort();
    end = finished.at(-1) ?? ctx.now;
  }
  const node = raw.spec?.nodeName;
  const model = node ? ctx.nodeModel(node) : undefined;
  const team = raw.metadata.labels?.[TEAM_LABEL] ?? ctx.nsTeam(ns);
  return {
    namespace: ns,
    pod: raw.metadata.name,
    uid: raw.metadata.uid ?? `${ns}/${raw.metadata.name}/${start}`,
    workload: workloadOf(raw.metadata.ownerReferences) ?? `Pod/${raw.metadata.name}`,
    ...(team ? { team } : {}),
    ...(node ? { node } : {}),
    ...(model ? { model } : {}),
    resources,
    start,
    ...(end ? { end } : {}),
    endSeen: end ? 'terminated' : 'running',
    lastSeen: ctx.now,
    samples: 0,
    idleSamples: 0,
    utilSum: 0,
  };
}

/**
 * Folds one observation into the log: pods seen now are added or refreshed,
 * pods the log had as running that are gone now are ended at their last sighting.
 * `util` gives the pod's current utilization (%) where dcgm-exporter reports it.
 */
export function mergeObservation(log: ObservedPod[], seen: ObservedPod[], util: (p: ObservedPod) => number | undefined, idlePct: number): ObservedPod[] {
  const byUid = new Map(log.map((p) => [p.uid, { ...p }]));
  const present = new Set<string>();
  for (const s of seen) {
    present.add(s.uid);
    const prev = byUid.get(s.uid);
    const next: ObservedPod = prev ? { ...prev, ...s, samples: prev.samples, idleSamples: prev.idleSamples, utilSum: prev.utilSum } : s;
    if (!next.end) {
      const u = util(next);
      if (u !== undefined) {
        next.samples++;
        next.utilSum += u;
        if (u < idlePct) next.idleSamples++;
      }
    }
    byUid.set(s.uid, next);
  }
  for (const p of byUid.values()) {
    if (!present.has(p.uid) && !p.end) {
      p.end = p.lastSeen;
      p.endSeen = 'deleted';
    }
  }
  return [...byUid.values()];
}

/** The log as usage records, one per GPU resource a pod held; running pods run to `now`. */
export function usageRecords(cluster: string, log: readonly ObservedPod[], now: string): GpuUsageRecord[] {
  const out: GpuUsageRecord[] = [];
  for (const p of log) {
    for (const [resource, count] of Object.entries(p.resources)) {
      out.push({
        cluster,
        namespace: p.namespace,
        ...(p.team ? { team: p.team } : {}),
        workload: p.workload,
        pod: p.pod,
        ...(p.node ? { node: p.node } : {}),
        ...(p.model ? { model: p.model } : {}),
        resource,
        count,
        start: p.start,
        end: p.end ?? now,
        endSeen: p.endSeen,
        ...(p.samples > 0 ? { idleFraction: p.idleSamples / p.samples, utilPct: p.utilSum / p.samples } : {}),
      });
    }
  }
  return out;
}

const KEEP_MS = 400 * 86_400_000;
const MAX_ENTRIES = 50_000;

/** Drops pods that ended over ~13 months ago, and the oldest ended ones past a size cap. */
export function pruneLog(log: ObservedPod[], nowMs: number): ObservedPod[] {
  let kept = log.filter((p) => !p.end || nowMs - Date.parse(p.end) < KEEP_MS);
  if (kept.length > MAX_ENTRIES) {
    const running = kept.filter((p) => !p.end);
    const ended = kept.filter((p) => p.end).sort((a, b) => b.end!.localeCompare(a.end!));
    kept = [...running, ...ended.slice(0, Math.max(0, MAX_ENTRIES - running.length))];
  }
  return kept;
}

/** One file per cluster under <dataDir>/showback/, written atomically with a backup. */
export class ObservationStore {
  constructor(private readonly dir: string) {}

  private file(cluster: string): string {
    return path.join(this.dir, `observed-${Buffer.from(cluster).toString('base64url')}.json`);
  }

  async load(cluster: string): Promise<ObservedPod[]> {
    const parse = (raw: unknown): ObservedPod[] => {
      const v = raw as { version?: number; pods?: ObservedPod[] };
      if (v?.version !== 1 || !Array.isArray(v.pods)) throw new Error('not a version 1 observation log');
      return v.pods;
    };
    return (await loadJson(this.file(cluster), parse, () => [], undefined, 'an empty observation log')).value;
  }

  save(cluster: string, pods: ObservedPod[]): Promise<void> {
    return saveJson(this.file(cluster), { version: 1, cluster, pods });
  }

  /**
   * Read, change and write the log under a file lock: a console and a CLI command observing the same cluster at
   * once would otherwise each write back what it read, and one's pods would be lost.
   */
  async update(cluster: string, change: (pods: ObservedPod[]) => ObservedPod[]): Promise<ObservedPod[]> {
    await fs.mkdir(this.dir, { recursive: true });
    return withAppendLock(this.dir, { name: `${path.basename(this.file(cluster))}.lock`, what: 'the showback observation log' }, async () => {
      const next = change(await this.load(cluster));
      await this.save(cluster, next);
      return next;
    });
  }
}
