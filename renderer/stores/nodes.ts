import { create } from 'zustand';
import type { ErrorShape } from '../../shared/contract/errors.ts';
import type { NodeRow, NodesDelta } from '../../shared/model/node.ts';
import { api } from '../api/client.ts';
import { syncPerCluster, without } from './subscriptions.ts';

export interface ClusterNodes {
  rows: Map<string, NodeRow>;
  status: NodesDelta['status'];
  error?: { code: string; message: string };
  /** Bumped on every applied delta so selectors can memoise cheaply. */
  version: number;
}

interface NodesState {
  byCluster: Record<string, ClusterNodes>;
  /** Starts watches for newly connected clusters and stops the rest. */
  sync(clusterIds: string[]): void;
  stopAll(): void;
}

const unsubscribers = new Map<string, () => void>();

function apply(prev: ClusterNodes | undefined, d: NodesDelta): ClusterNodes {
  const rows = d.reset ? new Map(d.reset.map((r) => [r.name, r])) : new Map(prev?.rows ?? []);
  for (const r of d.upsert) rows.set(r.name, r);
  for (const name of d.remove) rows.delete(name);
  const next: ClusterNodes = { rows, status: d.status, version: (prev?.version ?? 0) + 1 };
  if (d.error) next.error = d.error;
  return next;
}

export const useNodes = create<NodesState>((set) => ({
  byCluster: {},

  sync(clusterIds) {
    syncPerCluster(
      unsubscribers,
      clusterIds,
      (id) =>
        api.subscribe(
          'nodes.watch',
          { id },
          (d) => set((s) => ({ byCluster: { ...s.byCluster, [id]: apply(s.byCluster[id], d) } })),
          (e: ErrorShape) => set((s) => ({ byCluster: { ...s.byCluster, [id]: { ...(s.byCluster[id] ?? { rows: new Map(), version: 0 }), status: 'reconnecting', error: e } } })),
        ),
      (id) => set((s) => ({ byCluster: without(s.byCluster, id) })),
    );
  },

  stopAll() {
    for (const off of unsubscribers.values()) off();
    unsubscribers.clear();
    set({ byCluster: {} });
  },
}));

export interface FleetRow extends NodeRow {
  clusterId: string;
}

export interface NodeFilter {
  text: string;
  gpuOnly: boolean;
}

export const nodeSelectors = {
  rows(byCluster: Record<string, ClusterNodes>, filter: NodeFilter): FleetRow[] {
    const text = filter.text.trim().toLowerCase();
    const out: FleetRow[] = [];
    for (const [clusterId, c] of Object.entries(byCluster)) {
      for (const r of c.rows.values()) {
        if (filter.gpuOnly && !r.gpu) continue;
        if (text && !`${r.name} ${r.gpu?.model ?? ''} ${r.gpu?.driverVersion ?? ''} ${r.pool ?? ''}`.toLowerCase().includes(text)) continue;
        out.push({ ...r, clusterId });
      }
    }
    return out.sort((a, b) => a.clusterId.localeCompare(b.clusterId) || a.name.localeCompare(b.name, undefined, { numeric: true }));
  },
  totals(rows: FleetRow[]) {
    let gpus = 0;
    let allocated = 0;
    let notReady = 0;
    let gpuNodes = 0;
    for (const r of rows) {
      if (r.ready !== 'True') notReady++;
      if (r.gpu) {
        gpuNodes++;
        gpus += r.gpu.allocatable;
        allocated += r.gpu.allocated;
      }
    }
    return { nodes: rows.length, gpuNodes, gpus, allocated, notReady };
  },
};
