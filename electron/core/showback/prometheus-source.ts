// Showback from a Prometheus the user names: kube-state-metrics' request series
// for GPU and MIG resources (only while the pod is Running: kube-state-metrics
// keeps exporting requests of Pending and finished pods) and dcgm-exporter's
// utilization, both over the period with query_range, plus the owner, team and
// node-model labels as of the period. Only the HTTP API is used (/api/v1/...).
import { request } from 'undici';
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { GpuUsageRecord } from '../../../shared/model/showback.ts';
import { TEAM_LABEL } from './observation-log.ts';

type Labels = Record<string, string>;
interface PromSeries {
  metric: Labels;
  values?: [number, string][];
  value?: [number, string];
}
interface PromAnswer {
  status: 'success' | 'error';
  data?: { resultType: string; result: PromSeries[] };
  error?: string;
  errorType?: string;
}

export type PromGet = (path: string, params: Record<string, string>) => Promise<PromAnswer>;

/** GET <base>/api/v1/<path> with a timeout; errors name the Prometheus and what was asked. */
export function promHttp(base: string, timeoutMs = 30_000): PromGet {
  const root = base.replace(/\/+$/, '');
  return async (path, params) => {
    const url = `${root}/api/v1/${path}?${new URLSearchParams(params)}`;
    let text: string;
    let status: number;
    try {
      const res = await request(url, { method: 'GET', headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw new TesseraError('UNREACHABLE', `Prometheus at ${root} did not answer: ${(err as Error).message}`, { url: root });
    }
    let body: PromAnswer;
    try {
      body = JSON.parse(text) as PromAnswer;
    } catch {
      throw new TesseraError('API_ERROR', `Prometheus at ${root} answered ${path} with HTTP ${status} and no JSON (is this the Prometheus HTTP API?)`, { url: root, status });
    }
    if (body.status !== 'success') throw new TesseraError('API_ERROR', `Prometheus at ${root} refused ${path}: ${body.error ?? `HTTP ${status}`}`, { url: root, status });
    return body;
  };
}

/** kube-state-metrics writes `nvidia.com/mig-1g.10gb` as `nvidia_com_mig_1g_10gb`. */
export function resourceFromKsm(r: string): string | undefined {
  if (r === 'nvidia_com_gpu') return 'nvidia.com/gpu';
  const m = /^nvidia_com_mig_(\d+(?:c_\d+)?g)_(\d+gb)(_me)?$/.exec(r);
  return m ? `nvidia.com/mig-${m[1]!.replace('c_', 'c.')}.${m[2]}${m[3] ? '+me' : ''}` : undefined;
}

/** A step that gives at most ~700 points per series, never under a minute. */
export function stepFor(fromMs: number, toMs: number): number {
  return Math.max(60, Math.ceil((toMs - fromMs) / 1000 / 700 / 60) * 60);
}

const REQUESTS = 'sum by (namespace, pod, node, resource) (kube_pod_container_resource_requests{resource=~"nvidia_com_gpu|nvidia_com_mig_.*"}) * on (namespace, pod) group_left () (max by (namespace, pod) (kube_pod_status_phase{phase="Running"}) == 1)';
const GPU_UTIL = 'avg by (namespace, pod) (DCGM_FI_DEV_GPU_UTIL{pod!=""})';
const MIG_UTIL = 'avg by (namespace, pod) (DCGM_FI_PROF_GR_ENGINE_ACTIVE{pod!="", GPU_I_ID!=""}) * 100';

export interface PromUsage {
  records: GpuUsageRecord[];
  warnings: string[];
}

const key = (ns: string | undefined, pod: string | undefined) => `${ns ?? ''}/${pod ?? ''}`;

/**
 * Usage records from Prometheus for [from, to): each Running sample of a
 * pod's GPU requests counts one step. A pod's record starts at its first such
 * sample and ends one step after its last. Idle = share of utilization
 * samples below `idlePct` (whole GPUs: DCGM_FI_DEV_GPU_UTIL; MIG: graphics
 * engine activity), absent when dcgm-exporter had no series for the pod.
 */
export async function prometheusUsage(get: PromGet, cluster: string, fromMs: number, toMs: number, idlePct: number): Promise<PromUsage> {
  const step = stepFor(fromMs, toMs);
  const range = { start: String(fromMs / 1000), end: String(toMs / 1000), step: String(step) };
  const window = `${Math.max(60, Math.round((toMs - fromMs) / 1000))}s`;
  const at = { time: String(toMs / 1000) };
  const warnings: string[] = [];
  const optional = async (what: string, q: Promise<PromAnswer>): Promise<PromSeries[]> => {
    try {
      return (await q).data?.result ?? [];
    } catch (err) {
      warnings.push(`${what}: ${(err as Error).message}`);
      return [];
    }
  };
  const requests = (await get('query_range', { query: REQUESTS, ...range })).data?.result ?? [];
  const [owners, podLabels, nsLabels, nodeLabels, gpuUtil, migUtil] = await Promise.all([
    optional('owners (kube_pod_owner)', get('query', { query: `max by (namespace, pod, owner_kind, owner_name) (max_over_time(kube_pod_owner[${window}]))`, ...at })),
    optional('pod team labels (kube_pod_labels)', get('query', { query: `max by (namespace, pod, label_tessera_dev_team) (max_over_time(kube_pod_labels{label_tessera_dev_team!=""}[${window}]))`, ...at })),
    optional('namespace team labels (kube_namespace_labels)', get('query', { query: `max by (namespace, label_tessera_dev_team) (max_over_time(kube_namespace_labels{label_tessera_dev_team!=""}[${window}]))`, ...at })),
    optional('node GPU models (kube_node_labels)', get('query', { query: `max by (node, label_nvidia_com_gpu_product) (max_over_time(kube_node_labels{label_nvidia_com_gpu_product!=""}[${window}]))`, ...at })),
    optional('GPU utilization (DCGM_FI_DEV_GPU_UTIL)', get('query_range', { query: GPU_UTIL, ...range })),
    optional('MIG utilization (DCGM_FI_PROF_GR_ENGINE_ACTIVE)', get('query_range', { query: MIG_UTIL, ...range })),
  ]);
  const owner = new Map<string, string>();
  for (const s of owners) {
    const { owner_kind: kind, owner_name: name } = s.metric;
    if (!kind || kind === '<none>' || !name) continue;
    // A ReplicaSet is shown as its Deployment, as everywhere else in Tessera.
    const m = kind === 'ReplicaSet' ? /^(.*)-[a-z0-9]{5,10}$/.exec(name) : null;
    owner.set(key(s.metric.namespace, s.metric.pod), m?.[1] ? `Deployment/${m[1]}` : `${kind}/${name}`);
  }
  const podTeam = new Map(podLabels.map((s) => [key(s.metric.namespace, s.metric.pod), s.metric.label_tessera_dev_team!]));
  const nsTeam = new Map(nsLabels.map((s) => [s.metric.namespace ?? '', s.metric.label_tessera_dev_team!]));
  const model = new Map(nodeLabels.map((s) => [s.metric.node ?? '', s.metric.label_nvidia_com_gpu_product!]));
  const util = new Map<string, number[]>();
  for (const s of [...gpuUtil, ...migUtil]) {
    const k = key(s.metric.namespace, s.metric.pod);
    if (util.has(k)) continue;
    util.set(k, (s.values ?? []).map(([, v]) => Number(v)).filter(Number.isFinite));
  }
  if (podLabels.length === 0 && nsLabels.length === 0) warnings.push(`no ${TEAM_LABEL} labels in kube-state-metrics (add it to --metric-labels-allowlist): teams are unknown`);

  const records: GpuUsageRecord[] = [];
  let unknownResources = 0;
  for (const s of requests) {
    const resource = resourceFromKsm(s.metric.resource ?? '');
    const values = (s.values ?? []).filter(([, v]) => Number(v) > 0);
    if (!resource) {
      unknownResources++;
      continue;
    }
    if (values.length === 0) continue;
    const k = key(s.metric.namespace, s.metric.pod);
    const first = values[0]![0] * 1000;
    const last = Math.min(values.at(-1)![0] * 1000 + step * 1000, toMs);
    const count = Math.max(...values.map(([, v]) => Number(v)));
    const u = util.get(k);
    const node = s.metric.node;
    const team = podTeam.get(k) ?? nsTeam.get(s.metric.namespace ?? '');
    const m = node ? model.get(node) : undefined;
    records.push({
      cluster,
      namespace: s.metric.namespace ?? '',
      ...(team ? { team } : {}),
      workload: owner.get(k) ?? `Pod/${s.metric.pod ?? '?'}`,
      pod: s.metric.pod ?? '?',
      ...(node ? { node } : {}),
      ...(m ? { model: m } : {}),
      resource,
      count,
      start: new Date(first).toISOString(),
      end: new Date(last).toISOString(),
      endSeen: last >= toMs ? 'running' : 'terminated',
      ...(u && u.length ? { idleFraction: u.filter((x) => x < idlePct).length / u.length, utilPct: u.reduce((a, b) => a + b, 0) / u.length } : {}),
    });
  }
  if (unknownResources) warnings.push(`${unknownResources} request series with a GPU resource name Tessera does not know were left out`);
  return { records, warnings };
}
