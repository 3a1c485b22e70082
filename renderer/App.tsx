import { useEffect } from 'react';
import { AuditPage } from './features/audit/AuditPage.tsx';
import { SettingsPage } from './features/settings/SettingsPage.tsx';
import { QuotasPage } from './features/quotas/QuotasPage.tsx';
import { ShowbackPage } from './features/showback/ShowbackPage.tsx';
import { ClustersPage } from './features/clusters/ClustersPage.tsx';
import { FleetPage } from './features/fleet/FleetPage.tsx';
import { GpuMapPage } from './features/gpumap/GpuMapPage.tsx';
import { HostsPage } from './features/hosts/HostsPage.tsx';
import { SecretPrompts } from './features/hosts/HostDialogs.tsx';
import { useHosts } from './stores/hosts.ts';
import { NodesPage } from './features/nodes/NodesPage.tsx';
import { TerminalsPage } from './features/terminals/TerminalsPage.tsx';
import { MigPage } from './features/mig/MigPage.tsx';
import { RolloutsPage } from './features/rollouts/RolloutsPage.tsx';
import { WorkstationsPage } from './features/workstations/WorkstationsPage.tsx';
import { EndpointsPage } from './features/endpoints/EndpointsPage.tsx';
import { clusterSelectors, useClusters } from './stores/clusters.ts';
import { useMetrics } from './stores/metrics.ts';
import { useNodes } from './stores/nodes.ts';
import { useUi, type Page } from './stores/ui.ts';

const PAGES: { id: Page; label: string; render: () => React.JSX.Element }[] = [
  { id: 'fleet', label: 'Fleet', render: () => <FleetPage /> },
  { id: 'gpumap', label: 'GPU map', render: () => <GpuMapPage /> },
  { id: 'nodes', label: 'Nodes', render: () => <NodesPage /> },
  { id: 'mig', label: 'MIG layouts', render: () => <MigPage /> },
  { id: 'rollouts', label: 'Driver rollouts', render: () => <RolloutsPage /> },
  { id: 'workstations', label: 'Workstations', render: () => <WorkstationsPage /> },
  { id: 'endpoints', label: 'Endpoints', render: () => <EndpointsPage /> },
  { id: 'hosts', label: 'SSH hosts', render: () => <HostsPage /> },
  { id: 'terminals', label: 'Terminals', render: () => <TerminalsPage /> },
  { id: 'clusters', label: 'Clusters', render: () => <ClustersPage /> },
  { id: 'quotas', label: 'Quotas', render: () => <QuotasPage /> },
  { id: 'showback', label: 'Showback', render: () => <ShowbackPage /> },
  { id: 'audit', label: 'Audit', render: () => <AuditPage /> },
  { id: 'settings', label: 'Settings', render: () => <SettingsPage /> },
];

export function App() {
  const page = useUi((s) => s.page);
  const go = useUi((s) => s.go);
  const connectedIds = useClusters((s) => clusterSelectors.connected(s).map((c) => c.id).join('\n'));
  const connectedCount = connectedIds ? connectedIds.split('\n').length : 0;

  useEffect(() => useClusters.getState().start(), []);
  useEffect(() => useHosts.getState().start(), []);
  useEffect(() => {
    const ids = connectedIds ? connectedIds.split('\n') : [];
    useNodes.getState().sync(ids);
    useMetrics.getState().sync(ids);
  }, [connectedIds]);

  const current = PAGES.find((p) => p.id === page) ?? PAGES[0]!;
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
      <main>{current.render()}</main>
      <SecretPrompts />
    </div>
  );
}
