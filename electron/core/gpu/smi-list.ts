/**
 * `nvidia-smi -L`: one line per GPU and, indented under it, one per MIG
 * device. MIG UUIDs come in two styles: `MIG-<uuid>` (R470+) and the R450
 * `MIG-GPU-<gpu-uuid>/<gi>/<ci>`, which also spells out the GI and CI ids.
 * "Device N" is the MIG device index, not the GI id.
 */
import { emptyGpu, emptyMigDevice, emptyReport } from './gpu-report.ts';
import type { GpuEntry, GpuReport } from './gpu-report.ts';
import { contentLines } from './lines.ts';
import { profileName, textValue, truncate } from './values.ts';

export const GPU_LINE = /^\s*GPU\s+(\d+):\s*(.*?)\s*\(UUID:\s*([^)\s]*)\s*\)\s*$/;
export const MIG_LINE = /^\s*MIG\s+(\S+)\s+Device\s+(\d+):\s*\(UUID:\s*([^)\s]*)\s*\)\s*$/;
const R450_MIG_UUID = /^MIG-(GPU-[0-9a-f-]+)\/(\d+)\/(\d+)$/i;
const MAX_UNREAD_WARNINGS = 5;

export function parseSmiList(text: string): GpuReport {
  const report = emptyReport('nvidia-smi-list');
  const w = report.warnings;
  let current: GpuEntry | null = null;
  let unread = 0;
  let preamble = 0;

  for (const line of contentLines(text)) {
    const g = GPU_LINE.exec(line.text);
    if (g) {
      current = emptyGpu(Number(g[1]));
      current.product = textValue(g[2]);
      current.uuid = textValue(g[3]);
      // -L lists MIG devices under their GPU, so a GPU without any has none.
      current.migDevices = [];
      report.gpus.push(current);
      continue;
    }
    const m = MIG_LINE.exec(line.text);
    if (m) {
      if (!current) {
        w.push(`line ${line.number}: MIG device before any GPU line, skipped`);
        continue;
      }
      const dev = emptyMigDevice();
      dev.profile = profileName(m[1]);
      dev.index = Number(m[2]);
      dev.uuid = textValue(m[3]);
      const legacy = R450_MIG_UUID.exec(m[3] ?? '');
      if (legacy) {
        dev.gpuInstanceId = Number(legacy[2]);
        dev.computeInstanceId = Number(legacy[3]);
        if (current.uuid && legacy[1]!.toLowerCase() !== current.uuid.toLowerCase()) {
          w.push(`line ${line.number}: MIG UUID names parent ${legacy[1]} but it is listed under ${current.uuid}`);
        }
      }
      current.migDevices!.push(dev);
      continue;
    }
    // A pasted session often has other output before the -L part; that is not a problem with the -L output.
    if (!current) {
      preamble++;
      continue;
    }
    unread++;
    if (unread <= MAX_UNREAD_WARNINGS) w.push(`line ${line.number}: not a GPU or MIG line: ${JSON.stringify(truncate(line.text.trim()))}`);
  }
  if (unread > MAX_UNREAD_WARNINGS) w.push(`${unread - MAX_UNREAD_WARNINGS} more unrecognised line(s)`);
  if (preamble > 0) w.push(`${preamble} line(s) before the first GPU line ignored`);
  if (report.gpus.length === 0) w.push('no "GPU <n>: <name> (UUID: ...)" lines');
  return report;
}
