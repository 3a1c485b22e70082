/**
 * The MIG part of the sshbed's nvidia-smi stand-in, as pure functions over a
 * state object: mode changes (pending until a reset where the model needs
 * one, or while processes hold the GPU), GPU and compute instances, and the
 * text real nvidia-smi prints for each, errors and exit statuses included.
 * Geometry (profiles, IDs, placements, counts) comes from
 * shared/gpu/mig-geometry.ts, so the stand-in enforces the same rules the
 * console validates with. Runs under plain `node --experimental-strip-types`
 * (no enums, no parameter properties, `.ts` imports).
 *
 * Texts marked UNVERIFIED in test/sshbed/README.md were not seen in a real
 * capture; they follow the "Unable to ...: <NVML error string>" / "Failed to
 * ...: <NVML error string>" pattern the real tool uses.
 */
import { createHash } from 'node:crypto';
import { migModelFor } from '../../../shared/gpu/mig-geometry.ts';
import type { MigModel, MigProfile } from '../../../shared/gpu/mig-geometry.ts';

/** One row of gpus.state: the hardware the host pretends to have. */
export interface HwGpu {
  index: number;
  name: string;
  uuid: string;
  memTotalMiB: number;
  memUsedMiB: number;
  utilization: number;
  temperatureC: number;
  powerW: number;
  driver: string;
  busId: string;
}

export type MigModeValue = 'Enabled' | 'Disabled';

export interface SimCi {
  id: number;
  profileId: number;
  profile: string;
  start: number;
  size: number;
  uuid: string;
}

export interface SimGi {
  id: number;
  profileId: number;
  profile: string;
  start: number;
  size: number;
  cis: SimCi[];
}

export interface SimGpuMig {
  current: MigModeValue;
  pending: MigModeValue;
  /** Whether a mode change waits for a GPU reset (Ampere: yes; Hopper: the driver resets by itself). */
  needsReset?: boolean;
  instances: SimGi[];
}

export interface SimProcess {
  pid: number;
  /** The GPU's UUID (or one of its MIG devices' UUIDs). */
  gpuUuid: string;
  usedMiB: number;
  name?: string;
}

export interface SimState {
  version: 1;
  /** Keyed by GPU index. */
  gpus: Record<string, SimGpuMig>;
  processes: SimProcess[];
  /** Bumped on every create, so MIG UUIDs differ between incarnations. */
  serial: number;
}

export interface Output {
  stdout: string;
  exitCode: number;
}

export function emptySimState(): SimState {
  return { version: 1, gpus: {}, processes: [], serial: 0 };
}

/** nvidia-smi's exit statuses (nvidia-smi(1) RETURN VALUE). */
export const EXIT = { ok: 0, invalidArgument: 2, notSupported: 3, noPermission: 4, notFound: 6, driver: 9, other: 255 } as const;

const pad = (n: number | string, w = 2): string => String(n).padStart(w);

export function migOf(state: SimState, gpu: HwGpu): SimGpuMig {
  const key = String(gpu.index);
  return (state.gpus[key] ??= { current: 'Disabled', pending: 'Disabled', instances: [] });
}

/** Ampere and older MIG GPUs wait for a reset; the Hopper driver resets the GPU itself when nothing holds it. */
function needsReset(gpu: HwGpu, mig: SimGpuMig): boolean {
  return mig.needsReset ?? /A100|A800|A30\b/i.test(gpu.name);
}

function migUuids(mig: SimGpuMig): string[] {
  return mig.instances.flatMap((gi) => gi.cis.map((ci) => ci.uuid));
}

/** Processes on this GPU or on any of its MIG devices. */
export function processesOn(state: SimState, gpu: HwGpu): SimProcess[] {
  const mine = new Set([gpu.uuid, ...migUuids(migOf(state, gpu))]);
  return state.processes.filter((p) => mine.has(p.gpuUuid));
}

function selected(hw: readonly HwGpu[], ids: readonly number[] | null): HwGpu[] {
  return ids === null ? [...hw] : hw.filter((g) => ids.includes(g.index));
}

/** `-i` values that name no GPU: real nvidia-smi stops before doing anything. */
export function missingGpu(hw: readonly HwGpu[], ids: readonly number[] | null): Output | null {
  if (ids === null) return null;
  for (const id of ids) {
    if (!hw.some((g) => g.index === id)) return { stdout: `No devices were found\n`, exitCode: EXIT.notFound };
  }
  return null;
}

// ---------------------------------------------------------------- mode and reset

export function setMigMode(state: SimState, hw: readonly HwGpu[], ids: readonly number[] | null, enable: boolean): Output {
  const lines: string[] = [];
  let exitCode: number = EXIT.ok;
  const word = enable ? 'enable' : 'disable';
  const want: MigModeValue = enable ? 'Enabled' : 'Disabled';
  for (const gpu of selected(hw, ids)) {
    if (!migModelFor(gpu.name)) {
      lines.push(`Unable to ${word} MIG Mode for GPU ${gpu.busId}: Not Supported`);
      exitCode = EXIT.notSupported;
      continue;
    }
    const mig = migOf(state, gpu);
    if (!enable && mig.instances.length > 0) {
      // UNVERIFIED text: the driver refuses to leave MIG mode while GPU instances exist.
      lines.push(`Unable to disable MIG Mode for GPU ${gpu.busId}: In use by another client`);
      exitCode = EXIT.other;
      continue;
    }
    mig.pending = want;
    if (mig.current === want) {
      lines.push(`${enable ? 'Enabled' : 'Disabled'} MIG Mode for GPU ${gpu.busId}`);
      continue;
    }
    if (processesOn(state, gpu).length > 0) {
      lines.push(
        `Warning: MIG mode is in pending ${word} state for GPU ${gpu.busId}:In use by another client`,
        `${gpu.busId} is currently being used by one or more other processes (e.g. CUDA application or a monitoring application such as another instance of nvidia-smi). Please first kill all processes using the device and retry the command or reboot the system to make MIG mode effective.`,
      );
    } else if (needsReset(gpu, mig)) {
      lines.push(
        `Warning: MIG mode is in pending ${word} state for GPU ${gpu.busId}:Not Supported`,
        `Reboot the system or try nvidia-smi --gpu-reset to make MIG mode effective on GPU ${gpu.busId}`,
      );
    } else {
      mig.current = want;
      lines.push(`${enable ? 'Enabled' : 'Disabled'} MIG Mode for GPU ${gpu.busId}`);
    }
  }
  lines.push('All done.');
  return { stdout: lines.join('\n') + '\n', exitCode };
}

export function resetGpus(state: SimState, hw: readonly HwGpu[], ids: readonly number[] | null): Output {
  const busy = selected(hw, ids).filter((g) => processesOn(state, g).length > 0);
  if (busy.length > 0) {
    const lines = ['The following GPUs could not be reset:', ...busy.map((g) => `  GPU ${g.busId}: In use by another client`), ''];
    lines.push(
      `${busy.length} device${busy.length === 1 ? ' is' : 's are'} currently being used by one or more other processes (e.g., Fabric Manager, CUDA application, graphics application such as an X server, or a monitoring application such as another instance of nvidia-smi). Please first kill all processes using this device and all compute applications running in the system.`,
    );
    return { stdout: lines.join('\n') + '\n', exitCode: EXIT.other };
  }
  const lines: string[] = [];
  for (const gpu of selected(hw, ids)) {
    const mig = migOf(state, gpu);
    mig.current = mig.pending;
    // MIG instances live in the driver, not on the card: a reset loses them.
    mig.instances = [];
    lines.push(`GPU ${gpu.busId} was successfully reset.`);
  }
  lines.push('All done.');
  return { stdout: lines.join('\n') + '\n', exitCode: EXIT.ok };
}

// ---------------------------------------------------------------- geometry helpers

function enabledGpus(state: SimState, hw: readonly HwGpu[], ids: readonly number[] | null): { gpu: HwGpu; mig: SimGpuMig; model: MigModel }[] {
  const out: { gpu: HwGpu; mig: SimGpuMig; model: MigModel }[] = [];
  for (const gpu of selected(hw, ids)) {
    const model = migModelFor(gpu.name);
    const mig = migOf(state, gpu);
    if (model && mig.current === 'Enabled') out.push({ gpu, mig, model });
  }
  return out;
}

const NO_MIG: Output = { stdout: 'No MIG-enabled devices found.\n', exitCode: EXIT.notFound };

interface Usage {
  used: boolean[];
  compute: number;
  media: number;
  count: Map<string, number>;
}

function usage(model: MigModel, mig: SimGpuMig): Usage {
  const used = new Array<boolean>(model.memorySlices).fill(false);
  const count = new Map<string, number>();
  let compute = 0;
  let media = 0;
  for (const gi of mig.instances) {
    for (let k = gi.start; k < gi.start + gi.size; k++) used[k] = true;
    const p = model.profiles.find((x) => x.name === gi.profile);
    compute += p?.computeSlices ?? 0;
    if (p?.media) media++;
    count.set(gi.profile, (count.get(gi.profile) ?? 0) + 1);
  }
  return { used, compute, media, count };
}

function spanFree(u: Usage, start: number, size: number): boolean {
  return start + size <= u.used.length && u.used.slice(start, start + size).every((x) => !x);
}

/** Whether one more instance of p fits anywhere other than its placement (count, compute slices, media engines). */
function resourcesLeft(model: MigModel, u: Usage, p: MigProfile): boolean {
  if ((u.count.get(p.name) ?? 0) >= p.maxCount) return false;
  if (u.compute + p.computeSlices > model.computeSlices) return false;
  return !(p.media && u.media > 0);
}

/** How many more instances of p could still be created: the Free column of -lgip. */
function freeCount(model: MigModel, mig: SimGpuMig, p: MigProfile): number {
  const u = usage(model, mig);
  let n = 0;
  for (const start of p.starts) {
    if (!resourcesLeft(model, u, p) || !spanFree(u, start, p.memorySlices)) continue;
    for (let k = start; k < start + p.memorySlices; k++) u.used[k] = true;
    u.count.set(p.name, (u.count.get(p.name) ?? 0) + 1);
    u.compute += p.computeSlices;
    if (p.media) u.media++;
    n++;
  }
  return n;
}

/**
 * GI IDs come from a pool per placement size, as on real A100/H100 (8 slices:
 * 0; 4: 1-2; 2: 3-6; 1: 7-14). The lowest free one is handed out, so IDs are
 * not sequential across profiles and are reused after a destroy.
 */
function nextGiId(model: MigModel, mig: SimGpuMig, size: number): number {
  const slices = model.memorySlices;
  let first = 0;
  for (let s = slices; s > size; s /= 2) first += slices / s;
  const pool = Array.from({ length: slices / size }, (_, k) => first + k);
  const taken = new Set(mig.instances.map((g) => g.id));
  return pool.find((id) => !taken.has(id)) ?? Math.max(0, ...taken) + 1;
}

/** The CI profile ID of a GI's full-size compute instance (NVML enum by compute slices). */
function defaultCiProfileId(computeSlices: number): number {
  return ({ 1: 0, 2: 1, 3: 2, 4: 3, 7: 4, 8: 5, 6: 6 } as Record<number, number>)[computeSlices] ?? 0;
}

function migUuid(gpu: HwGpu, gi: number, ci: number, serial: number): string {
  const h = createHash('sha1').update(`${gpu.uuid}/${gi}/${ci}/${serial}`).digest('hex');
  const v = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `MIG-${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${v}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

// ---------------------------------------------------------------- listings

function box(width: number, title: string, header: string[], rows: string[][]): string {
  const border = `+${'-'.repeat(width)}+`;
  const line = (s: string) => `|${s.padEnd(width)}|`;
  const out = [border, line(` ${title}`), ...header.map(line), `|${'='.repeat(width)}|`];
  for (const r of rows) out.push(...r.map(line), border);
  return out.join('\n') + '\n';
}

export function listProfiles(state: SimState, hw: readonly HwGpu[], ids: readonly number[] | null): Output {
  const gpus = enabledGpus(state, hw, ids);
  if (gpus.length === 0) return NO_MIG;
  const rows: string[][] = [];
  for (const { gpu, mig, model } of gpus) {
    for (const p of model.profiles) {
      const free = freeCount(model, mig, p);
      const gib = (p.memoryMiB / 1024).toFixed(2);
      // Decoders per slice count as real A100/H100 -lgip prints them; +me profiles get the GPU's media engines.
      const dec = p.media ? 1 : ({ 1: 0, 2: 1, 3: 2, 4: 2, 7: 5 } as Record<number, number>)[p.computeSlices] ?? 0;
      const jpegOfa = p.media || p.computeSlices === model.computeSlices ? 1 : 0;
      rows.push([
        `${pad(gpu.index, 4)}  ${`MIG ${p.name}`.padEnd(16)}${pad(p.id, 4)}     ${`${free}/${p.maxCount}`.padEnd(11)}${gib.padEnd(11)}No     ${String(p.multiprocessors).padEnd(7)}${String(dec).padEnd(6)}0`,
        `${' '.repeat(61)}${String(p.computeSlices).padEnd(6)}${String(jpegOfa).padEnd(6)}${jpegOfa}`,
      ]);
    }
  }
  return {
    stdout: box(77, 'GPU instance profiles:', [' GPU   Name             ID    Instances   Memory     P2P    SM    DEC   ENC  ', '                              Free/Total   GiB              CE    JPEG  OFA  '], rows),
    exitCode: EXIT.ok,
  };
}

export function listPlacements(state: SimState, hw: readonly HwGpu[], ids: readonly number[] | null): Output {
  const gpus = enabledGpus(state, hw, ids);
  if (gpus.length === 0) return NO_MIG;
  const lines: string[] = [];
  for (const { gpu, model } of gpus) {
    for (const p of model.profiles) {
      const many = p.starts.length > 1;
      lines.push(`GPU ${pad(gpu.index)} Profile ID ${pad(p.id)} ${many ? 'Placements:' : 'Placement :'} {${p.starts.join(',')}}:${p.memorySlices}`);
    }
  }
  return { stdout: lines.join('\n') + '\n', exitCode: EXIT.ok };
}

export function listGpuInstances(state: SimState, hw: readonly HwGpu[], ids: readonly number[] | null): Output {
  const gpus = enabledGpus(state, hw, ids);
  if (gpus.length === 0) return NO_MIG;
  const rows: string[][] = [];
  for (const { gpu, mig } of gpus) {
    for (const gi of [...mig.instances].sort((a, b) => a.id - b.id)) {
      rows.push([`${pad(gpu.index, 4)}  ${`MIG ${gi.profile}`.padEnd(16)}${pad(gi.profileId, 6)}${pad(gi.id, 9)}${pad(`${gi.start}:${gi.size}`, 13)}     `]);
    }
  }
  if (rows.length === 0) return { stdout: 'No GPU instances found: Not Found\n', exitCode: EXIT.notFound };
  return { stdout: box(55, 'GPU instances:', [' GPU   Name             Profile  Instance   Placement  ', '                          ID       ID       Start:Size '], rows), exitCode: EXIT.ok };
}

export function listComputeInstances(state: SimState, hw: readonly HwGpu[], ids: readonly number[] | null, giFilter: number | null): Output {
  const gpus = enabledGpus(state, hw, ids);
  if (gpus.length === 0) return NO_MIG;
  const rows: string[][] = [];
  for (const { gpu, mig } of gpus) {
    for (const gi of [...mig.instances].sort((a, b) => a.id - b.id)) {
      if (giFilter !== null && gi.id !== giFilter) continue;
      for (const ci of gi.cis) {
        rows.push([`${pad(gpu.index, 4)}${pad(gi.id, 7)}       ${`MIG ${ci.profile}`.padEnd(16)}${pad(ci.profileId, 6)}${pad(ci.id, 10)}${pad(`${ci.start}:${ci.size}`, 13)}     `]);
      }
    }
  }
  if (rows.length === 0) return { stdout: 'No compute instances found: Not Found\n', exitCode: EXIT.notFound };
  return {
    stdout: box(68, 'Compute instances:', [' GPU     GPU       Name             Profile   Instance   Placement  ', '       Instance                       ID        ID       Start:Size ', '         ID                                                         '], rows),
    exitCode: EXIT.ok,
  };
}

/** `nvidia-smi -L`: each GPU, then one line per compute instance (a MIG device), numbered per GPU. */
export function listDevices(state: SimState, hw: readonly HwGpu[], ids: readonly number[] | null): Output {
  const lines: string[] = [];
  for (const gpu of selected(hw, ids)) {
    lines.push(`GPU ${gpu.index}: ${gpu.name} (UUID: ${gpu.uuid})`);
    const mig = migOf(state, gpu);
    if (mig.current !== 'Enabled') continue;
    let device = 0;
    for (const gi of [...mig.instances].sort((a, b) => a.start - b.start || a.id - b.id)) {
      for (const ci of gi.cis) lines.push(`  MIG ${ci.profile.padEnd(11)} Device ${pad(device++)}: (UUID: ${ci.uuid})`);
    }
  }
  return { stdout: lines.join('\n') + (lines.length ? '\n' : ''), exitCode: EXIT.ok };
}

// ---------------------------------------------------------------- create and destroy

export interface CgiRequest {
  /** Profile ID or name, as typed after -cgi. */
  profile: string;
  start: number | null;
}

/** Parses the -cgi list: `9,14:4,1g.10gb`, each entry optionally `:start`. Null when it is not that syntax. */
export function parseCgiList(text: string): CgiRequest[] | null {
  const out: CgiRequest[] = [];
  for (const part of text.split(',')) {
    const m = /^(?:MIG\s+)?([0-9]+|[0-9a-z.+-]+?)(?::([0-9]+))?$/i.exec(part.trim());
    if (!m) return null;
    out.push({ profile: m[1]!, start: m[2] === undefined ? null : Number(m[2]) });
  }
  return out.length ? out : null;
}

export function createGpuInstances(state: SimState, hw: readonly HwGpu[], ids: readonly number[] | null, list: string, withDefaultCi: boolean): Output {
  const reqs = parseCgiList(list);
  if (!reqs) return { stdout: `Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n`, exitCode: EXIT.invalidArgument };
  const gpus = enabledGpus(state, hw, ids);
  if (gpus.length === 0) return NO_MIG;
  const lines: string[] = [];
  const fail = (gpu: HwGpu, what: string, why: string, overall: string, exitCode: number): Output => {
    lines.push(`Unable to create a GPU instance on GPU ${pad(gpu.index)} using profile ${what}: ${why}`, `Failed to create GPU instances: ${overall}`);
    return { stdout: lines.join('\n') + '\n', exitCode };
  };
  for (const { gpu, mig, model } of gpus) {
    for (const req of reqs) {
      const p = /^\d+$/.test(req.profile) ? model.profiles.find((x) => x.id === Number(req.profile)) : model.profiles.find((x) => x.name === req.profile);
      if (!p) return fail(gpu, req.profile, 'Not Found', 'Not Found', EXIT.notFound);
      const u = usage(model, mig);
      let start: number | undefined;
      if (req.start !== null) {
        if (!p.starts.includes(req.start)) return fail(gpu, `${p.id} at placement ${req.start}:${p.memorySlices}`, 'Invalid placement', 'Invalid Argument', EXIT.invalidArgument);
        if (resourcesLeft(model, u, p) && spanFree(u, req.start, p.memorySlices)) start = req.start;
      } else if (resourcesLeft(model, u, p)) {
        // Without a placement the driver takes the highest free one (a real `-cgi 9,9` gives 4:4 first, then 0:4).
        start = [...p.starts].reverse().find((s) => spanFree(u, s, p.memorySlices));
      }
      if (start === undefined) return fail(gpu, String(p.id), 'Insufficient Resources', 'Insufficient Resources', EXIT.other);
      const gi: SimGi = { id: nextGiId(model, mig, p.memorySlices), profileId: p.id, profile: p.name, start, size: p.memorySlices, cis: [] };
      mig.instances.push(gi);
      state.serial++;
      lines.push(`Successfully created GPU instance ID ${pad(gi.id)} on GPU ${pad(gpu.index)} using profile MIG ${p.name} (ID ${pad(p.id)})`);
      if (withDefaultCi) {
        const ci: SimCi = { id: 0, profileId: defaultCiProfileId(p.computeSlices), profile: p.name, start: 0, size: p.computeSlices, uuid: migUuid(gpu, gi.id, 0, state.serial) };
        gi.cis.push(ci);
        lines.push(`Successfully created compute instance ID ${pad(ci.id)} on GPU ${pad(gpu.index)} GPU instance ID ${pad(gi.id)} using profile MIG ${ci.profile} (ID ${pad(ci.profileId)})`);
      }
    }
  }
  return { stdout: lines.join('\n') + '\n', exitCode: EXIT.ok };
}

export function destroyComputeInstances(state: SimState, hw: readonly HwGpu[], ids: readonly number[] | null, giFilter: number | null, ciFilter: number | null): Output {
  const gpus = enabledGpus(state, hw, ids);
  if (gpus.length === 0) return NO_MIG;
  const lines: string[] = [];
  let found = 0;
  for (const { gpu, mig } of gpus) {
    const busy = processesOn(state, gpu);
    for (const gi of [...mig.instances].sort((a, b) => a.id - b.id)) {
      if (giFilter !== null && gi.id !== giFilter) continue;
      for (const ci of [...gi.cis]) {
        if (ciFilter !== null && ci.id !== ciFilter) continue;
        found++;
        if (busy.some((p) => p.gpuUuid === ci.uuid || p.gpuUuid === gpu.uuid)) {
          lines.push(`Unable to destroy compute instance ID ${pad(ci.id)} from GPU ${pad(gpu.index)} GPU instance ID ${pad(gi.id)}: In use by another client`, 'Failed to destroy compute instances: In use by another client');
          return { stdout: lines.join('\n') + '\n', exitCode: EXIT.other };
        }
        gi.cis = gi.cis.filter((c) => c !== ci);
        lines.push(`Successfully destroyed compute instance ID ${pad(ci.id)} from GPU ${pad(gpu.index)} GPU instance ID ${pad(gi.id)}`);
      }
    }
  }
  if (found === 0) return { stdout: 'No compute instances found: Not Found\n', exitCode: EXIT.notFound };
  return { stdout: lines.join('\n') + '\n', exitCode: EXIT.ok };
}

export function destroyGpuInstances(state: SimState, hw: readonly HwGpu[], ids: readonly number[] | null, giFilter: number | null): Output {
  const gpus = enabledGpus(state, hw, ids);
  if (gpus.length === 0) return NO_MIG;
  const lines: string[] = [];
  let found = 0;
  for (const { gpu, mig } of gpus) {
    for (const gi of [...mig.instances].sort((a, b) => a.id - b.id)) {
      if (giFilter !== null && gi.id !== giFilter) continue;
      found++;
      if (gi.cis.length > 0) {
        lines.push(`Unable to destroy GPU instance ID ${pad(gi.id)} from GPU ${pad(gpu.index)}: In use by another client`, 'Failed to destroy GPU instances: In use by another client');
        return { stdout: lines.join('\n') + '\n', exitCode: EXIT.other };
      }
      mig.instances = mig.instances.filter((g) => g !== gi);
      lines.push(`Successfully destroyed GPU instance ID ${pad(gi.id)} from GPU ${pad(gpu.index)}`);
    }
  }
  if (found === 0) return { stdout: 'No GPU instances found: Not Found\n', exitCode: EXIT.notFound };
  return { stdout: lines.join('\n') + '\n', exitCode: EXIT.ok };
}

// ---------------------------------------------------------------- processes

const APP_FIELDS: Record<string, { header: string; unit?: string; value: (p: SimProcess, gpu: HwGpu | undefined) => string }> = {
  pid: { header: 'pid', value: (p) => String(p.pid) },
  process_name: { header: 'process_name', value: (p) => p.name ?? 'python3' },
  gpu_uuid: { header: 'gpu_uuid', value: (p, g) => g?.uuid ?? p.gpuUuid },
  gpu_bus_id: { header: 'gpu_bus_id', value: (_p, g) => g?.busId ?? '[N/A]' },
  used_memory: { header: 'used_gpu_memory', unit: 'MiB', value: (p) => String(p.usedMiB) },
  used_gpu_memory: { header: 'used_gpu_memory', unit: 'MiB', value: (p) => String(p.usedMiB) },
};

/** `--query-compute-apps=...`: processes on MIG devices are reported under their parent GPU's UUID, as the real tool does. */
export function queryComputeApps(state: SimState, hw: readonly HwGpu[], ids: readonly number[] | null, fields: string, format: string): Output {
  const names = fields.split(',');
  for (const f of names) {
    if (!APP_FIELDS[f]) return { stdout: `Field "${f}" is not a valid field to query.\n\n`, exitCode: EXIT.invalidArgument };
  }
  const opts = new Set(format.split(','));
  if (!opts.has('csv')) return { stdout: `Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n`, exitCode: EXIT.invalidArgument };
  const units = !opts.has('nounits');
  const lines: string[] = [];
  if (!opts.has('noheader')) lines.push(names.map((f) => (APP_FIELDS[f]!.unit ? `${APP_FIELDS[f]!.header} [${APP_FIELDS[f]!.unit}]` : APP_FIELDS[f]!.header)).join(', '));
  for (const gpu of selected(hw, ids)) {
    for (const p of processesOn(state, gpu)) {
      lines.push(names.map((f) => APP_FIELDS[f]!.value(p, gpu) + (units && APP_FIELDS[f]!.unit ? ` ${APP_FIELDS[f]!.unit}` : '')).join(', '));
    }
  }
  return { stdout: lines.join('\n') + (lines.length ? '\n' : ''), exitCode: EXIT.ok };
}
