// Per-node logs of a rollout (operator states seen, evictions, commands and
// their output) live apart from the state every step rewrites, in ConfigMaps
// `tessera-rollout-<id>-logs-<k>`, one per shard of the rollout's nodes (the
// state's own shards, rollout-shards.ts), so none nears the 1 MiB limit at any
// fleet size. Only the driving console writes them, each shard at most every
// flushMs and only when it changed; status reads merge them back into the nodes.
import type { RolloutState } from '../../../shared/model/rollout.ts';
import type { Clock } from '../clock.ts';
import { statusOf, type RolloutApi } from './rollout-api.ts';
import { objectName, ROLLOUT_LABELS, ROLLOUT_NAMESPACE } from './rollout-names.ts';
import { SHARD_NODES } from './rollout-shards.ts';

const CM = `/api/v1/namespaces/${ROLLOUT_NAMESPACE}/configmaps`;
const KEY = 'logs.json';
const KIND = 'rollout-logs';
export const MAX_NODE_LOG = 16;
const MAX_LINE = 240;
const logsName = (id: string, shard: number) => `${objectName(id)}-logs-${shard}`;

type Logs = Record<string, string[]>;
type LogsCm = { metadata: { name: string; resourceVersion?: string }; data?: Record<string, string> };
const key = (node: string, phase: 'upgrade' | 'rollback') => `${node}/${phase}`;

function parse(cm: LogsCm): Logs {
  try {
    return JSON.parse(cm.data?.[KEY] ?? '{}') as Logs;
  } catch {
    return {};
  }
}

async function listLogs(api: RolloutApi, id: string): Promise<LogsCm[]> {
  const sel = `app.kubernetes.io/managed-by=tessera,tessera.dev/kind=${KIND},tessera.dev/rollout=${id}`;
  const list = await api.maybe<{ items?: LogsCm[] }>(`${CM}?labelSelector=${encodeURIComponent(sel)}`, { action: `read the logs of rollout ${id}` });
  return list?.items ?? [];
}

export async function readLogs(api: RolloutApi, id: string): Promise<{ logs: Logs }> {
  const logs: Logs = {};
  for (const cm of await listLogs(api, id)) Object.assign(logs, parse(cm));
  return { logs };
}

export function mergeLogs(s: RolloutState, logs: Logs): RolloutState {
  for (const n of s.nodes) {
    n.upgrade.log = logs[key(n.name, 'upgrade')] ?? n.upgrade.log ?? [];
    if (n.rollback) n.rollback.log = logs[key(n.name, 'rollback')] ?? n.rollback.log ?? [];
  }
  return s;
}

interface ShardLogs {
  logs: Logs;
  rv?: string;
  dirty: boolean;
}

export class RolloutLogs {
  private shards = new Map<number, ShardLogs>();
  private readonly shardOf: Map<string, number>;
  private timer?: ReturnType<typeof setTimeout>;
  private flushing: Promise<void> = Promise.resolve();
  /** Bumped by every appended line: a watch of the rollout this process drives emits when it moves. */
  version = 0;

  constructor(
    private readonly api: RolloutApi,
    private readonly id: string,
    /** The rollout's nodes in state order: a node's logs go to the shard that holds its state. */
    nodes: string[],
    private readonly clock: Clock,
    private readonly flushMs = 2000,
    size = SHARD_NODES,
  ) {
    this.shardOf = new Map(nodes.map((n, i) => [n, Math.floor(i / size)]));
  }

  private shard(k: number): ShardLogs {
    let sh = this.shards.get(k);
    if (!sh) this.shards.set(k, (sh = { logs: {}, dirty: false }));
    return sh;
  }

  async load(): Promise<void> {
    for (const cm of await listLogs(this.api, this.id)) {
      const k = /-logs-(\d+)$/.exec(cm.metadata.name)?.[1];
      const found = parse(cm);
      if (k === undefined) {
        // Logs written before they were sharded: each line goes to its node's shard, written there next flush.
        for (const [lk, lines] of Object.entries(found)) {
          const sh = this.shard(this.shardOf.get(lk.slice(0, lk.lastIndexOf('/'))) ?? 0);
          sh.logs[lk] ??= lines;
        }
        continue;
      }
      const sh = this.shard(Number(k));
      sh.logs = { ...found, ...sh.logs };
      sh.rv = cm.metadata.resourceVersion;
    }
  }

  append(node: string, phase: 'upgrade' | 'rollback', line: string): void {
    const sh = this.shard(this.shardOf.get(node) ?? 0);
    const list = (sh.logs[key(node, phase)] ??= []);
    list.push(line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 1)}…` : line);
    if (list.length > MAX_NODE_LOG) list.splice(0, list.length - MAX_NODE_LOG);
    sh.dirty = true;
    this.version++;
    this.timer ??= this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushMs);
  }

  /** Every node's lines as this process has them, flushed or not (copies: the lists keep growing). */
  snapshot(): Logs {
    const out: Logs = {};
    for (const sh of this.shards.values()) for (const [k, lines] of Object.entries(sh.logs)) out[k] = lines.slice();
    return out;
  }

  /** Writes the shards that changed; errors only cost log lines, never the rollout. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => Promise.all([...this.shards].filter(([, sh]) => sh.dirty).map(([k, sh]) => this.write(k, sh))).then(() => undefined));
    return this.flushing;
  }

  private async write(k: number, sh: ShardLogs): Promise<void> {
    sh.dirty = false;
    const name = logsName(this.id, k);
    const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels: { ...ROLLOUT_LABELS, 'tessera.dev/kind': KIND, 'tessera.dev/rollout': this.id } }, data: { [KEY]: JSON.stringify(sh.logs) } };
    try {
      const cm = sh.rv
        ? await this.api.json<LogsCm>(`${CM}/${name}`, { method: 'PUT', body: { ...body, metadata: { ...body.metadata, resourceVersion: sh.rv } }, action: `write the logs of rollout ${this.id}` })
        : await this.api.json<LogsCm>(CM, { method: 'POST', body, action: `write the logs of rollout ${this.id}` });
      sh.rv = cm.metadata.resourceVersion;
    } catch (err) {
      if (statusOf(err) === 409) {
        // Someone else wrote it (a console we took over from): keep their lines and ours.
        const fresh = await this.api.maybe<LogsCm>(`${CM}/${name}`, { action: `read the logs of rollout ${this.id}` }).catch(() => undefined);
        if (fresh) {
          for (const [lk, v] of Object.entries(parse(fresh))) if (!sh.logs[lk]) sh.logs[lk] = v;
          sh.rv = fresh.metadata.resourceVersion;
        }
      }
      sh.dirty = true;
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
