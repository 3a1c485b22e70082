/**
 * Pure pieces of the MIG-over-SSH apply: reading the outputs it runs into
 * (MIG mode CSV, compute-apps CSV, `-cgi`/`-dci`/`-dgi` messages), turning a
 * planned layout into the `-cgi profile:start,...` argument, and comparing a
 * GPU's instances with the plan. Parsers tolerate extra whitespace and
 * unknown lines: real output drifts between driver versions.
 */
import { profileOf } from '../../../shared/gpu/mig-geometry.ts';
import type { MigModel } from '../../../shared/gpu/mig-geometry.ts';
import { layoutDiff } from '../../../shared/gpu/mig-layout.ts';
import type { LayoutDiff, LayoutItem } from '../../../shared/gpu/mig-layout.ts';

export interface MigModeRow {
  index: number;
  uuid: string;
  name: string;
  busId: string;
  /** 'Enabled' | 'Disabled', or null for [N/A] (a GPU without MIG). */
  current: string | null;
  pending: string | null;
}

const modeValue = (v: string | undefined): string | null => (v === 'Enabled' || v === 'Disabled' ? v : null);

/** Rows of `--query-gpu=index,uuid,name,pci.bus_id,mig.mode.current,mig.mode.pending --format=csv,noheader`. */
export function parseMigModeCsv(text: string): MigModeRow[] {
  const rows: MigModeRow[] = [];
  for (const line of text.split(/\r?\n/)) {
    const c = line.split(',').map((s) => s.trim());
    if (c.length < 6 || !/^\d+$/.test(c[0]!)) continue;
    // A product name never holds a comma in practice, but take the last fields from the end to be safe.
    const n = c.length;
    rows.push({ index: Number(c[0]), uuid: c[1]!, name: c.slice(2, n - 3).join(', '), busId: c[n - 3]!, current: modeValue(c[n - 2]), pending: modeValue(c[n - 1]) });
  }
  return rows;
}

export interface GpuProcess {
  pid: number;
  gpuUuid: string;
  usedMiB: number | null;
}

/** `--query-compute-apps=pid,gpu_uuid,used_memory --format=csv` (header line and units tolerated). */
export function parseComputeApps(text: string): GpuProcess[] {
  const out: GpuProcess[] = [];
  for (const line of text.split(/\r?\n/)) {
    const c = line.split(',').map((s) => s.trim());
    if (c.length < 2 || !/^\d+$/.test(c[0]!)) continue;
    const mem = /^(\d+)/.exec(c[2] ?? '');
    out.push({ pid: Number(c[0]), gpuUuid: c[1]!, usedMiB: mem ? Number(mem[1]) : null });
  }
  return out;
}

export interface CreatedInstance {
  gpu: number;
  gpuInstanceId: number;
  profile: string;
  profileId: number;
  computeInstanceId?: number;
}

export interface CgiOutcome {
  created: CreatedInstance[];
  /** "Unable to ..." / "Failed to ..." lines, verbatim: what nvidia-smi said went wrong. */
  errors: string[];
}

const GI_CREATED = /^Successfully created GPU instance ID\s+(\d+) on GPU\s+(\d+) using profile MIG (\S+) \(ID\s+(\d+)\)/;
const CI_CREATED = /^Successfully created compute instance ID\s+(\d+) on GPU\s+(\d+) GPU instance ID\s+(\d+) /;
const ERROR_LINE = /^(Unable to|Failed to|No MIG|No GPU instances|No compute instances|Invalid|Warning:|The following GPUs)/;

export function parseCgiOutput(text: string): CgiOutcome {
  const created: CreatedInstance[] = [];
  const errors: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const gi = GI_CREATED.exec(line);
    if (gi) {
      created.push({ gpuInstanceId: Number(gi[1]), gpu: Number(gi[2]), profile: gi[3]!, profileId: Number(gi[4]) });
      continue;
    }
    const ci = CI_CREATED.exec(line);
    if (ci) {
      const owner = created.find((c) => c.gpu === Number(ci[2]) && c.gpuInstanceId === Number(ci[3]));
      if (owner) owner.computeInstanceId = Number(ci[1]);
      continue;
    }
    if (ERROR_LINE.test(line)) errors.push(line);
  }
  return { created, errors };
}

/** The lines of any nvidia-smi output that say what went wrong (first line of the output when none matches). */
export function errorLines(text: string): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const errs = lines.filter((l) => ERROR_LINE.test(l));
  return errs.length ? errs : lines.slice(0, 1);
}

/**
 * `-cgi` argument for a layout: `<profile id>:<start>` per instance, largest
 * first (as mig-parted creates them). IDs come from the device's own -lgip
 * when given (they are per device), else from the geometry table.
 */
export function cgiPlacements(model: MigModel, layout: readonly LayoutItem[], deviceIds?: ReadonlyMap<string, number>): string {
  const items = layout.map((item) => {
    const p = profileOf(model, item.profile);
    const id = deviceIds?.get(item.profile) ?? p?.id;
    if (p === undefined || id === undefined) throw new Error(`${item.profile} is not a profile of the ${model.label}`);
    return { id, start: item.start, size: p.memorySlices };
  });
  items.sort((a, b) => b.size - a.size || a.start - b.start);
  return items.map((i) => `${i.id}:${i.start}`).join(',');
}

/** One GPU instance as read back from `-lgi`. */
export interface InstanceOnGpu extends LayoutItem {
  size: number;
  profileId: number | null;
  gpuInstanceId: number | null;
}

export function sameLayout(current: readonly LayoutItem[], planned: readonly LayoutItem[]): boolean {
  const d = layoutDiff(current, planned);
  return d.added.length === 0 && d.removed.length === 0;
}

export function diffLayouts(current: readonly LayoutItem[], planned: readonly LayoutItem[]): LayoutDiff<LayoutItem> {
  const strip = (x: LayoutItem): LayoutItem => ({ profile: x.profile, start: x.start });
  return layoutDiff(current.map(strip), planned.map(strip));
}

export function formatLayout(layout: readonly LayoutItem[]): string {
  return layout.length ? [...layout].sort((a, b) => a.start - b.start).map((i) => `${i.profile}@${i.start}`).join(',') : '(no instances)';
}
