import type { ClusterSummary } from '../../../shared/model/cluster.ts';
import { Badge, type Tone } from '../../components/Badge.tsx';
import { useClusters } from '../../stores/clusters.ts';
import { ImportKubeconfig } from './ImportKubeconfig.tsx';

const STATE_TONE: Record<ClusterSummary['state'], Tone> = {
  connected: 'ok',
  connecting: 'info',
  reconnecting: 'warn',
  error: 'bad',
  disconnected: 'idle',
};

function features(c: ClusterSummary): string {
  if (!c.features) return '';
  const names: [keyof NonNullable<ClusterSummary['features']>, string][] = [
    ['gpuOperator', 'GPU Operator'],
    ['kserve', 'KServe'],
    ['volumeSnapshot', 'Snapshots'],
    ['kubeflow', 'Kubeflow'],
  ];
  const found = names.filter(([k]) => c.features![k].length > 0).map(([, n]) => n);
  return found.length ? found.join(', ') : 'none of GPU Operator, KServe, Snapshots, Kubeflow';
}

function ClusterCard({ c }: { c: ClusterSummary }) {
  const busy = useClusters((s) => s.busy[c.id]);
  const actionError = useClusters((s) => s.actionErrors[c.id]);
  const connect = useClusters((s) => s.connect);
  const disconnect = useClusters((s) => s.disconnect);
  const live = c.state === 'connected' || c.state === 'reconnecting';
  const error = actionError ?? c.error;

  return (
    <article className="card" data-testid={`cluster-${c.context}`} aria-label={`cluster ${c.context}`}>
      <header>
        <h3>
          {c.context} {c.isCurrent && <span className="muted">(current)</span>}
        </h3>
        <Badge tone={STATE_TONE[c.state]}>{busy ?? c.state}</Badge>
      </header>
      <dl>
        <dt>Server</dt>
        <dd className="mono">{c.server}</dd>
        <dt>User</dt>
        <dd>
          {c.user || '(none)'} <span className="muted">· {c.authKind}</span>
        </dd>
        {c.namespace && (
          <>
            <dt>Namespace</dt>
            <dd>{c.namespace}</dd>
          </>
        )}
        <dt>Source</dt>
        <dd>{c.source}</dd>
        {c.health?.reachable && (
          <>
            <dt>Health</dt>
            <dd>
              {c.health.serverVersion} · {c.health.latencyMs} ms
            </dd>
          </>
        )}
        {c.features && (
          <>
            <dt>APIs</dt>
            <dd>{features(c)}</dd>
          </>
        )}
      </dl>
      {c.warnings.map((w) => (
        <div className="warning" key={w}>
          ⚠ {w}
        </div>
      ))}
      {error && (
        <div className="error" role="alert">
          {error.message}
          {c.state === 'reconnecting' && c.nextRetryAt && <span className="muted"> · retrying at {new Date(c.nextRetryAt).toLocaleTimeString()}</span>}
        </div>
      )}
      <footer>
        {live ? (
          <button onClick={() => void disconnect(c.id)} disabled={!!busy}>
            Disconnect
          </button>
        ) : (
          <button className="primary" onClick={() => void connect(c.id)} disabled={!!busy}>
            {busy === 'connecting' ? 'Connecting…' : 'Connect'}
          </button>
        )}
      </footer>
    </article>
  );
}

export function ClustersPage() {
  const clusters = useClusters((s) => s.clusters);
  const sources = useClusters((s) => s.sources);
  const loaded = useClusters((s) => s.loaded);

  return (
    <section className="page">
      <div className="page-head">
        <h2>Clusters</h2>
        <ImportKubeconfig />
      </div>
      {sources
        .filter((s) => s.error)
        .map((s) => (
          <div className="error" role="alert" key={s.id}>
            Could not load {s.label}: {s.error!.message}
          </div>
        ))}
      {loaded && clusters.length === 0 && (
        <p className="empty">No contexts found. Set KUBECONFIG, start with --kubeconfig, or import a kubeconfig file.</p>
      )}
      <div className="cards">
        {clusters.map((c) => (
          <ClusterCard c={c} key={c.id} />
        ))}
      </div>
    </section>
  );
}
