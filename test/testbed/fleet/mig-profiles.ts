// Fleet MIG profiles beyond the few the catalog spells out (gpus.ts lists the
// ones its nodes start with): the MIG manager can create any profile of the
// model, so GFD labels and the device model need its numbers too. They come
// from the shared geometry tables; media engines are the A100/H100 pattern
// (1g-3g get 1 copy engine per compute slice, 7g and +me profiles carry the JPEG/OFA units).
import { migModelFor, profileOf } from '../../../shared/gpu/mig-geometry.ts';
import { gpuModel, type GpuModelKey, type MigProfile } from './gpus.ts';

const DECODERS: Record<number, number> = { 1: 0, 2: 1, 3: 2, 4: 2, 7: 5 };

export function fleetMigProfile(key: GpuModelKey, name: string): MigProfile | undefined {
  const model = gpuModel(key);
  const known = model.migProfiles?.[name];
  if (known) return known;
  const geo = migModelFor(model.product);
  const p = geo && profileOf(geo, name);
  if (!p) return undefined;
  const c = p.computeSlices;
  const whole = c === geo.computeSlices;
  return {
    name,
    id: p.id,
    memoryMiB: p.memoryMiB,
    multiprocessors: p.multiprocessors,
    slicesGi: c,
    slicesCi: c,
    memorySlices: p.memorySlices,
    starts: p.starts,
    engines: {
      copy: c,
      decoder: p.media ? Math.max(1, DECODERS[c] ?? 0) : (DECODERS[c] ?? Math.floor(c / 2)),
      encoder: 0,
      jpeg: p.media || whole ? 1 : 0,
      ofa: p.media || whole ? 1 : 0,
    },
  };
}
