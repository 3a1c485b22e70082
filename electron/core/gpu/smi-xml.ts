/**
 * `nvidia-smi -q -x`. The schema drifts between driver branches (v10..v13 and
 * whatever comes next), so every field is looked up by the names it has had
 * and anything unknown is ignored: the report carries what was understood,
 * and warnings say what was not.
 */
import { emptyGpu, emptyMigDevice, emptyReport } from './gpu-report.ts';
import type { GpuEntry, GpuReport, MigDevice } from './gpu-report.ts';
import { at, childElement, childElements, parseXml, textAt } from './xml.ts';
import type { XmlElement } from './xml.ts';
import { intValue, modeValue, numberOrWarn, readNumber, textValue } from './values.ts';

const KNOWN_SCHEMAS = { min: 10, max: 13 };

/** Power draw has lived under several names; the first one with a number wins. */
const POWER_PATHS: readonly (readonly string[])[] = [
  ['gpu_power_readings', 'power_draw'],
  ['power_readings', 'power_draw'],
  // R575+ (seen under DTD v12 and v13) dropped power_draw for these two.
  ['gpu_power_readings', 'average_power_draw'],
  ['gpu_power_readings', 'instant_power_draw'],
  ['power_readings', 'average_power_draw'],
  ['power_readings', 'instant_power_draw'],
];

export function parseSmiXml(text: string): GpuReport {
  const report = emptyReport('nvidia-smi-xml');
  const w = report.warnings;
  const doc = parseXml(text);
  if (doc.truncated) w.push(`truncated XML: ${doc.truncated}`);
  for (const p of doc.problems) w.push(`malformed XML: ${p}`);

  const schema = /nvsmi_device_v(\d+)\.dtd/i.exec(doc.doctype ?? '');
  if (schema) {
    const v = Number(schema[1]);
    if (v < KNOWN_SCHEMAS.min || v > KNOWN_SCHEMAS.max) {
      w.push(`schema nvsmi_device_v${v} is not one of v${KNOWN_SCHEMAS.min}..v${KNOWN_SCHEMAS.max}; read the elements it shares with them`);
    }
  }

  const root = doc.root;
  if (!root) {
    if (!doc.truncated) w.push('no XML root element');
    return report;
  }
  if (root.name !== 'nvidia_smi_log') w.push(`root element is <${root.name}>, expected <nvidia_smi_log>`);
  readSmiLog(root, report);
  return report;
}

/**
 * Fills a report from an <nvidia_smi_log> tree. Shared with the `nvidia-smi -q`
 * text reader, which builds the same tree from the indented listing so both
 * formats are read by one set of rules.
 */
export function readSmiLog(root: XmlElement, report: GpuReport): void {
  const w = report.warnings;
  report.driverVersion = textValue(textAt(root, 'driver_version'));
  report.cudaVersion = textValue(textAt(root, 'cuda_version'));

  const gpuEls = childElements(root, 'gpu');
  // nvidia-smi lists GPUs in index order and the XML has no index element, so position is the index.
  report.gpus = gpuEls.map((el, ordinal) => readGpu(el, ordinal, w));

  const attached = intValue(textAt(root, 'attached_gpus'));
  if (attached !== null && attached !== report.gpus.length) {
    w.push(`attached_gpus says ${attached} but ${report.gpus.length} <gpu> element(s) were read`);
  }
  if (gpuEls.length === 0 && attached === null && report.driverVersion === null) {
    w.push(`no <gpu>, <driver_version> or <attached_gpus> under <${root.name}>`);
  }
}

function readGpu(el: XmlElement, ordinal: number, w: string[]): GpuEntry {
  const gpu = emptyGpu(ordinal);
  gpu.pciBusId = textValue(el.attrs['id']) ?? textValue(textAt(el, 'pci', 'pci_bus_id'));
  const where = `gpu ${ordinal}${gpu.pciBusId ? ` (${gpu.pciBusId})` : ''}`;
  const num = (kind: Parameters<typeof numberOrWarn>[1], ...path: string[]) =>
    numberOrWarn(textAt(el, ...path), kind, `${where} ${path.join('/')}`, w);

  gpu.uuid = textValue(textAt(el, 'uuid'));
  gpu.product = textValue(textAt(el, 'product_name'));
  gpu.memoryTotalMiB = num('MiB', 'fb_memory_usage', 'total');
  gpu.memoryUsedMiB = num('MiB', 'fb_memory_usage', 'used');
  gpu.temperatureC = num('C', 'temperature', 'gpu_temp');
  gpu.utilizationPct = num('%', 'utilization', 'gpu_util');
  gpu.powerDrawW = readPower(el, where, w);

  const migMode = childElement(el, 'mig_mode');
  if (migMode) {
    gpu.migMode = { current: modeValue(textAt(migMode, 'current_mig')), pending: modeValue(textAt(migMode, 'pending_mig')) };
  }
  const migDevices = childElement(el, 'mig_devices');
  if (migDevices) {
    gpu.migDevices = childElements(migDevices, 'mig_device').map((d) => readMigDevice(d, `${where} mig_device`, w));
  }

  const processes = childElement(el, 'processes');
  if (processes) {
    gpu.processes = childElements(processes, 'process_info').map((p) => ({
      pid: intValue(textAt(p, 'pid')),
      type: textValue(textAt(p, 'type')),
      name: textValue(textAt(p, 'process_name')),
      usedMemoryMiB: numberOrWarn(textAt(p, 'used_memory'), 'MiB', `${where} process used_memory`, w),
      gpuInstanceId: intValue(textAt(p, 'gpu_instance_id')),
      computeInstanceId: intValue(textAt(p, 'compute_instance_id')),
    }));
  }

  const ecc = childElement(el, 'ecc_errors');
  if (ecc) {
    gpu.eccUncorrectable = uncorrectable(childElement(ecc, 'volatile'));
    gpu.eccUncorrectableAggregate = uncorrectable(childElement(ecc, 'aggregate'));
  }
  return gpu;
}

function readPower(el: XmlElement, where: string, w: string[]): number | null {
  let sawElement = false;
  for (const path of POWER_PATHS) {
    const raw = textAt(el, ...path);
    if (raw === undefined) continue;
    sawElement = true;
    const r = readNumber(raw, 'W');
    if (r.kind === 'value') return r.value;
    if (r.kind === 'invalid') w.push(`${where} ${path.join('/')}: cannot read ${JSON.stringify(r.raw)} as W`);
  }
  if (!sawElement && el.closed) {
    w.push(`${where}: no power draw element (looked for ${POWER_PATHS.map((p) => p.join('/')).join(', ')})`);
  }
  return null;
}

function readMigDevice(d: XmlElement, where: string, w: string[]): MigDevice {
  const dev = emptyMigDevice();
  dev.index = intValue(textAt(d, 'index'));
  dev.gpuInstanceId = intValue(textAt(d, 'gpu_instance_id'));
  dev.computeInstanceId = intValue(textAt(d, 'compute_instance_id'));
  const label = `${where} ${dev.index ?? '?'}`;
  dev.memoryTotalMiB = numberOrWarn(textAt(d, 'fb_memory_usage', 'total'), 'MiB', `${label} fb_memory_usage/total`, w);
  dev.multiprocessors = intValue(
    textAt(d, 'device_attributes', 'shared', 'multiprocessor_count') ?? textAt(d, 'device_attributes', 'multiprocessor_count'),
  );
  return dev;
}

/**
 * Uncorrectable ECC count in one scope (<volatile> or <aggregate>).
 * Pre-Ampere boards report <double_bit><total>; later ones split SRAM and
 * DRAM, and R550+ splits SRAM further into _parity/_secded. A total and its
 * own breakdown are never both counted.
 */
function uncorrectable(scope: XmlElement | undefined): number | null {
  if (!scope) return null;
  const doubleBit = at(scope, 'double_bit', 'total');
  if (doubleBit) return count(textAt(scope, 'double_bit', 'total'));

  const leaves = scope.children.filter((c) => c.children.length === 0 && /uncorrectable/.test(c.name));
  const names = new Set(leaves.map((c) => c.name));
  let total: number | null = null;
  for (const leaf of leaves) {
    const parent = [...names].find((n) => n !== leaf.name && leaf.name.startsWith(`${n}_`));
    if (parent) continue;
    const v = count(leaf.closed ? leaf.text : undefined);
    if (v !== null) total = (total ?? 0) + v;
  }
  return total;
}

function count(raw: string | undefined): number | null {
  const r = readNumber(raw, 'count');
  return r.kind === 'value' ? r.value : null;
}
