// The live endpoints list: per cluster, a list-then-watch of InferenceServices
// and one of their predictor pods; a change to either recomputes that
// endpoint's row, and rows reach the subscriber coalesced (at most one batch
// per interval), never as a raw stream of watch events.
import { toErrorShape } from '../../../shared/contract/errors.ts';
import { endpointKey, type Endpoint, type EndpointsDelta } from '../../../shared/model/endpoints.ts';
import type { Clock } from '../clock.ts';
import { ListWatch, type RawObject } from '../kube/list-watch.ts';
import { Coalescer } from '../stream/coalescer.ts';
import type { KubeObject } from './endpoint-objects.ts';
import type { EndpointService, EpCluster } from './endpoint-service.ts';
import { ISVCS } from './endpoint-service.ts';
import { ISVC_POD_LABEL, projectEndpoint } from './endpoint-status.ts';

export interface WatchDeps {
  service: EndpointService;
  clock: Clock;
  connectedIds(): string[];
  cluster(id: string): EpCluster;
  intervalMs?: number;
  /** Calls back whenever clusters connect or disconnect; returns the unsubscribe. Without it, the set is fixed at subscribe time. */
  onClustersChange?(listener: () => void): () => void;
}

/** Pods keep only what a row needs. */
function slimPod(raw: RawObject): KubeObject {
  const p = raw as KubeObject;
  return {
    metadata: { name: p.metadata?.name, namespace: p.metadata?.namespace, uid: p.metadata?.uid, labels: { [ISVC_POD_LABEL]: p.metadata?.labels?.[ISVC_POD_LABEL] }, ...(p.metadata?.deletionTimestamp ? { deletionTimestamp: p.metadata.deletionTimestamp } : {}) },
    spec: { nodeName: p.spec?.nodeName, containers: (p.spec?.containers ?? []).map((c: KubeObject) => ({ name: c.name, resources: c.resources })) },
    status: { phase: p.status?.phase, conditions: (p.status?.conditions ?? []).filter((c: KubeObject) => c.type === 'Ready') },
  };
}

function slimIsvc(raw: RawObject): KubeObject {
  const o = raw as KubeObject;
  const { managedFields: _m, ...metadata } = o.metadata ?? {};
  return { metadata, spec: o.spec, status: o.status };
}

/** Subscribes to endpoint rows of one cluster or of every connected one; returns the unsubscribe. */
export function watchEndpoints(d: WatchDeps, id: string | undefined, emit: (delta: EndpointsDelta) => void): () => void {
  const rows = new Map<string, Endpoint>();
  let stopped = false;
  let status: EndpointsDelta['status'] = 'syncing';
  let error: EndpointsDelta['error'];
  const coalescer = new Coalescer<Endpoint | null>(d.intervalMs ?? 500, d.clock, (batch) => {
    const upsert = batch.upsert.filter((x): x is Endpoint => x !== null);
    emit({ upsert, remove: batch.remove, status, ...(error ? { error } : {}) });
  });
  const ids = id ? [id] : d.connectedIds();
  /** Per watched cluster: stops its watches. */
  const running = new Map<string, () => void>();
  const resetAll = () => {
    coalescer.clear();
    emit({ reset: [...rows.values()], upsert: [], remove: [], status, ...(error ? { error } : {}) });
  };
  if (ids.length === 0) emit({ reset: [], upsert: [], remove: [], status: 'live' });

  /** Starts the list-watches of one cluster; returns what stops them. */
  const startCluster = (cid: string): (() => void) => {
    const watches: ListWatch<KubeObject>[] = [];
    let clusterStopped = false;
    const gone = () => stopped || clusterStopped;
    const isvcs = new Map<string, KubeObject>();
    const pods = new Map<string, KubeObject>();
    let ready = { isvcs: false, pods: false };
    let ctx: Awaited<ReturnType<EndpointService['ctx']>> | undefined;
    const rowKey = (nsName: string) => {
      const [ns, name] = nsName.split('/');
      return endpointKey({ clusterId: cid, namespace: ns!, name: name! });
    };
    const compute = (nsName: string): Endpoint | null => {
      const obj = isvcs.get(nsName);
      if (!obj || !ctx) return null;
      const mine = [...pods.values()].filter((p) => `${p.metadata.namespace}/${p.metadata.labels?.[ISVC_POD_LABEL]}` === nsName);
      return projectEndpoint({ clusterId: cid, obj, pods: mine, now: d.clock.now(), runtimes: ctx.runtimes, defaultMode: ctx.defaultMode });
    };
    const touch = (nsName: string) => {
      // A late event of a cluster no longer followed must not bring its rows back.
      if (gone() || !ready.isvcs || !ready.pods) return;
      const key = rowKey(nsName);
      if (!isvcs.has(nsName)) {
        if (rows.delete(key)) coalescer.remove(key);
        return;
      }
      coalescer.upsert(key, () => {
        const r = compute(nsName);
        if (r) rows.set(key, r);
        return r;
      });
    };
    const recomputeAll = () => {
      if (gone()) return;
      for (const k of [...rows.keys()]) if (k.startsWith(`${cid}|`)) rows.delete(k);
      for (const nsName of isvcs.keys()) {
        const r = compute(nsName);
        if (r) rows.set(rowKey(nsName), r);
      }
      resetAll();
    };
    const setStatus = (s: EndpointsDelta['status'], err?: ReturnType<typeof toErrorShape>) => {
      status = s;
      error = err ? { code: err.code, message: err.message } : undefined;
    };
    void (async () => {
      try {
        ctx = await d.service.ctx(cid, true);
        if (gone()) return;
        if (!ctx.apis.installed) {
          ready = { isvcs: true, pods: true };
          recomputeAll();
          return;
        }
        const c = d.cluster(cid);
        // Cluster-wide when allowed, else the context's namespace.
        const all = (await c.canI({ verb: 'watch', resource: 'inferenceservices', group: 'serving.kserve.io' })).allowed;
        const ns = all ? undefined : c.namespace;
        if (gone()) return;
        const mk = (path: string, labelSelector: string | undefined, map: Map<string, KubeObject>, which: 'isvcs' | 'pods', project: (r: RawObject) => KubeObject) =>
          new ListWatch<KubeObject>(
            { kubeConfig: () => c.kubeConfig(), path, clock: d.clock, project, ...(labelSelector ? { labelSelector } : {}) },
            {
              reset: (items) => {
                map.clear();
                for (const [k, v] of items) map.set(k, v);
                ready[which] = true;
                if (ready.isvcs && ready.pods) recomputeAll();
              },
              upsert: (k, v) => {
                map.set(k, v);
                touch(which === 'isvcs' ? k : `${v.metadata.namespace}/${v.metadata.labels?.[ISVC_POD_LABEL]}`);
              },
              remove: (k) => {
                const v = map.get(k);
                map.delete(k);
                if (which === 'isvcs') touch(k);
                else if (v) touch(`${v.metadata.namespace}/${v.metadata.labels?.[ISVC_POD_LABEL]}`);
              },
              status: (s, err) => setStatus(s, err),
            },
          );
        const w1 = mk(ISVCS(ns), undefined, isvcs, 'isvcs', slimIsvc);
        const w2 = mk(ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods', ISVC_POD_LABEL, pods, 'pods', slimPod);
        watches.push(w1, w2);
        w1.start();
        w2.start();
      } catch (err) {
        if (gone()) return;
        setStatus('reconnecting', toErrorShape(err));
        ready = { isvcs: true, pods: true };
        recomputeAll();
      }
    })();
    return () => {
      clusterStopped = true;
      for (const w of watches) w.stop();
    };
  };

  for (const cid of ids) running.set(cid, startCluster(cid));

  // All clusters: follow connects and disconnects (like the inventory stream), not only those connected now.
  const unfollow =
    !id && d.onClustersChange
      ? d.onClustersChange(() => {
          if (stopped) return;
          const now = new Set(d.connectedIds());
          for (const cid of now) if (!running.has(cid)) running.set(cid, startCluster(cid));
          for (const [cid, stop] of [...running]) {
            if (now.has(cid)) continue;
            stop();
            running.delete(cid);
            // A cluster that went away takes its rows with it.
            for (const k of [...rows.keys()]) {
              if (!k.startsWith(`${cid}|`)) continue;
              rows.delete(k);
              coalescer.remove(k);
            }
          }
        })
      : undefined;

  return () => {
    stopped = true;
    unfollow?.();
    for (const stop of running.values()) stop();
    running.clear();
    coalescer.dispose();
  };
}
