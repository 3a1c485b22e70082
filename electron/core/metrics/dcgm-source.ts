import type { KubeAccess } from '../kube/kube-access.ts';
import { parseDcgmMetrics } from '../gpu/dcgm.ts';
import { kubeJson, kubeText } from '../kube/kube-http.ts';
import type { DcgmSample } from '../gpu/dcgm.ts';

export interface ExporterPod {
  namespace: string;
  name: string;
  node: string;
  port: number;
}

type PodList = {
  items: {
    metadata: { name: string; namespace: string };
    spec: { nodeName?: string; containers?: { ports?: { name?: string; containerPort: number }[] }[] };
    status?: { phase?: string };
  }[];
};

/** The labels the GPU Operator and the standalone Helm chart put on dcgm-exporter pods. */
const SELECTORS = ['app=nvidia-dcgm-exporter', 'app.kubernetes.io/name=dcgm-exporter'];

/** Running dcgm-exporter pods, one per GPU node, found by their usual labels. */
export async function findExporters(kc: KubeAccess): Promise<ExporterPod[]> {
  const byName = new Map<string, ExporterPod>();
  for (const selector of SELECTORS) {
    const list = await kubeJson<PodList>(kc, `/api/v1/pods?labelSelector=${encodeURIComponent(selector)}`, { action: 'find dcgm-exporter pods' });
    for (const p of list.items) {
      if (p.status?.phase !== 'Running' || !p.spec.nodeName) continue;
      const ports = (p.spec.containers ?? []).flatMap((c) => c.ports ?? []);
      const port = ports.find((x) => x.name === 'metrics')?.containerPort ?? ports[0]?.containerPort ?? 9400;
      byName.set(`${p.metadata.namespace}/${p.metadata.name}`, { namespace: p.metadata.namespace, name: p.metadata.name, node: p.spec.nodeName, port });
    }
  }
  return [...byName.values()];
}

/** One scrape through the API server's pod proxy: no direct network path to the nodes is needed. */
export async function scrapeExporter(kc: KubeAccess, pod: ExporterPod, timeoutMs: number): Promise<{ samples: DcgmSample[]; warnings: string[] }> {
  const text = await kubeText(kc, `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}:${pod.port}/proxy/metrics`, {
    timeoutMs,
    action: `read GPU metrics from ${pod.node}`,
    accept: 'text/plain',
  });
  return parseDcgmMetrics(text);
}
