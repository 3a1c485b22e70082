import { memo } from 'react';
import type { GpuMetrics, MigMetrics } from '../../../shared/model/metrics.ts';
import type { GpuDevice } from '../../../shared/model/node.ts';
import { isIdle, migMetricsFor } from '../../stores/metrics.ts';

export type ColorBy = 'allocation' | 'utilization' | 'temperature' | 'memory';

function holderText(h: { namespace: string; name: string; workload?: string } | undefined): string {
  return h ? `${h.namespace}/${h.name}${h.workload ? ` (${h.workload})` : ''}` : 'free';
}

/** A colour on a dark-to-bright scale for 0..1; undefined means no data (drawn hatched). */
function scale(v: number | undefined, hue: number): string | undefined {
  if (v === undefined || !Number.isFinite(v)) return undefined;
  const x = Math.max(0, Math.min(1, v));
  return `hsl(${hue}, 70%, ${18 + x * 42}%)`;
}

function colorOf(by: ColorBy, gpu: GpuMetrics | undefined, mig: MigMetrics | undefined): string | undefined {
  if (by === 'utilization') return scale((mig ? mig.utilPct : gpu?.utilPct) === undefined ? undefined : (mig ? mig.utilPct! : gpu!.utilPct!) / 100, 95);
  if (by === 'temperature') return gpu?.tempC === undefined ? undefined : `hsl(${Math.max(0, 210 - (gpu.tempC - 30) * 4)}, 70%, 45%)`;
  if (by === 'memory') {
    const used = mig ? mig.fbUsedMiB : gpu?.fbUsedMiB;
    const total = gpu && gpu.fbUsedMiB !== undefined && gpu.fbFreeMiB !== undefined ? gpu.fbUsedMiB + gpu.fbFreeMiB : undefined;
    return used === undefined || !total ? undefined : scale(used / total, 280);
  }
  return undefined;
}

interface Props {
  gpu: GpuDevice;
  slices: number;
  metrics?: GpuMetrics;
  colorBy?: ColorBy;
  idleMinutes?: number;
}

/** One GPU on the memory-slice axis: MIG instances as segments, a whole GPU as one. */
export const GpuTile = memo(function GpuTile({ gpu, slices, metrics, colorBy = 'allocation', idleMinutes = 30 }: Props) {
  const migM = gpu.mig ? migMetricsFor(gpu, metrics) : [];
  const segments = gpu.mig ? gpu.slots : [{ profile: 'whole GPU', start: 0, size: slices, holder: gpu.holder }];
  return (
    <div className={`gpu ${metrics?.erroring ? 'erroring' : ''} ${metrics?.hot ? 'hot' : ''}`} style={{ gridTemplateColumns: `repeat(${slices}, 1fr)` }} data-testid="gpu-tile" aria-label={`GPU ${gpu.index}`}>
      {segments.map((s, i) => {
        const mm = gpu.mig ? migM[i] : undefined;
        const idle = isIdle(gpu.mig ? mm?.idleSince : metrics?.idleSince, idleMinutes);
        const color = colorBy === 'allocation' ? undefined : colorOf(colorBy, metrics, mm);
        const util = gpu.mig ? mm?.utilPct : metrics?.utilPct;
        const facts = [util !== undefined ? `${util}% busy` : null, metrics?.tempC !== undefined ? `${metrics.tempC} °C` : null, idle ? 'IDLE' : null].filter(Boolean).join(', ');
        return (
          <div
            key={`${s.start}-${s.profile}`}
            className={`seg ${s.holder ? 'held' : 'free'} ${gpu.mig ? 'mig' : 'whole'} ${idle ? 'idle' : ''} ${colorBy !== 'allocation' && !color ? 'nodata' : ''}`}
            style={{ gridColumn: `${s.start + 1} / span ${s.size}`, ...(color ? { background: color } : {}) }}
            title={`GPU ${gpu.index} · ${s.profile}${gpu.mig ? ` @ slice ${s.start}` : ''} · ${holderText(s.holder)}${facts ? ` · ${facts}` : ''}`}
          />
        );
      })}
    </div>
  );
});
