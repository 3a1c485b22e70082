import { useDeferredValue, useMemo, useState } from 'react';
import { Badge } from '../../components/Badge.tsx';
import { VirtualRows } from '../../components/VirtualRows.tsx';
import { useClusters } from '../../stores/clusters.ts';
import { nodeSelectors, useNodes, type FleetRow } from '../../stores/nodes.ts';
import { useUi } from '../../stores/ui.ts';
import { EMPTY_FILTER, filterOptions, matches, type MapFilter } from './gpu-map-filter.ts';
import type { NodeMetrics } from '../../../shared/model/metrics.ts';
import { useMetrics } from '../../stores/metrics.ts';
import { GpuTile, type ColorBy } from './GpuTile.tsx';
import { NodeDetail } from './NodeDetail.tsx';

function MapRow({ r, clusterLabel, metrics, colorBy, idleMinutes }: { r: FleetRow; clusterLabel: string; metrics?: NodeMetrics; colorBy: ColorBy; idleMinutes: number }) {
  const g = r.gpu!;
  const slices = g.memorySlices ?? 8;
  return (
    <button className="map-row" onClick={() => useUi.getState().openNode({ clusterId: r.clusterId, name: r.name })} data-testid="map-row">
      <span className="map-name">
        <span className="mono">{r.name}</span>
        <span className="muted small">
          {g.model.replace(/^NVIDIA-/, '')} · {clusterLabel}
        </span>
      </span>
      <span className="map-state">
        {r.ready !== 'True' && <Badge tone="bad">{r.ready === 'False' ? 'NotReady' : 'Unknown'}</Badge>}
        {r.unschedulable && <Badge tone="warn">cordoned</Badge>}
        {g.migInvalid && <Badge tone="bad">MIG invalid</Badge>}
      </span>
      <span className="map-gpus">
        {g.devices.map((d) => (
          <GpuTile key={d.index} gpu={d} slices={slices} metrics={metrics?.gpus.find((m) => m.index === d.index)} colorBy={colorBy} idleMinutes={idleMinutes} />
        ))}
      </span>
      <span className="num small">
        {g.allocated}/{g.allocatable}
      </span>
    </button>
  );
}

function Select({ label, value, options, onChange }: { label: string; value: string; options: string[]; onChange: (v: string) => void }) {
  return (
    <select aria-label={label} value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="">{label}: all</option>
      {options.map((o) => (
        <option key={o} value={o}>
          {o}
        </option>
      ))}
    </select>
  );
}

export function GpuMapPage() {
  const byCluster = useNodes((s) => s.byCluster);
  const clusters = useClusters((s) => s.clusters);
  const node = useUi((s) => s.node);
  const [filter, setFilter] = useState<MapFilter>(EMPTY_FILTER);
  const [colorBy, setColorBy] = useState<ColorBy>('allocation');
  const metrics = useMetrics((s) => s.byCluster);
  const deferred = useDeferredValue(filter);
  const all = useMemo(() => nodeSelectors.rows(byCluster, { text: '', gpuOnly: true }), [byCluster]);
  const options = useMemo(() => filterOptions(all), [all]);
  const rows = useMemo(() => all.filter((r) => matches(r, deferred)), [all, deferred]);
  const labels = useMemo(() => Object.fromEntries(clusters.map((c) => [c.id, c.context])), [clusters]);
  const set = (patch: Partial<MapFilter>) => setFilter((f) => ({ ...f, ...patch }));
  const clusterIds = Object.keys(byCluster);

  return (
    <section className="page nodes gpumap">
      <div className="page-head">
        <h2>GPU map</h2>
        <span className="muted" data-testid="map-count">
          {rows.length} of {all.length} GPU nodes
        </span>
      </div>
      <div className="filters">
        <input className="filter" placeholder="Search node, model, driver, pool, MIG config" value={filter.text} onChange={(e) => set({ text: e.target.value })} aria-label="search GPU nodes" />
        {clusterIds.length > 1 && (
          <select aria-label="cluster" value={filter.cluster} onChange={(e) => set({ cluster: e.target.value })}>
            <option value="">cluster: all</option>
            {clusterIds.map((id) => (
              <option key={id} value={id}>
                {labels[id] ?? id}
              </option>
            ))}
          </select>
        )}
        <Select label="model" value={filter.model} options={options.models} onChange={(model) => set({ model })} />
        <Select label="pool" value={filter.pool} options={options.pools} onChange={(pool) => set({ pool })} />
        <Select label="namespace" value={filter.namespace} options={options.namespaces} onChange={(namespace) => set({ namespace })} />
        <select aria-label="state" value={filter.state} onChange={(e) => set({ state: e.target.value as MapFilter['state'] })}>
          <option value="all">state: all</option>
          <option value="free">has free devices</option>
          <option value="full">fully allocated</option>
          <option value="attention">needs attention</option>
        </select>
        <select aria-label="colour by" value={colorBy} onChange={(e) => setColorBy(e.target.value as ColorBy)}>
          <option value="allocation">colour: allocation</option>
          <option value="utilization">colour: utilisation</option>
          <option value="temperature">colour: temperature</option>
          <option value="memory">colour: memory used</option>
        </select>
        <span className="legend">
          {colorBy === 'allocation' ? (
            <>
              <span className="seg held" /> in use <span className="seg free" /> free
            </>
          ) : (
            <>dark = low, bright = high; hatched = no data</>
          )}
          <span className="seg idle free" /> idle
        </span>
      </div>
      {clusterIds.length === 0 && <p className="empty">No cluster is connected. Connect one on the Clusters page.</p>}
      <VirtualRows items={rows} rowHeight={46} getKey={(r) => `${r.clusterId}/${r.name}`} render={(r) => (
          <MapRow r={r} clusterLabel={labels[r.clusterId] ?? r.clusterId} metrics={metrics[r.clusterId]?.nodes[r.name]} colorBy={colorBy} idleMinutes={metrics[r.clusterId]?.thresholds.idleMinutes ?? 30} />
        )} label="GPU map" />
      {node && <NodeDetail node={node} />}
    </section>
  );
}
