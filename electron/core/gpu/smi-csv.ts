/**
 * `nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]`.
 * The header (when present) names the fields and carries units
 * ("memory.total [MiB]"); with `noheader` the caller must say which fields
 * were queried. Values may carry units too ("40960 MiB") or be "[N/A]".
 */
import { emptyGpu, emptyReport } from './gpu-report.ts';
import type { GpuEntry, GpuReport } from './gpu-report.ts';
import { contentLines } from './lines.ts';
import { intValue, modeValue, numberOrWarn, textValue, truncate } from './values.ts';
import type { UnitKind } from './values.ts';

export interface SmiCsvOptions {
  /** The --query-gpu field list, for output printed with `noheader`. */
  fields?: readonly string[];
}

/** Second names nvidia-smi accepts for the same field. */
const ALIASES: Record<string, string> = {
  gpu_name: 'name',
  gpu_uuid: 'uuid',
  gpu_bus_id: 'pci.bus_id',
  gpu_serial: 'serial',
};

/** Field names the parser uses, plus common ones, so a header line can be told from a data line. */
const KNOWN_FIELDS = new Set([
  'timestamp', 'driver_version', 'count', 'name', 'serial', 'uuid', 'pci.bus_id', 'pci.device_id', 'index',
  'vbios_version', 'persistence_mode', 'pstate', 'fan.speed', 'compute_mode', 'compute_cap',
  'memory.total', 'memory.reserved', 'memory.used', 'memory.free', 'utilization.gpu', 'utilization.memory',
  'temperature.gpu', 'temperature.memory', 'power.draw', 'power.draw.average', 'power.draw.instant', 'power.limit',
  'enforced.power.limit', 'mig.mode.current', 'mig.mode.pending', 'ecc.mode.current',
  'ecc.errors.uncorrected.volatile.total', 'ecc.errors.uncorrected.aggregate.total',
  'clocks.current.graphics', 'clocks.gr', 'clocks.sm', 'clocks.mem',
]);

const FIELD_NAME = /^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$/;

interface Column {
  field: string;
  unit: string;
}

/** "memory.total [MiB]" -> { field: 'memory.total', unit: 'MiB' }, aliases resolved. */
export function parseHeaderCell(cell: string): Column {
  const m = /^(.*?)\s*\[([^\]]*)\]\s*$/.exec(cell.trim());
  const name = (m ? m[1]! : cell).trim().toLowerCase();
  return { field: ALIASES[name] ?? name, unit: m ? m[2]!.trim() : '' };
}

/**
 * Fields only `--query-compute-apps` has. Its header also names gpu_uuid (our
 * alias for uuid), so without this a process list would read as one GPU per process.
 */
const PROCESS_FIELDS = new Set(['pid', 'process_name', 'used_gpu_memory', 'used_memory']);

export function looksLikeSmiCsvHeader(line: string): boolean {
  const cols = splitCsvLine(line).map(parseHeaderCell);
  if (cols.some((c) => PROCESS_FIELDS.has(c.field))) return false;
  return cols.length > 0 && cols.every((c) => FIELD_NAME.test(c.field)) && cols.some((c) => KNOWN_FIELDS.has(c.field));
}

/** A `--query-compute-apps` (or --query-accounted-apps) header: processes, not GPUs. */
export function isProcessCsvHeader(line: string): boolean {
  const cols = splitCsvLine(line).map(parseHeaderCell);
  return cols.every((c) => FIELD_NAME.test(c.field)) && cols.some((c) => PROCESS_FIELDS.has(c.field));
}

/** nvidia-smi never quotes, but a hand-edited or spreadsheet-saved file might. */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let k = 0; k < line.length; k++) {
    const c = line[k]!;
    if (quoted) {
      if (c === '"' && line[k + 1] === '"') {
        cur += '"';
        k++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur.trim() === '') {
      quoted = true;
      cur = '';
    } else if (c === ',') {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}

export function parseSmiCsv(text: string, options: SmiCsvOptions = {}): GpuReport {
  const report = emptyReport('nvidia-smi-csv');
  const w = report.warnings;
  const lines = contentLines(text);
  if (lines.length === 0) {
    w.push('no CSV lines');
    return report;
  }

  if (isProcessCsvHeader(lines[0]!.text)) {
    w.push('this is --query-compute-apps output (one row per process), not --query-gpu; nothing read');
    return report;
  }
  let columns: Column[];
  let rows = lines;
  if (looksLikeSmiCsvHeader(lines[0]!.text)) {
    columns = splitCsvLine(lines[0]!.text).map(parseHeaderCell);
    rows = lines.slice(1);
    if (options.fields && options.fields.length !== columns.length) {
      w.push(`the header has ${columns.length} fields but ${options.fields.length} were given; used the header`);
    }
  } else if (options.fields && options.fields.length > 0) {
    columns = options.fields.map(parseHeaderCell);
  } else {
    w.push(`no header line and no field list, so the columns cannot be named (first line: ${JSON.stringify(truncate(lines[0]!.text))})`);
    return report;
  }

  const drivers = new Set<string>();
  rows.forEach((line, ordinal) => {
    const cells = splitCsvLine(line.text);
    if (cells.length !== columns.length) {
      w.push(`line ${line.number}: ${cells.length} value(s) for ${columns.length} field(s)${cells.length < columns.length ? ' (cut short?)' : ''}`);
    }
    const row = new Map<string, { raw: string; unit: string }>();
    columns.forEach((col, k) => {
      if (k < cells.length) row.set(col.field, { raw: cells[k]!, unit: col.unit });
    });
    const driver = textValue(row.get('driver_version')?.raw);
    if (driver) drivers.add(driver);
    report.gpus.push(readRow(row, ordinal, line.number, w));
  });

  report.driverVersion = [...drivers][0] ?? null;
  if (drivers.size > 1) w.push(`rows disagree on driver_version: ${[...drivers].join(', ')}`);
  return report;
}

function readRow(row: Map<string, { raw: string; unit: string }>, ordinal: number, lineNo: number, w: string[]): GpuEntry {
  const num = (kind: UnitKind, ...fields: string[]): number | null => {
    for (const f of fields) {
      const cell = row.get(f);
      if (!cell) continue;
      const v = numberOrWarn(cell.raw, kind, `line ${lineNo} ${f}`, w, cell.unit);
      if (v !== null) return v;
    }
    return null;
  };
  const text = (f: string) => textValue(row.get(f)?.raw);

  // Without an index column, row order is nvidia-smi's enumeration order.
  const gpu = emptyGpu(row.has('index') ? intValue(row.get('index')!.raw) : ordinal);
  gpu.pciBusId = text('pci.bus_id');
  gpu.uuid = text('uuid');
  gpu.product = text('name');
  gpu.memoryTotalMiB = num('MiB', 'memory.total');
  gpu.memoryUsedMiB = num('MiB', 'memory.used');
  gpu.temperatureC = num('C', 'temperature.gpu');
  gpu.powerDrawW = num('W', 'power.draw', 'power.draw.average', 'power.draw.instant');
  gpu.utilizationPct = num('%', 'utilization.gpu');
  gpu.eccUncorrectable = num('count', 'ecc.errors.uncorrected.volatile.total');
  gpu.eccUncorrectableAggregate = num('count', 'ecc.errors.uncorrected.aggregate.total');
  if (row.has('mig.mode.current') || row.has('mig.mode.pending')) {
    gpu.migMode = { current: modeValue(row.get('mig.mode.current')?.raw), pending: modeValue(row.get('mig.mode.pending')?.raw) };
  }
  return gpu;
}
