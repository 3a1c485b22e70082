// Per-node logs of a rollout (operator states seen, evictions, commands and
// their output) live in a second ConfigMap, `tessera-rollout-<id>-logs`, so the
// state object every step rewrites stays small. Only the driving console
// writes it, at most every flushMs; status reads merge it back into the nodes.
import type { RolloutState } from '../../../shared/model/rollout.ts';
import type { Clock } from '../clock.ts';
import { statusOf, type RolloutApi } from './rollout-api.ts';
import { objectName, ROLLOUT_LABELS, ROLLOUT_NAMESPACE } from './rollout-names.ts';

const CM = `/api/v1/namespaces/${ROLLOUT_NAMESPACE}/configmaps`;
const KEY = 'logs.json';
export const MAX_NODE_LOG = 16;
const MAX_LINE = 240;
const logsName = (id: string) => `${objectName(id)}-logs`;

type Logs = Record<string, string[]>;
const key = (node: string, phase: 'upgrade' | 'rollback') => `${node}/${phase}`;

export async function readLogs(api: RolloutApi, id: string): Promise<{ logs: Logs; rv?: string }> {
  const cm = await api.maybe<{ metadata: { resourceVersion?: string }; data?: Record<string, string> }>(`${CM}/${logsName(id)}`, { action: `read the logs of rollout ${id}` });
  if (!cm) return { logs: {} };
  try {
    return { logs: JSON.parse(cm.data?.[KEY] ?? '{}') as Logs, ...(cm.metadata.resourceVersion ? { rv: cm.metadata.resourceVersion } : {}) };
  } catch {
    return { logs: {}, ...(cm.metadata.resourceVersion ? { rv: cm.metadata.resourceVersion } : {}) };
  }
}

export function mergeLogs(s: RolloutState, logs: Logs): RolloutState {
  for (const n of s.nodes) {
    n.upgrade.log = logs[key(n.name, 'upgrade')] ?? n.upgrade.log ?? [];
    if (n.rollback) n.rollback.log = logs[key(n.name, 'rollback')] ?? n.rollback.log ?? [];
  }
  return s;
}

export class RolloutLogs {
  private logs: Logs = {};
  private rv?: string;
  private dirty = false;
  private timer?: ReturnType<typeof setTimeout>;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly api: RolloutApi,
    private readonly id: string,
    private readonly clock: Clock,
    private readonly flushMs = 2000,
  ) {}

  async load(): Promise<void> {
    const r = await readLogs(this.api, this.id);
    this.logs = { ...r.logs, ...this.logs };
    this.rv = r.rv;
  }

  append(node: string, phase: 'upgrade' | 'rollback', line: string): void {
    const k = key(node, phase);
    const list = (this.logs[k] ??= []);
    list.push(line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 1)}…` : line);
    if (list.length > MAX_NODE_LOG) list.splice(0, list.length - MAX_NODE_LOG);
    this.dirty = true;
    this.timer ??= this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushMs);
  }

  /** Writes what changed; errors only cost log lines, never the rollout. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: logsName(this.id), labels: { ...ROLLOUT_LABELS, 'tessera.dev/kind': 'rollout-logs', 'tessera.dev/rollout': this.id } }, data: { [KEY]: JSON.stringify(this.logs) } };
      try {
        const cm = this.rv
          ? await this.api.json<{ metadata: { resourceVersion?: string } }>(`${CM}/${logsName(this.id)}`, { method: 'PUT', body: { ...body, metadata: { ...body.metadata, resourceVersion: this.rv } }, action: `write the logs of rollout ${this.id}` })
          : await this.api.json<{ metadata: { resourceVersion?: string } }>(CM, { method: 'POST', body, action: `write the logs of rollout ${this.id}` });
        this.rv = cm.metadata.resourceVersion;
      } catch (err) {
        const status = statusOf(err);
        if (status === 409) {
          // Someone else wrote it (a console we took over from): keep their lines and ours.
          const r = await readLogs(this.api, this.id).catch(() => undefined);
          if (r) {
            for (const [k, v] of Object.entries(r.logs)) if (!this.logs[k]) this.logs[k] = v;
            this.rv = r.rv;
          }
        }
        this.dirty = true;
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
