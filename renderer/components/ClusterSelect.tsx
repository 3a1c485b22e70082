import { useEffect } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { clusterSelectors, useClusters } from '../stores/clusters.ts';

/**
 * Which connected cluster a per-cluster page shows. Picks the first connected
 * one when nothing (or a cluster no longer connected) is chosen.
 */
export function ClusterSelect({ value, onChange }: { value: string | undefined; onChange(id: string): void }) {
  // Strings, not objects: useShallow compares items by identity.
  const rows = useClusters(useShallow((s) => clusterSelectors.connected(s).map((c) => `${c.id}\t${c.context}`)));
  const connected = rows.map((r) => ({ id: r.slice(0, r.indexOf('\t')), label: r.slice(r.indexOf('\t') + 1) }));
  const valid = value !== undefined && connected.some((c) => c.id === value);
  useEffect(() => {
    if (!valid && connected[0]) onChange(connected[0].id);
  }, [valid, rows, onChange]);
  if (connected.length === 0) return <span className="muted">Connect a cluster first (Clusters page).</span>;
  return (
    <select aria-label="cluster" value={valid ? value : ''} onChange={(e) => onChange(e.target.value)}>
      {connected.map((c) => (
        <option key={c.id} value={c.id}>
          {c.label}
        </option>
      ))}
    </select>
  );
}
