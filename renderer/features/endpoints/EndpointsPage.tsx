import { useEffect, useMemo, useState } from 'react';
import { Badge } from '../../components/Badge.tsx';
import { clusterSelectors, useClusters } from '../../stores/clusters.ts';
import { endpointSelectors, useEndpoints } from '../../stores/endpoints.ts';
import type { EndpointState } from '../../../shared/model/endpoints.ts';
import { CreateEndpoint } from './CreateEndpoint.tsx';
import { EndpointDetailPanel } from './EndpointDetail.tsx';
import { age, heldLabel, matches, STATE_TONE, type EndpointFilter } from './ep-format.ts';
import { TrafficBar } from './TrafficBar.tsx';

const STATES: EndpointState[] = ['ready', 'progressing', 'canary', 'failed', 'stopped', 'unknown'];

/** Every KServe InferenceService on the connected clusters, live from endpoints.watch. */
export function EndpointsPage() {
  const byCluster = useEndpoints((s) => s.byCluster);
  const creating = useEndpoints((s) => s.creating);
  const selected = useEndpoints((s) => s.selected);
  const pageNotice = useEndpoints((s) => s.pageNotice);
  const { select, setCreating } = useEndpoints.getState();
  const connectedIds = useClusters((s) => clusterSelectors.connected(s).map((c) => c.id).join('\n'));
  const connected = connectedIds ? connectedIds.split('\n').length : 0;
  const clusters = useClusters((s) => s.clusters);
  const names = useMemo(() => new Map(clusters.map((c) => [c.id, c.context])), [clusters]);
  const [filter, setFilter] = useState<EndpointFilter>({ text: '', cluster: '', state: '' });
  const all = useMemo(() => endpointSelectors.all(byCluster), [byCluster]);
  const rows = useMemo(() => all.filter((e) => matches(e, filter, names.get(e.clusterId) ?? e.clusterId)), [all, filter, names]);
  const problems = Object.entries(byCluster).filter(([, c]) => c.error);
  // The watches start with the page and stay after it closes, so coming back shows the list at once.
  useEffect(() => useEndpoints.getState().sync(connectedIds ? connectedIds.split('\n') : []), [connectedIds]);
  const isSelected = (k: string) => selected !== null && endpointSelectors.key(selected) === k;

  return (
    <section className="page">
      <div className="page-head">
        <h2>Inference endpoints</h2>
        <button className="primary" onClick={() => setCreating(!creating)} disabled={!connected}>
          {creating ? 'Close form' : 'New endpoint'}
        </button>
      </div>
      {!connected && <div className="warning">No cluster is connected.</div>}
      {problems.map(([id, c]) => (
        <div key={id} className="warning small">
          {names.get(id) ?? id}: {c.error!.message}
          {c.status === 'polling' ? ' (polling every 3 s instead of watching)' : ''}
        </div>
      ))}
      {pageNotice && (
        <div className="info" role="status" data-testid="ep-notice">
          {pageNotice}
        </div>
      )}
      {creating && <CreateEndpoint />}
      <div className="filters">
        <input aria-label="filter endpoints" className="filter" placeholder="filter by name, namespace, runtime, model, reason…" value={filter.text} onChange={(e) => setFilter({ ...filter, text: e.target.value })} />
        <select aria-label="cluster filter" value={filter.cluster} onChange={(e) => setFilter({ ...filter, cluster: e.target.value })}>
          <option value="">all clusters</option>
          {Object.keys(byCluster).map((id) => (
            <option key={id} value={id}>
              {names.get(id) ?? id}
            </option>
          ))}
        </select>
        <select aria-label="state filter" value={filter.state} onChange={(e) => setFilter({ ...filter, state: e.target.value as EndpointFilter['state'] })}>
          <option value="">any state</option>
          {STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <span className="legend">
          {rows.length} of {all.length}
        </span>
      </div>
      <table className="table" data-testid="ep-list">
        <thead>
          <tr>
            <th>Cluster</th>
            <th>Namespace</th>
            <th>Name</th>
            <th>Ready</th>
            <th>URL</th>
            <th>Runtime · format</th>
            <th>GPU</th>
            <th className="num">Replicas</th>
            <th>Traffic</th>
            <th className="num">Age</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((e) => {
            const k = endpointSelectors.key(e);
            return (
              <tr key={k} className={`clickable${isSelected(k) ? ' selected' : ''}`} data-testid="ep-row" onClick={() => select({ clusterId: e.clusterId, namespace: e.namespace, name: e.name })}>
                <td className="small">{names.get(e.clusterId) ?? e.clusterId}</td>
                <td>{e.namespace}</td>
                <td className="mono">
                  {e.name}
                  <div className="muted small">{e.mode}</div>
                </td>
                <td data-testid="ep-ready">
                  <Badge tone={STATE_TONE[e.state]} title={e.message}>
                    {e.state}
                  </Badge>
                  {e.ready !== 'True' && e.reason ? <div className={`small ${e.state === 'failed' ? 'bad-text' : 'muted'}`}>{e.reason}</div> : null}
                  {!e.upToDate && <div className="muted small">status behind spec</div>}
                </td>
                <td className="mono small ep-url">{e.url ?? ''}</td>
                <td className="small">
                  {e.runtime ?? <span className="muted">auto</span>}
                  <div className="muted">{e.modelFormat ?? ''}</div>
                </td>
                <td className="small">
                  {e.gpuLabel}
                  {e.gpusHeld.length > 0 && <div className="muted">holds {heldLabel(e.gpusHeld)}</div>}
                </td>
                <td className="num">
                  {e.replicas.ready}/{e.replicas.total}
                  {e.replicas.max !== undefined && <div className="muted small">{`${e.replicas.min ?? 1}–${e.replicas.max}`}</div>}
                </td>
                <td className="ep-traffic-cell">
                  <TrafficBar traffic={e.traffic} />
                </td>
                <td className="num">{age(e.ageSeconds)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {all.length === 0 && connected > 0 && <p className="empty">No inference endpoints yet.</p>}
      {all.length > 0 && rows.length === 0 && <p className="empty">No endpoint matches the filter.</p>}
      {selected && <EndpointDetailPanel />}
    </section>
  );
}
