import { nodeProblems } from '../../../shared/gpu/fleet-summary.ts';
import { Badge } from '../../components/Badge.tsx';
import { useNodes } from '../../stores/nodes.ts';
import { useUi, type NodeKey } from '../../stores/ui.ts';
import { GpuTile } from './GpuTile.tsx';

export function NodeDetail({ node }: { node: NodeKey }) {
  const row = useNodes((s) => s.byCluster[node.clusterId]?.rows.get(node.name));
  const close = () => useUi.getState().openNode(null);
  if (!row) {
    return (
      <aside className="detail" aria-label="node detail">
        <button className="close" onClick={close} aria-label="close">
          ×
        </button>
        <p className="muted">Node {node.name} is no longer in the cluster.</p>
      </aside>
    );
  }
  const g = row.gpu;
  const problems = nodeProblems(row);
  return (
    <aside className="detail" aria-label="node detail" data-testid="node-detail">
      <button className="close" onClick={close} aria-label="close">
        ×
      </button>
      <h3 className="mono">{row.name}</h3>
      <div>
        <Badge tone={row.ready === 'True' ? 'ok' : 'bad'}>{row.ready === 'True' ? 'Ready' : `Ready=${row.ready}`}</Badge>
        {row.unschedulable && <Badge tone="warn">cordoned</Badge>}
        {row.pool && <Badge tone="idle">pool {row.pool}</Badge>}
      </div>
      {problems.map((p) => (
        <div className="warning" key={p}>
          ⚠ {p}
        </div>
      ))}
      {g && (
        <dl className="facts">
          <dt>Product</dt>
          <dd>{g.product}</dd>
          <dt>GPUs</dt>
          <dd>
            {g.count} physical · {g.allocatable} schedulable devices · {g.allocated} in use
          </dd>
          <dt>Driver / CUDA</dt>
          <dd className="mono">
            {g.driverVersion ?? '?'} / {g.cudaVersion ?? '?'}
          </dd>
          <dt>MIG</dt>
          <dd>
            {g.migStrategy ?? 'none'}
            {g.migConfig ? ` · config ${g.migConfig}` : ''}
            {g.migConfigState ? ` (${g.migConfigState})` : ''}
          </dd>
          {g.memoryMiB !== undefined && (
            <>
              <dt>Memory</dt>
              <dd>{g.memoryMiB} MiB per device</dd>
            </>
          )}
          <dt>Labels</dt>
          <dd>{g.labelGeneration === 'deprecated' ? 'old GFD label names only' : g.labelGeneration === 'both' ? 'current and deprecated GFD names' : g.labelGeneration}</dd>
        </dl>
      )}
      {g?.inferred && <p className="muted small">Placement and which GPU a pod holds are inferred from counts; Kubernetes does not report them.</p>}
      <table className="table">
        <thead>
          <tr>
            <th>GPU</th>
            <th>Layout</th>
            <th>Instance</th>
            <th>Held by</th>
          </tr>
        </thead>
        <tbody>
          {(g?.devices ?? []).flatMap((d) => {
            const items = d.mig ? d.slots : [{ profile: 'whole GPU', start: 0, size: g?.memorySlices ?? 8, holder: d.holder }];
            if (items.length === 0) {
              return [
                <tr key={`${d.index}-empty`}>
                  <td>{d.index}</td>
                  <td />
                  <td className="muted">MIG enabled, no instances</td>
                  <td />
                </tr>,
              ];
            }
            return items.map((s, i) => (
              <tr key={`${d.index}-${s.start}`} data-testid="instance-row">
                <td>{i === 0 ? d.index : ''}</td>
                <td>{i === 0 ? <GpuTile gpu={d} slices={g?.memorySlices ?? 8} /> : null}</td>
                <td>
                  {s.profile}
                  {d.mig ? <span className="muted"> @{s.start}</span> : null}
                </td>
                <td>{s.holder ? `${s.holder.namespace}/${s.holder.name}${s.holder.workload ? ` · ${s.holder.workload}` : ''}` : <span className="muted">free</span>}</td>
              </tr>
            ));
          })}
        </tbody>
      </table>
    </aside>
  );
}
