import { useEffect } from 'react';
import { ClustersPage } from './features/clusters/ClustersPage.tsx';
import { NodesPage } from './features/nodes/NodesPage.tsx';
import { clusterSelectors, useClusters } from './stores/clusters.ts';
import { useNodes } from './stores/nodes.ts';
import { useUi, type Page } from './stores/ui.ts';

const PAGES: { id: Page; label: string }[] = [
  { id: 'clusters', label: 'Clusters' },
  { id: 'nodes', label: 'Nodes' },
];

export function App() {
  const page = useUi((s) => s.page);
  const go = useUi((s) => s.go);
  const connectedIds = useClusters((s) => clusterSelectors.connected(s).map((c) => c.id).join('\n'));
  const connectedCount = connectedIds ? connectedIds.split('\n').length : 0;

  useEffect(() => useClusters.getState().start(), []);
  useEffect(() => {
    useNodes.getState().sync(connectedIds ? connectedIds.split('\n') : []);
  }, [connectedIds]);

  return (
    <div className="app">
      <nav className="sidebar" aria-label="main">
        <div className="brand">Tessera</div>
        {PAGES.map((p) => (
          <button key={p.id} className={page === p.id ? 'active' : ''} onClick={() => go(p.id)} aria-current={page === p.id ? 'page' : undefined}>
            {p.label}
          </button>
        ))}
        <div className="sidebar-foot muted">{connectedCount} connected</div>
      </nav>
      <main>{page === 'clusters' ? <ClustersPage /> : <NodesPage />}</main>
    </div>
  );
}
