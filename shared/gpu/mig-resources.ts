/**
 * What a node's allocatable should say once the MIG manager has applied a
 * config: the device plugin advertises MIG instances as `nvidia.com/gpu`
 * (single strategy) or `nvidia.com/mig-<profile>` (mixed), and whole GPUs
 * with MIG disabled as `nvidia.com/gpu`.
 */
import type { MigModel } from './mig-geometry.ts';
import { configCountsFor, type MigPartedEntry } from './mig-parted.ts';

export function expectedGpuResources(config: readonly MigPartedEntry[], model: MigModel, gpuCount: number, strategy: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (k: string, n: number) => (out[k] = (out[k] ?? 0) + n);
  for (let i = 0; i < gpuCount; i++) {
    const e = configCountsFor(config, model, i);
    if (!e || !e.enabled) {
      add('nvidia.com/gpu', 1);
      continue;
    }
    for (const [profile, n] of Object.entries(e.counts)) add(strategy === 'single' ? 'nvidia.com/gpu' : `nvidia.com/mig-${profile}`, n);
  }
  return out;
}

/** Whether allocatable matches: every expected key equal, every other GPU key zero or absent. */
export function gpuResourcesMatch(expected: Readonly<Record<string, number>>, allocatable: Readonly<Record<string, number>>): boolean {
  const keys = new Set([...Object.keys(expected), ...Object.keys(allocatable).filter((k) => k === 'nvidia.com/gpu' || k.startsWith('nvidia.com/mig-'))]);
  for (const k of keys) if ((expected[k] ?? 0) !== (allocatable[k] ?? 0)) return false;
  return true;
}

/**
 * The single strategy advertises every MIG instance as `nvidia.com/gpu`, so it
 * needs one profile on every GPU; a mix makes GFD report `-MIG-INVALID` and
 * leaves pods unable to say which slice they want.
 */
export function singleStrategyProblem(config: readonly MigPartedEntry[], model: MigModel, gpuCount: number, strategy: string | undefined): string | undefined {
  if (strategy !== 'single') return undefined;
  const profiles = new Set<string>();
  for (let i = 0; i < Math.max(1, gpuCount); i++) {
    const e = configCountsFor(config, model, i);
    if (e?.enabled) for (const [p, n] of Object.entries(e.counts)) if (n > 0) profiles.add(p);
  }
  if (profiles.size <= 1) return undefined;
  return `The node uses the single MIG strategy, which needs one profile on every GPU; this config mixes ${[...profiles].join(', ')} (GFD would report MIG-INVALID). Use the mixed strategy or a uniform config.`;
}
