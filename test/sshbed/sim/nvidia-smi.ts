/**
 * The sshbed hosts' nvidia-smi: prints the real output formats (-L,
 * --query-gpu and --query-compute-apps CSV, a small -q -x, the `mig`
 * listings) from the host's state files and changes MIG state the way the
 * real tool does (-mig, -r, mig -cgi/-dci/-dgi). Started by a wrapper that
 * sshd finds on PATH (written by SshdHost with absolute paths, since a login
 * has a minimal PATH); TESSERA_SIM_DIR names the host's directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { migModelFor } from '../../../shared/gpu/mig-geometry.ts';
import {
  EXIT,
  createGpuInstances,
  destroyComputeInstances,
  destroyGpuInstances,
  listComputeInstances,
  listDevices,
  listGpuInstances,
  listPlacements,
  listProfiles,
  migOf,
  missingGpu,
  processesOn,
  queryComputeApps,
  resetGpus,
  setMigMode,
} from './mig-sim.ts';
import type { HwGpu, Output, SimState } from './mig-sim.ts';
import { FILES, readHardware, readSimState, withStateLock, writeSimState } from './sim-state.ts';

const INVALID: Output = { stdout: `Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n`, exitCode: EXIT.invalidArgument };
const NO_DRIVER: Output = {
  stdout: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n",
  exitCode: EXIT.driver,
};

/** `-i 0`, `-i 0,1`; null when any part is not an index (real nvidia-smi also takes UUIDs and bus ids; Tessera only sends indexes). */
function gpuIds(v: string | undefined): number[] | null {
  if (v === undefined || !/^\d+(,\d+)*$/.test(v)) return null;
  return v.split(',').map(Number);
}

function intArg(v: string | undefined): number | null {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
}

export function run(dir: string, argv: readonly string[]): Output {
  const hw = readHardware(dir);
  if (hw.length === 0 || fs.existsSync(path.join(dir, FILES.installing))) return NO_DRIVER;
  const pending = readPending(dir);
  // The user-space library is the new one, the loaded kernel module the old one. UNVERIFIED: the exit status (18, NVML's
  // NVML_ERROR_LIB_RM_VERSION_MISMATCH); the message is the one users report.
  if (pending) return { stdout: `Failed to initialize NVML: Driver/library version mismatch\nNVML library version: ${pending}\n`, exitCode: 18 };
  return withStateLock(dir, () => {
    const state = readSimState(dir);
    const before = JSON.stringify(state);
    const out = argv[0] === 'mig' ? migCommand(state, hw, argv.slice(1)) : topCommand(state, hw, argv);
    if (JSON.stringify(state) !== before) writeSimState(dir, state);
    return out;
  });
}

function readPending(dir: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, FILES.driverPending), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function migCommand(state: SimState, hw: HwGpu[], args: readonly string[]): Output {
  let ids: number[] | null = null;
  let action: string | null = null;
  let cgi: string | undefined;
  let withCi = false;
  let gi: number | null = null;
  let ci: number | null = null;
  for (let k = 0; k < args.length; k++) {
    const a = args[k]!;
    const value = (): string | undefined => args[++k];
    switch (a) {
      case '-i':
      case '--id': {
        ids = gpuIds(value());
        if (ids === null) return INVALID;
        break;
      }
      case '-lgip':
      case '--list-gpu-instance-profiles':
      case '-lgipp':
      case '--list-gpu-instance-possible-placements':
      case '-lgi':
      case '--list-gpu-instances':
      case '-lci':
      case '--list-compute-instances':
      case '-dci':
      case '--destroy-compute-instance':
      case '-dgi':
      case '--destroy-gpu-instance':
        if (action) return INVALID;
        action = a.startsWith('--') ? LONG[a]! : a;
        break;
      case '-cgi':
      case '--create-gpu-instance':
        if (action) return INVALID;
        action = '-cgi';
        cgi = value();
        if (cgi === undefined) return INVALID;
        break;
      case '-C':
      case '--default-compute-instance':
        withCi = true;
        break;
      case '-gi':
      case '--gpu-instance-id':
        gi = intArg(value());
        if (gi === null) return INVALID;
        break;
      case '-ci':
      case '--compute-instance-id':
        ci = intArg(value());
        if (ci === null) return INVALID;
        break;
      default:
        return INVALID;
    }
  }
  const missing = missingGpu(hw, ids);
  if (missing) return missing;
  if (withCi && action !== '-cgi') return INVALID;
  switch (action) {
    case '-lgip':
      return listProfiles(state, hw, ids);
    case '-lgipp':
      return listPlacements(state, hw, ids);
    case '-lgi':
      return listGpuInstances(state, hw, ids);
    case '-lci':
      return listComputeInstances(state, hw, ids, gi);
    case '-cgi':
      return createGpuInstances(state, hw, ids, cgi!, withCi);
    case '-dci':
      return destroyComputeInstances(state, hw, ids, gi, ci);
    case '-dgi':
      return destroyGpuInstances(state, hw, ids, gi);
    default:
      return INVALID;
  }
}

const LONG: Record<string, string> = {
  '--list-gpu-instance-profiles': '-lgip',
  '--list-gpu-instance-possible-placements': '-lgipp',
  '--list-gpu-instances': '-lgi',
  '--list-compute-instances': '-lci',
  '--destroy-compute-instance': '-dci',
  '--destroy-gpu-instance': '-dgi',
};

function topCommand(state: SimState, hw: HwGpu[], args: readonly string[]): Output {
  let mode = '';
  let ids: number[] | null = null;
  let xml = false;
  let fields = '';
  let format = '';
  let migValue: string | undefined;
  for (let k = 0; k < args.length; k++) {
    const a = args[k]!;
    if (a === '-L' || a === '--list-gpus') mode = 'list';
    else if (a === '-q' || a === '--query') mode = 'query';
    else if (a === '-x' || a === '--xml-format') xml = true;
    else if (a === '-i' || a === '--id') {
      ids = gpuIds(args[++k]);
      if (ids === null) return INVALID;
    } else if (a.startsWith('--query-gpu=')) {
      mode = 'csv';
      fields = a.slice('--query-gpu='.length);
    } else if (a.startsWith('--query-compute-apps=')) {
      mode = 'apps';
      fields = a.slice('--query-compute-apps='.length);
    } else if (a.startsWith('--format=')) format = a.slice('--format='.length);
    else if (a === '-mig' || a === '--multi-instance-gpu') {
      mode = 'mig';
      migValue = args[++k];
    } else if (a.startsWith('--multi-instance-gpu=')) {
      mode = 'mig';
      migValue = a.slice('--multi-instance-gpu='.length);
    } else if (a === '-r' || a === '--gpu-reset') mode = 'reset';
    else return INVALID;
  }
  const missing = missingGpu(hw, ids);
  if (missing) return missing;
  switch (mode) {
    case 'list':
      return listDevices(state, hw, ids);
    case 'csv':
      return queryGpuCsv(state, hw, ids, fields, format);
    case 'apps':
      return queryComputeApps(state, hw, ids, fields, format);
    case 'query':
      return xml ? queryXml(state, hw, ids) : INVALID;
    case 'mig':
      if (migValue !== '0' && migValue !== '1') return INVALID;
      return setMigMode(state, hw, ids, migValue === '1');
    case 'reset':
      // The real tool resets one GPU at a time and wants it named.
      if (ids === null) return { stdout: 'Option "-r" requires "-i" to be specified.\n', exitCode: EXIT.invalidArgument };
      return resetGpus(state, hw, ids);
    default:
      return INVALID;
  }
}

const CSV_FIELDS: Record<string, { unit?: string; value: (g: HwGpu, s: SimState, count: number) => string }> = {
  index: { value: (g) => String(g.index) },
  name: { value: (g) => g.name },
  uuid: { value: (g) => g.uuid },
  'memory.total': { unit: 'MiB', value: (g) => String(g.memTotalMiB) },
  'memory.used': { unit: 'MiB', value: (g) => String(g.memUsedMiB) },
  'memory.free': { unit: 'MiB', value: (g) => String(g.memTotalMiB - g.memUsedMiB) },
  'utilization.gpu': { unit: '%', value: (g) => String(g.utilization) },
  'temperature.gpu': { value: (g) => String(g.temperatureC) },
  'power.draw': { unit: 'W', value: (g) => g.powerW.toFixed(2) },
  driver_version: { value: (g) => g.driver },
  'pci.bus_id': { value: (g) => g.busId },
  count: { value: (_g, _s, n) => String(n) },
  'mig.mode.current': { value: (g, s) => (migModelFor(g.name) ? migOf(s, g).current : '[N/A]') },
  'mig.mode.pending': { value: (g, s) => (migModelFor(g.name) ? migOf(s, g).pending : '[N/A]') },
};

function queryGpuCsv(state: SimState, hw: HwGpu[], ids: number[] | null, fields: string, format: string): Output {
  const opts = new Set(format.split(','));
  if (!opts.has('csv')) return INVALID;
  const names = fields.split(',');
  for (const f of names) if (!CSV_FIELDS[f]) return { stdout: `Field "${f}" is not a valid field to query.\n\n`, exitCode: EXIT.invalidArgument };
  const units = !opts.has('nounits');
  const lines: string[] = [];
  // The header names the unit even with nounits; only the values drop it.
  if (!opts.has('noheader')) lines.push(names.map((f) => (CSV_FIELDS[f]!.unit ? `${f} [${CSV_FIELDS[f]!.unit}]` : f)).join(', '));
  for (const g of hw) {
    if (ids !== null && !ids.includes(g.index)) continue;
    lines.push(names.map((f) => CSV_FIELDS[f]!.value(g, state, hw.length) + (units && CSV_FIELDS[f]!.unit ? ` ${CSV_FIELDS[f]!.unit}` : '')).join(', '));
  }
  return { stdout: lines.join('\n') + '\n', exitCode: EXIT.ok };
}

/** The CUDA version a driver branch reports (the highest it supports). */
function cudaOf(major: number): string {
  if (major >= 580) return '13.0';
  if (major >= 570) return '12.8';
  if (major >= 560) return '12.6';
  if (major >= 550) return '12.4';
  if (major >= 535) return '12.2';
  return '12.0';
}

function queryXml(state: SimState, hw: HwGpu[], ids: number[] | null): Output {
  const gpus = hw.filter((g) => ids === null || ids.includes(g.index));
  const driver = hw[hw.length - 1]!.driver;
  const major = Number(driver.split('.')[0]);
  // Schema v13 from R580 on (captured on a real H100 with 580.159.04); v12 for R525-R575.
  const v13 = major >= 580;
  const out = [
    '<?xml version="1.0" ?>',
    `<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v${v13 ? 13 : 12}.dtd">`,
    '<nvidia_smi_log>',
    '\t<timestamp>Mon Mar  9 10:00:00 2026</timestamp>',
    `\t<driver_version>${driver}</driver_version>`,
    `\t<cuda_version>${cudaOf(major)}</cuda_version>`,
    `\t<attached_gpus>${gpus.length}</attached_gpus>`,
  ];
  for (const g of gpus) {
    const capable = migModelFor(g.name) !== undefined;
    const mig = migOf(state, g);
    out.push(`\t<gpu id="${g.busId}">`, `\t\t<product_name>${g.name}</product_name>`);
    out.push(`\t\t<mig_mode>\n\t\t\t<current_mig>${capable ? mig.current : 'N/A'}</current_mig>\n\t\t\t<pending_mig>${capable ? mig.pending : 'N/A'}</pending_mig>\n\t\t</mig_mode>`);
    const devices = capable && mig.current === 'Enabled' ? [...mig.instances].sort((a, b) => a.start - b.start || a.id - b.id).flatMap((gi) => gi.cis.map((ci) => ({ gi, ci }))) : [];
    if (devices.length === 0) out.push('\t\t<mig_devices>None</mig_devices>');
    else {
      out.push('\t\t<mig_devices>');
      devices.forEach(({ gi, ci }, index) => {
        out.push(`\t\t\t<mig_device>\n\t\t\t\t<index>${index}</index>\n\t\t\t\t<gpu_instance_id>${gi.id}</gpu_instance_id>\n\t\t\t\t<compute_instance_id>${ci.id}</compute_instance_id>\n\t\t\t</mig_device>`);
      });
      out.push('\t\t</mig_devices>');
    }
    out.push(`\t\t<uuid>${g.uuid}</uuid>`, `\t\t<minor_number>${g.index}</minor_number>`);
    out.push(`\t\t<fb_memory_usage>\n\t\t\t<total>${g.memTotalMiB} MiB</total>\n\t\t\t<used>${g.memUsedMiB} MiB</used>\n\t\t\t<free>${g.memTotalMiB - g.memUsedMiB} MiB</free>\n\t\t</fb_memory_usage>`);
    out.push(`\t\t<utilization>\n\t\t\t<gpu_util>${g.utilization} %</gpu_util>\n\t\t</utilization>`);
    out.push(`\t\t<temperature>\n\t\t\t<gpu_temp>${g.temperatureC} C</gpu_temp>\n\t\t</temperature>`);
    const power = v13
      ? `\t\t\t<average_power_draw>${g.powerW.toFixed(2)} W</average_power_draw>\n\t\t\t<instant_power_draw>${g.powerW.toFixed(2)} W</instant_power_draw>`
      : `\t\t\t<power_draw>${g.powerW.toFixed(2)} W</power_draw>`;
    out.push(`\t\t<gpu_power_readings>\n${power}\n\t\t</gpu_power_readings>`);
    // As R580 lists them (captured on a real H100 under load): N/A instance ids outside MIG, memory in MiB.
    out.push('\t\t<processes>');
    for (const p of processesOn(state, g)) {
      const inMig = devices.find(({ ci }) => ci.uuid === p.gpuUuid);
      out.push(
        '\t\t\t<process_info>',
        `\t\t\t\t<gpu_instance_id>${inMig ? inMig.gi.id : 'N/A'}</gpu_instance_id>`,
        `\t\t\t\t<compute_instance_id>${inMig ? inMig.ci.id : 'N/A'}</compute_instance_id>`,
        `\t\t\t\t<pid>${p.pid}</pid>`,
        '\t\t\t\t<type>C</type>',
        `\t\t\t\t<process_name>${(p.name ?? 'python3').replace(/&/g, '&amp;').replace(/</g, '&lt;')}</process_name>`,
        `\t\t\t\t<used_memory>${p.usedMiB} MiB</used_memory>`,
        '\t\t\t</process_info>',
      );
    }
    out.push('\t\t</processes>');
    out.push('\t</gpu>');
  }
  out.push('</nvidia_smi_log>');
  return { stdout: out.join('\n') + '\n', exitCode: EXIT.ok };
}

function main(): void {
  const dir = process.env.TESSERA_SIM_DIR;
  if (!dir) {
    process.stdout.write('nvidia-smi stand-in: TESSERA_SIM_DIR is not set\n');
    process.exit(EXIT.other);
  }
  const argv = process.argv.slice(2);
  try {
    fs.appendFileSync(path.join(dir, FILES.calls), argv.join(' ') + '\n');
  } catch {
    // the log is a convenience for tests, never a reason to fail
  }
  const out = run(dir, argv);
  process.stdout.write(out.stdout, () => process.exit(out.exitCode));
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) main();
