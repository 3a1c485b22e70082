/**
 * Which nvidia-smi / dcgm-exporter output a text is, from its first
 * distinctive line. Pasted terminal sessions (prompt and `#` note lines, or
 * several commands) are common, so the first recognisable line decides.
 */
import type { GpuReportFormat } from './gpu-report.ts';
import { contentLines } from './lines.ts';
import { TITLE_LGI, TITLE_LGIP } from './mig-tables.ts';
import { looksLikeSmiCsvHeader, splitCsvLine } from './smi-csv.ts';
import { GPU_LINE, MIG_LINE } from './smi-list.ts';
import { SMI_TEXT_BANNER } from './smi-text.ts';

export interface DetectOptions {
  /** --query-gpu fields for CSV printed with `noheader`; enables detecting such CSV. */
  csvFields?: readonly string[];
}

const DCGM_SERIES = /^[ \t]*(#[ \t]*(HELP|TYPE)[ \t]+DCGM_\w+|DCGM_\w+(\{[^\n]*\})?[ \t]+[-+.\dNI])/m;
const LGIPP = /^\s*GPU\s+\d+\s+Profile\s+ID\s+\d+\s+Placements?\s*:/i;
const TABLE_TITLE = /^\s*\|\s*([A-Za-z][A-Za-z ]*?)\s*:\s*\|\s*$/;

/** Messages nvidia-smi prints instead of output; shown as the reason rather than "unrecognised". */
const SMI_MESSAGES = [
  /^No devices were found/i,
  /^No MIG-enabled devices found/i,
  /^No GPU instances? (profiles )?found/i,
  /^No compute instances? (profiles )?found/i,
  /^NVIDIA-SMI has failed/i,
  /^Failed to initialize NVML/i,
  /^Unable to determine the device handle/i,
  /^Field ".*" is not a valid field to query/i,
  /^Insufficient Permissions/i,
];

export function detectFormat(text: string, options: DetectOptions = {}): GpuReportFormat | null {
  const lines = contentLines(text);
  const first = lines[0];
  if (!first) return null;

  if (first.text.trimStart().startsWith('<')) {
    const from = text.indexOf('<');
    return /nvidia_smi_log|<gpu[\s>]/.test(text.slice(from, from + 8192)) ? 'nvidia-smi-xml' : null;
  }
  if (SMI_TEXT_BANNER.test(first.text)) return 'nvidia-smi-text';
  if (DCGM_SERIES.test(text)) return 'dcgm-exporter';
  if (looksLikeSmiCsvHeader(first.text)) return 'nvidia-smi-csv';

  for (const { text: line } of lines) {
    const title = TABLE_TITLE.exec(line)?.[1];
    if (title === TITLE_LGIP) return 'mig-lgip';
    if (title === TITLE_LGI) return 'mig-lgi';
    if (LGIPP.test(line)) return 'mig-lgipp';
    if (GPU_LINE.test(line) || MIG_LINE.test(line)) return 'nvidia-smi-list';
  }

  const fields = options.csvFields;
  if (fields && fields.length > 0 && splitCsvLine(first.text).length === fields.length) return 'nvidia-smi-csv';
  return null;
}

/** The nvidia-smi error/status line in a text, if it is one. */
export function smiMessage(text: string): string | null {
  for (const { text: line } of contentLines(text)) {
    const t = line.trim();
    if (SMI_MESSAGES.some((re) => re.test(t))) return t;
  }
  return null;
}
