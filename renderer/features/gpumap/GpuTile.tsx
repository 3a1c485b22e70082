import { memo } from 'react';
import type { GpuDevice } from '../../../shared/model/node.ts';

function holderText(h: { namespace: string; name: string; workload?: string } | undefined): string {
  return h ? `${h.namespace}/${h.name}${h.workload ? ` (${h.workload})` : ''}` : 'free';
}

/** One GPU on the memory-slice axis: MIG instances as segments, a whole GPU as one. */
export const GpuTile = memo(function GpuTile({ gpu, slices }: { gpu: GpuDevice; slices: number }) {
  const segments = gpu.mig ? gpu.slots : [{ profile: 'whole GPU', start: 0, size: slices, holder: gpu.holder }];
  return (
    <div className="gpu" style={{ gridTemplateColumns: `repeat(${slices}, 1fr)` }} data-testid="gpu-tile" aria-label={`GPU ${gpu.index}`}>
      {segments.map((s) => (
        <div
          key={`${s.start}-${s.profile}`}
          className={`seg ${s.holder ? 'held' : 'free'} ${gpu.mig ? 'mig' : 'whole'}`}
          style={{ gridColumn: `${s.start + 1} / span ${s.size}` }}
          title={`GPU ${gpu.index} · ${s.profile}${gpu.mig ? ` @ slice ${s.start}` : ''} · ${holderText(s.holder)}`}
        />
      ))}
    </div>
  );
});
