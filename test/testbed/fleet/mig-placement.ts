// Where MIG GPU instances sit on a GPU, as mig-parted would leave them: every
// instance at an allowed start on the memory-slice axis, no overlaps, compute
// slices within the GPU's budget. GI IDs follow the placement, not creation
// order, which is why real IDs look scattered (1g at start 6 is GI 13).
import type { GpuModel, MigProfile } from './gpus.ts';

export interface PlacedInstance {
  profile: MigProfile;
  start: number;
  size: number;
  giId: number;
}

// GI ID by `${size}@${start}`. Anchored on real captures: 3g.40gb at 4:4 is GI 1 and
// at 0:4 GI 2 (A100 80GB -lgi), a 1g.5gb is GI 13 (dcgm-exporter MIG docs), the first
// 1g.6gb on an A30 is GI 3. The rest keeps the same "upper half first" pattern.
const GI_IDS_8: Record<string, number> = {
  '8@0': 0,
  '4@4': 1, '4@0': 2,
  '2@4': 3, '2@6': 4, '2@0': 5, '2@2': 6,
  '1@4': 7, '1@5': 8, '1@0': 9, '1@1': 10, '1@2': 11, '1@3': 12, '1@6': 13,
};
const GI_IDS_4: Record<string, number> = {
  '4@0': 0,
  '2@2': 1, '2@0': 2,
  '1@0': 3, '1@1': 4, '1@2': 5, '1@3': 6,
};

/** The GI ID nvidia-smi hands out for an instance of `size` memory slices at `start`. */
export function giIdAt(memorySlices: number, size: number, start: number): number {
  return (memorySlices === 4 ? GI_IDS_4 : GI_IDS_8)[`${size}@${start}`] ?? 0;
}

/**
 * Places `counts` (profile name → instances) on one GPU, largest first at the
 * lowest allowed start, backtracking when a greedy choice blocks a later one
 * (all-balanced on 8 slices only fits with the 3g at start 4). Null if it cannot fit.
 */
export function placeInstances(model: GpuModel, counts: Record<string, number>): PlacedInstance[] | null {
  const geometry = model.mig;
  if (!geometry || !model.migProfiles) return null;
  const wanted: MigProfile[] = [];
  for (const [name, n] of Object.entries(counts)) {
    const p = model.migProfiles[name];
    if (!p) return null;
    for (let i = 0; i < n; i++) wanted.push(p);
  }
  if (wanted.reduce((s, p) => s + p.slicesGi, 0) > geometry.computeSlices) return null;
  wanted.sort((a, b) => b.memorySlices - a.memorySlices || a.name.localeCompare(b.name));
  const used = new Array<boolean>(geometry.memorySlices).fill(false);
  const out: Array<{ profile: MigProfile; start: number }> = [];
  const free = (start: number, size: number) => start + size <= used.length && used.slice(start, start + size).every((u) => !u);
  const mark = (start: number, size: number, v: boolean) => used.fill(v, start, start + size);
  const place = (i: number): boolean => {
    if (i === wanted.length) return true;
    const p = wanted[i]!;
    for (const start of p.starts) {
      if (!free(start, p.memorySlices)) continue;
      mark(start, p.memorySlices, true);
      out.push({ profile: p, start });
      if (place(i + 1)) return true;
      out.pop();
      mark(start, p.memorySlices, false);
    }
    return false;
  };
  if (!place(0)) return null;
  const ids = geometry.memorySlices === 4 ? GI_IDS_4 : GI_IDS_8;
  return out
    .map(({ profile, start }) => ({ profile, start, size: profile.memorySlices, giId: ids[`${profile.memorySlices}@${start}`] ?? 0 }))
    .sort((a, b) => a.start - b.start);
}
