/**
 * One entry point for `tessera gpu parse`: detect the format, run its
 * parser, and fail only when nothing at all could be read. Partial input
 * (a cut-off capture, an odd row) still returns a report with warnings.
 */
import { GpuParseError } from './gpu-report.ts';
import type { GpuReport, GpuReportFormat } from './gpu-report.ts';
import { parseDcgmReport } from './dcgm.ts';
import { detectFormat, smiMessage } from './detect.ts';
import { parseMigLgi, parseMigLgip, parseMigLgipp } from './mig-tables.ts';
import { isProcessCsvHeader, parseSmiCsv, splitCsvLine } from './smi-csv.ts';
import { parseSmiList } from './smi-list.ts';
import { parseSmiText } from './smi-text.ts';
import { parseSmiXml } from './smi-xml.ts';
import { firstLine } from './values.ts';

export interface ParseOptions {
  /** Skip detection and parse as this format. */
  format?: GpuReportFormat;
  /** --query-gpu fields, for CSV printed with `noheader`. */
  csvFields?: readonly string[];
}

export function parseAs(format: GpuReportFormat, text: string, options: ParseOptions = {}): GpuReport {
  switch (format) {
    case 'nvidia-smi-xml':
      return parseSmiXml(text);
    case 'nvidia-smi-text':
      return parseSmiText(text);
    case 'nvidia-smi-csv':
      return parseSmiCsv(text, options.csvFields ? { fields: options.csvFields } : {});
    case 'nvidia-smi-list':
      return parseSmiList(text);
    case 'mig-lgip':
      return parseMigLgip(text);
    case 'mig-lgipp':
      return parseMigLgipp(text);
    case 'mig-lgi':
      return parseMigLgi(text);
    case 'dcgm-exporter':
      return parseDcgmReport(text);
  }
}

export function parseAny(text: string, options: ParseOptions = {}): GpuReport {
  if (text.trim() === '') throw new GpuParseError('empty input');
  const format = options.format ?? detectFormat(text, options.csvFields ? { csvFields: options.csvFields } : {});
  if (!format) {
    const msg = smiMessage(text);
    if (msg) throw new GpuParseError(oneLine(`nvidia-smi reported: ${msg}`));
    const hint = csvHint(text);
    throw new GpuParseError(oneLine(`not a recognised nvidia-smi or dcgm-exporter format: starts with ${JSON.stringify(firstLine(text))}${hint}`));
  }
  const report = parseAs(format, text, options);
  if (report.gpus.length === 0 && report.driverVersion === null && report.cudaVersion === null) {
    const truncated = report.warnings.find((w) => w.startsWith('truncated XML:'));
    throw new GpuParseError(oneLine(truncated ?? `nothing understood as ${format}: ${report.warnings[0] ?? 'no GPUs'}`));
  }
  return report;
}

function csvHint(text: string): string {
  const first = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  if (isProcessCsvHeader(first)) return '; it is --query-compute-apps output (one row per process), not --query-gpu';
  if (looksLikeHeaderlessCsv(first)) return '; it looks like --query-gpu CSV printed with noheader: pass --csv-fields with the queried fields';
  return '';
}

/**
 * `--format=csv,noheader` rows cannot be read without the field list, but
 * they are recognisable: several comma-separated cells, one of them a GPU
 * UUID or PCI bus id, or an index first.
 */
function looksLikeHeaderlessCsv(first: string): boolean {
  const cells = splitCsvLine(first).map((c) => c.trim());
  if (cells.length < 3) return false;
  return /^\d+$/.test(cells[0]!) || cells.some((c) => /^GPU-[0-9a-f-]{8,}$/i.test(c) || /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(c));
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
