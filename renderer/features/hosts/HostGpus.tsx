import type { GpuEntry } from '../../../shared/model/gpu-report.ts';
import { Badge } from '../../components/Badge.tsx';
import { useHosts } from '../../stores/hosts.ts';

const or = (v: number | string | null | undefined, unit = '') => (v === null || v === undefined ? '–' : `${v}${unit}`);

function memory(g: GpuEntry): string {
  if (g.memoryTotalMiB === null) return '–';
  const gib = (mib: number) => (mib / 1024).toFixed(1);
  return `${g.memoryUsedMiB === null ? '?' : gib(g.memoryUsedMiB)} / ${gib(g.memoryTotalMiB)} GiB`;
}

function Processes({ g }: { g: GpuEntry }) {
  if (g.processes === null) return <span className="muted">not listed</span>;
  if (g.processes.length === 0) return <span className="muted">none</span>;
  return (
    <>
      {g.processes.map((p, i) => (
        <div key={`${p.pid}-${i}`} className="small" data-testid="host-gpu-process">
          <span className="mono">{or(p.pid)}</span> {p.name ?? '?'} <span className="muted">{or(p.usedMemoryMiB, ' MiB')}{p.gpuInstanceId !== null ? ` · GI ${p.gpuInstanceId}` : ''}</span>
        </div>
      ))}
    </>
  );
}

/** One host's GPUs as nvidia-smi reports them now: the open panel below its row. */
export function HostGpusPanel({ hostId }: { hostId: string }) {
  const state = useHosts((s) => s.gpus[hostId]);
  const { readGpus, closeGpus } = useHosts.getState();
  if (!state) return null;
  const r = state.data?.report;
  return (
    <div className="panel" data-testid="host-gpus" data-host={hostId}>
      <div className="import">
        <strong>GPUs</strong>
        {r && (
          <span className="muted small">
            driver {or(r.driverVersion)} · CUDA {or(r.cudaVersion)} · read {new Date(state.data!.readAt).toLocaleTimeString()}
          </span>
        )}
        <button onClick={() => void readGpus(hostId)} disabled={state.reading}>
          {state.reading ? 'Reading…' : 'Refresh'}
        </button>
        <button onClick={() => closeGpus(hostId)}>Close</button>
      </div>
      {state.error && (
        <div className="error" role="alert" data-testid="host-gpus-error">
          {state.error.message}
        </div>
      )}
      {r && r.gpus.length === 0 && <p className="muted">nvidia-smi answered but listed no GPU.</p>}
      {r && r.gpus.length > 0 && (
        <table className="table" aria-label="host GPUs">
          <thead>
            <tr>
              <th>#</th>
              <th>Model</th>
              <th>Busy</th>
              <th>Temp</th>
              <th>Power</th>
              <th>Memory</th>
              <th>MIG</th>
              <th>ECC (uncorr.)</th>
              <th>Processes</th>
            </tr>
          </thead>
          <tbody>
            {r.gpus.map((g, i) => (
              <tr key={g.uuid ?? i} data-testid="host-gpu" data-uuid={g.uuid ?? ''}>
                <td>{or(g.index)}</td>
                <td>
                  {g.product ?? '?'}
                  <div className="mono small muted">{g.pciBusId ?? ''}</div>
                </td>
                <td>{or(g.utilizationPct, ' %')}</td>
                <td>{or(g.temperatureC, ' °C')}</td>
                <td>{or(g.powerDrawW === null ? null : Math.round(g.powerDrawW), ' W')}</td>
                <td>{memory(g)}</td>
                <td>
                  {g.migMode?.current ?? '–'}
                  {g.migMode?.pending && g.migMode.pending !== g.migMode.current && <Badge tone="warn">pending {g.migMode.pending}</Badge>}
                  {g.migDevices && g.migDevices.length > 0 && <div className="small muted">{g.migDevices.length} MIG device(s)</div>}
                </td>
                <td>{g.eccUncorrectable ? <Badge tone="bad">{g.eccUncorrectable}</Badge> : or(g.eccUncorrectable)}</td>
                <td>
                  <Processes g={g} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {r && r.warnings.length > 0 && <p className="muted small">{r.warnings.join('; ')}</p>}
    </div>
  );
}
