// GPU utilisation of an endpoint's predictor pods, from the dcgm-exporters on
// the nodes they run on (the inventory's metrics source, scraped once, only
// on those nodes). dcgm-exporter labels each GPU or MIG series with the pod
// that holds it, which is what ties a device to a pod.
import { toErrorShape } from '../../../shared/contract/errors.ts';
import type { KubeAccess } from '../kube/kube-access.ts';
import { findExporters, scrapeExporter } from '../metrics/dcgm-source.ts';
import { gpuMetricsFrom } from '../metrics/gpu-metrics.ts';

export interface PodGpuUsage {
  utilPct?: number;
  fbUsedMiB?: number;
}

export async function podGpuUsage(kc: KubeAccess, pods: { namespace: string; name: string; node?: string }[], timeoutMs = 5000): Promise<{ byPod: Map<string, PodGpuUsage>; note?: string }> {
  const byPod = new Map<string, PodGpuUsage>();
  const nodes = new Set(pods.map((p) => p.node).filter((n): n is string => !!n));
  if (nodes.size === 0) return { byPod };
  let exporters;
  try {
    exporters = (await findExporters(kc)).filter((e) => nodes.has(e.node));
  } catch (err) {
    return { byPod, note: `GPU metrics unavailable: ${toErrorShape(err).message}` };
  }
  if (exporters.length === 0) return { byPod, note: 'no running dcgm-exporter on the nodes of these pods' };
  const wanted = new Set(pods.map((p) => `${p.namespace}/${p.name}`));
  const acc = new Map<string, { util: number[]; fb: number }>();
  const add = (ns: string | undefined, pod: string | undefined, util: number | undefined, fb: number | undefined) => {
    const key = `${ns}/${pod}`;
    if (!pod || !wanted.has(key)) return;
    const a = acc.get(key) ?? { util: [], fb: 0 };
    if (util !== undefined) a.util.push(util);
    if (fb !== undefined) a.fb += fb;
    acc.set(key, a);
  };
  const failures: string[] = [];
  await Promise.all(
    exporters.map(async (e) => {
      try {
        const { samples } = await scrapeExporter(kc, e, timeoutMs);
        for (const g of gpuMetricsFrom(samples, { hotC: 85 })) {
          add(g.namespace, g.pod, g.utilPct, g.fbUsedMiB);
          for (const m of g.mig) add(m.namespace, m.pod, m.utilPct, m.fbUsedMiB);
        }
      } catch (err) {
        failures.push(`${e.node}: ${toErrorShape(err).message}`);
      }
    }),
  );
  for (const [key, a] of acc) {
    byPod.set(key, {
      ...(a.util.length ? { utilPct: Math.round((a.util.reduce((x, y) => x + y, 0) / a.util.length) * 10) / 10 } : {}),
      ...(a.fb ? { fbUsedMiB: a.fb } : {}),
    });
  }
  return { byPod, ...(failures.length ? { note: `GPU metrics missing from ${failures.join('; ')}` } : {}) };
}
