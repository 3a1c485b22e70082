// Health gates after a node's driver changed: the version the node reports,
// all GPUs visible, the MIG layout as before, Ready. Labels and capacity come
// from GFD and the device plugin a little after the driver pod is ready, so
// the gates are retried for a short while before they count as failed.
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { GateResult, NodeProgress } from '../../../shared/model/rollout.ts';
import type { Clock } from '../clock.ts';
import { nodeFacts, readNode, type NodeFacts } from './node-facts.ts';
import type { RolloutApi } from './rollout-api.ts';
import type { VersionReport } from './executors/executor.ts';
import { xidGate, type XidReading } from './xid-gate.ts';

/** What the xid gate compares: the reading when the phase began, and a reader for now. */
export interface XidCheck {
  before?: Record<string, number>;
  /** Why there is no reading from before (it then counts every non-zero XID). */
  unreadBefore?: string;
  beforeBootedAt?: number;
  read: () => Promise<XidReading | undefined>;
  /** What an undefined reading means for this executor. */
  noSource: string;
}

export function evaluateGates(f: NodeFacts, version: string, before: NodeProgress['before'], reported?: VersionReport, xid?: GateResult): GateResult[] {
  const gates: GateResult[] = [];
  if (reported) gates.push({ gate: 'driver-version', ok: reported.version === version, detail: `executor's own verify (not the node label): ${reported.detail}, wanted ${version}` });
  else gates.push({ gate: 'driver-version', ok: f.version === version, detail: `node reports ${f.version ?? 'no driver version'}, wanted ${version}` });
  if (before?.gpuCount !== undefined) gates.push({ gate: 'gpu-count', ok: f.gpuCount === before.gpuCount, detail: `${f.gpuCount ?? 'no'} GPUs visible, ${before.gpuCount} before` });
  if (before) {
    const sameConfig = (f.migConfig ?? '') === (before.migConfig ?? '');
    const was = JSON.stringify(sortKeys(before.migResources ?? {}));
    const now = JSON.stringify(sortKeys(f.migResources));
    gates.push({
      gate: 'mig-layout',
      ok: sameConfig && was === now,
      detail: sameConfig && was === now ? `MIG layout unchanged (${f.migConfig ?? 'no mig.config'})` : `MIG layout changed: mig.config ${before.migConfig ?? '-'} -> ${f.migConfig ?? '-'}, devices ${was} -> ${now}`,
    });
  }
  gates.push({ gate: 'ready', ok: f.ready, detail: f.ready ? 'node Ready' : 'node is not Ready' });
  // XID errors come from the executor's source (dcgm-exporter, or the host's kernel log over SSH); without one the gate says it could not check.
  gates.push(xid ?? { gate: 'xid', ok: true, detail: 'not checked: this executor has no XID source' });
  return gates;
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

async function readXidGate(x: XidCheck): Promise<GateResult> {
  try {
    const now = await x.read();
    return xidGate(x.before, now, now ? x.unreadBefore : x.noSource, x.beforeBootedAt);
  } catch (err) {
    return xidGate(undefined, undefined, `the XID source could not be read (${(err as Error).message})`);
  }
}

export async function checkGates(
  api: RolloutApi,
  clock: Clock,
  node: string,
  version: string,
  before: NodeProgress['before'],
  opts: { settleMs: number; pollMs: number; reported?: () => Promise<VersionReport>; xid?: XidCheck },
): Promise<GateResult[]> {
  const until = clock.now() + opts.settleMs;
  for (;;) {
    const [raw, reported, xid] = await Promise.all([readNode(api, node), opts.reported?.(), opts.xid ? readXidGate(opts.xid) : undefined]);
    const gates = evaluateGates(nodeFacts(raw), version, before, reported, xid);
    const failed = gates.filter((g) => !g.ok);
    if (failed.length === 0) return gates;
    if (clock.now() >= until) {
      throw new TesseraError('COMMAND_FAILED', `health gates failed on ${node}: ${failed.map((g) => `${g.gate}: ${g.detail}`).join('; ')}`, { node, gates });
    }
    await new Promise<void>((r) => clock.setTimeout(r, opts.pollMs));
  }
}
