// A tiny stand-in for the Prometheus HTTP API (/api/v1/query, /api/v1/query_range)
// that answers the queries Tessera's showback sends with series computed from
// the test bed's pods at the moment of asking: kube-state-metrics' GPU request
// series of Running pods (sampled every `step`), pod owners, namespace team
// labels, node GPU models, and dcgm-exporter utilization (0 for pods marked
// tessera.dev/sim-idle, busy otherwise). Anything else gets Prometheus'
// own error shape. It does not parse PromQL; it recognises the metric asked for.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kube } from '../testbed/index.ts';

interface Pod {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string>; ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
  spec: { nodeName?: string; containers: { resources?: { limits?: Record<string, string>; requests?: Record<string, string> } }[] };
  status: { phase?: string; startTime?: string; containerStatuses?: { state?: { terminated?: { finishedAt?: string } } }[] };
}

const ksmName = (r: string) => r.replace(/[./+-]/g, '_');

export interface PromStandin {
  url: string;
  queries: string[];
  close(): Promise<void>;
}

export async function startPrometheusStandin(kube: Kube): Promise<PromStandin> {
  const queries: string[] = [];
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const q = url.searchParams.get('query') ?? '';
      queries.push(`${url.pathname} ${q}`);
      const send = (code: number, body: unknown) => {
        res.writeHead(code, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const ok = (resultType: 'matrix' | 'vector', result: unknown[]) => send(200, { status: 'success', data: { resultType, result } });
      const pods = (await kube.get<{ items: Pod[] }>('/api/v1/pods')).items;
      const now = Date.now() / 1000;
      const gpuRes = (p: Pod) => Object.entries({ ...(p.spec.containers[0]?.resources?.requests ?? {}), ...(p.spec.containers[0]?.resources?.limits ?? {}) }).filter(([k]) => k === 'nvidia.com/gpu' || k.startsWith('nvidia.com/mig-'));
      const life = (p: Pod): [number, number] | undefined => {
        if (!p.status.startTime) return undefined;
        const fin = p.status.containerStatuses?.map((c) => c.state?.terminated?.finishedAt).find(Boolean);
        return [Date.parse(p.status.startTime) / 1000, fin ? Date.parse(fin) / 1000 : now];
      };
      if (url.pathname === '/api/v1/query_range') {
        const start = Number(url.searchParams.get('start'));
        const end = Number(url.searchParams.get('end'));
        const step = Number(url.searchParams.get('step'));
        if (![start, end, step].every(Number.isFinite) || step <= 0) return send(400, { status: 'error', errorType: 'bad_data', error: 'invalid parameter "step"' });
        const samples = (p: Pod, v: (p: Pod) => string) => {
          const l = life(p);
          const out: [number, string][] = [];
          if (!l) return out;
          for (let t = start; t <= end; t += step) if (t >= l[0] && t < l[1]) out.push([t, v(p)]);
          return out;
        };
        if (q.includes('kube_pod_container_resource_requests')) {
          return ok('matrix', pods.flatMap((p) => gpuRes(p).map(([r, n]) => ({ metric: { namespace: p.metadata.namespace, pod: p.metadata.name, node: p.spec.nodeName ?? '', resource: ksmName(r) }, values: samples(p, () => n) }))).filter((s) => s.values.length));
        }
        const util = (mig: boolean) => pods.filter((p) => gpuRes(p).some(([r]) => r.startsWith('nvidia.com/mig-') === mig)).map((p) => ({ metric: { namespace: p.metadata.namespace, pod: p.metadata.name }, values: samples(p, (x) => (x.metadata.annotations?.['tessera.dev/sim-idle'] === 'true' ? '0' : mig ? '70' : '85')) })).filter((s) => s.values.length);
        if (q.includes('DCGM_FI_DEV_GPU_UTIL')) return ok('matrix', util(false));
        if (q.includes('DCGM_FI_PROF_GR_ENGINE_ACTIVE')) return ok('matrix', util(true));
      } else if (url.pathname === '/api/v1/query') {
        const at = Number(url.searchParams.get('time') ?? now);
        if (q.includes('kube_pod_owner')) {
          return ok('vector', pods.flatMap((p) => (p.metadata.ownerReferences ?? []).filter((o) => o.controller !== false).map((o) => ({ metric: { namespace: p.metadata.namespace, pod: p.metadata.name, owner_kind: o.kind, owner_name: o.name }, value: [at, '1'] }))));
        }
        if (q.includes('kube_pod_labels')) return ok('vector', []);
        if (q.includes('kube_namespace_labels')) {
          const ns = (await kube.get<{ items: { metadata: { name: string; labels?: Record<string, string> } }[] }>('/api/v1/namespaces')).items;
          return ok('vector', ns.filter((n) => n.metadata.labels?.['tessera.dev/team']).map((n) => ({ metric: { namespace: n.metadata.name, label_tessera_dev_team: n.metadata.labels!['tessera.dev/team'] }, value: [at, '1'] })));
        }
        if (q.includes('kube_node_labels')) {
          const nodes = (await kube.get<{ items: { metadata: { name: string; labels?: Record<string, string> } }[] }>('/api/v1/nodes')).items;
          return ok('vector', nodes.filter((n) => n.metadata.labels?.['nvidia.com/gpu.product']).map((n) => ({ metric: { node: n.metadata.name, label_nvidia_com_gpu_product: n.metadata.labels!['nvidia.com/gpu.product'] }, value: [at, '1'] })));
        }
      }
      send(400, { status: 'error', errorType: 'bad_data', error: `the stand-in does not know this query: ${q.slice(0, 80)}` });
    })().catch((err: unknown) => {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'error', errorType: 'internal', error: String(err) }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    queries,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
