// The "no new XID errors" gate. dcgm-exporter's DCGM_FI_DEV_XID_ERRORS is the
// value of the last XID a GPU raised (reference gpu.md §5), so the gate
// compares each GPU's last XID after the driver changed with the one read when
// the phase began: a different, non-zero value is an XID raised meanwhile.
// Without a metrics source the gate says so instead of passing silently.
import type { GateResult } from '../../../shared/model/rollout.ts';
import { parseDcgmMetrics } from '../gpu/dcgm.ts';
import type { RolloutApi } from './rollout-api.ts';

/** The last XID per GPU index, and where it was read. */
export interface XidReading {
  byGpu: Record<string, number>;
  source: string;
  /** When the host booted (ms since the epoch), for sources that start afresh at each boot (the kernel log). */
  bootedAt?: number;
}

/** Boot times read twice can differ by a second (they are derived from the uptime); a reboot moves them much more. */
export const rebootedSince = (before: number | undefined, after: number | undefined): boolean => before !== undefined && after !== undefined && after - before > 2000;

/** `unread`: why there is no reading now (when after is missing) or from before (when before is). */
export function xidGate(before: Record<string, number> | undefined, after: XidReading | undefined, unread?: string, beforeBootedAt?: number): GateResult {
  if (!after) return { gate: 'xid', ok: true, detail: `not checked: ${unread ?? 'no metrics source for this node'}` };
  if (rebootedSince(beforeBootedAt, after.bootedAt)) {
    // The log the earlier reading came from ended with that boot: whatever this boot logged is new.
    const gate = xidGate({}, after);
    return { ...gate, detail: `${gate.detail}; the host rebooted since the reading before, so every XID of this boot counts` };
  }
  const gpus = Object.keys(after.byGpu).sort((a, b) => Number(a) - Number(b));
  const raised = gpus.filter((g) => after.byGpu[g] !== 0);
  if (!before) {
    // Nothing to tell a new XID from an old one: report what is there, and do not fail the node on a guess.
    const what = raised.length ? raised.map((g) => `XID ${after.byGpu[g]} on GPU ${g}`).join(', ') : `no XID on ${gpus.length} GPU(s)`;
    return { gate: 'xid', ok: true, detail: `${what}; not compared: ${unread ?? 'no reading from before the change'} (${after.source})` };
  }
  const fresh = raised.filter((g) => after.byGpu[g] !== (before[g] ?? 0));
  if (fresh.length) {
    return { gate: 'xid', ok: false, detail: `${fresh.map((g) => `XID ${after.byGpu[g]} on GPU ${g} (${before[g] ? `last XID ${before[g]}` : 'none'} before)`).join('; ')} (${after.source})` };
  }
  const old = raised.map((g) => `XID ${after.byGpu[g]} on GPU ${g} as before`);
  return { gate: 'xid', ok: true, detail: `no new XID on ${gpus.length} GPU(s)${old.length ? `; ${old.join(', ')}` : ''} (${after.source})` };
}

const EXPORTER_SELECTORS = ['app=nvidia-dcgm-exporter', 'app.kubernetes.io/name=dcgm-exporter'];

interface PodList {
  items?: { metadata: { name: string; namespace: string }; spec?: { containers?: { ports?: { name?: string; containerPort: number }[] }[] }; status?: { phase?: string } }[];
}

interface ExporterRef {
  namespace: string;
  name: string;
  port: number;
}

/**
 * Each node's dcgm-exporter, scraped through the API server's pod proxy (no network path to the node needed). The
 * exporter pod found for a node is kept, so a reading is one request; a scrape that fails looks the pod up again once
 * (the DaemonSet may have replaced it).
 */
export class DcgmXidReader {
  private readonly pods = new Map<string, ExporterRef>();

  constructor(private readonly api: RolloutApi) {}

  /** Undefined when the node runs no exporter; an error when it runs one that cannot be read. */
  async read(node: string): Promise<XidReading | undefined> {
    const known = this.pods.get(node);
    if (known) {
      try {
        return await this.scrape(node, known);
      } catch {
        this.pods.delete(node);
      }
    }
    const found = await this.find(node);
    if (!found) return undefined;
    this.pods.set(node, found);
    return this.scrape(node, found);
  }

  private async find(node: string): Promise<ExporterRef | undefined> {
    for (const selector of EXPORTER_SELECTORS) {
      const q = new URLSearchParams({ fieldSelector: `spec.nodeName=${node}`, labelSelector: selector });
      const list = await this.api.json<PodList>(`/api/v1/pods?${q}`, { action: `find the dcgm-exporter on ${node}` });
      const pod = (list.items ?? []).find((p) => p.status?.phase === 'Running');
      if (!pod) continue;
      const ports = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
      return { namespace: pod.metadata.namespace, name: pod.metadata.name, port: ports.find((x) => x.name === 'metrics')?.containerPort ?? ports[0]?.containerPort ?? 9400 };
    }
    return undefined;
  }

  private async scrape(node: string, pod: ExporterRef): Promise<XidReading> {
    const text = await this.api.text(`/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}:${pod.port}/proxy/metrics`, {
      action: `read GPU metrics from ${node}`,
      accept: 'text/plain',
      timeoutMs: 10_000,
    });
    const byGpu: Record<string, number> = {};
    for (const s of parseDcgmMetrics(text).samples) {
      const v = s.metrics.DCGM_FI_DEV_XID_ERRORS;
      if (s.gpu === null || v === undefined || !Number.isFinite(v)) continue;
      // MIG series repeat the device-wide value; the largest is the GPU's.
      byGpu[String(s.gpu)] = Math.max(byGpu[String(s.gpu)] ?? 0, v);
    }
    return { byGpu, source: `dcgm-exporter ${pod.namespace}/${pod.name}` };
  }
}
