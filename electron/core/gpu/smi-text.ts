/**
 * `nvidia-smi -q` (the indented text listing). It carries the same data as
 * `-q -x` under display names ("FB Memory Usage" / "Total" for
 * <fb_memory_usage><total>), so the listing is turned into the XML's element
 * tree and read by the XML reader's rules: one place knows where each value
 * lives, and the two formats cannot drift apart.
 */
import { emptyReport } from './gpu-report.ts';
import type { GpuReport } from './gpu-report.ts';
import { contentLines } from './lines.ts';
import { readSmiLog } from './smi-xml.ts';
import type { XmlElement } from './xml.ts';

/** The banner every `nvidia-smi -q` starts with. */
export const SMI_TEXT_BANNER = /^\s*=+\s*NVSMI LOG\s*=+\s*$/;
/** "Key      : value"; the key is padded, so whitespace always precedes the colon. */
const KEY_VALUE = /^(\s*)(\S.*?)\s+:(?:\s(.*))?$/;
const GPU_SECTION = /^GPU\s+([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])$/;
const MIG_DEVICE_SECTION = /^Device\s+(\d+)$/;

/**
 * Display names whose snake_case differs from the XML element name, by the
 * XML name of the section they sit in ('*' for anywhere). Everything else is
 * the display name in snake_case ("Product Name" -> product_name).
 */
const RENAMES: Record<string, Record<string, string>> = {
  '*': {
    gpu_uuid: 'uuid',
    instantaneous_power_draw: 'instant_power_draw',
    sram_uncorrectable_sec_ded: 'sram_uncorrectable_secded',
  },
  mig_mode: { current: 'current_mig', pending: 'pending_mig' },
  ecc_mode: { current: 'current_ecc', pending: 'pending_ecc' },
  temperature: { gpu_current_temp: 'gpu_temp', memory_current_temp: 'memory_temp' },
  utilization: { gpu: 'gpu_util', memory: 'memory_util', encoder: 'encoder_util', decoder: 'decoder_util' },
  pci: { bus_id: 'pci_bus_id' },
};

function elementName(display: string, parent: string): string {
  const snake = display
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return RENAMES[parent]?.[snake] ?? RENAMES['*']?.[snake] ?? snake;
}

function element(name: string, text = '', attrs: Record<string, string> = {}): XmlElement {
  return { name, attrs, children: [], text, closed: true };
}

export function parseSmiText(text: string): GpuReport {
  const report = emptyReport('nvidia-smi-text');
  const w = report.warnings;
  const root = element('nvidia_smi_log');
  // Open sections with the indent of their own line; the root sits below any indent.
  const stack: { indent: number; el: XmlElement }[] = [{ indent: -1, el: root }];
  let sawBanner = false;
  let unread = 0;
  let last: XmlElement | null = null;

  for (const line of contentLines(text)) {
    if (SMI_TEXT_BANNER.test(line.text)) {
      sawBanner = true;
      continue;
    }
    const indent = line.text.length - line.text.trimStart().length;
    while (stack.length > 1 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const parent = stack[stack.length - 1]!.el;

    const kv = KEY_VALUE.exec(line.text);
    const key = (kv ? kv[2]! : line.text).trim();
    let el: XmlElement;
    const gpu = GPU_SECTION.exec(key);
    const migDevice = parent.name === 'mig_devices' ? MIG_DEVICE_SECTION.exec(key) : null;
    if (!kv && gpu && parent === root) {
      el = element('gpu', '', { id: gpu[1]! });
    } else if (!kv && migDevice) {
      // "Device N" under "MIG devices" is <mig_device><index>N</index> in the XML.
      el = element('mig_device');
      el.children.push(element('index', migDevice[1]!));
    } else if (kv || /^[A-Za-z]/.test(key)) {
      el = element(elementName(key, parent.name), kv ? (kv[3] ?? '') : '');
    } else {
      if (unread++ < 5) w.push(`line ${line.number}: not "Key : value" or a section name, skipped`);
      continue;
    }
    parent.children.push(el);
    stack.push({ indent, el });
    last = el;
  }

  if (!sawBanner) w.push('no "==NVSMI LOG==" banner; read as nvidia-smi -q text anyway');
  if (unread > 5) w.push(`${unread - 5} more unreadable line(s)`);
  // A capture cut mid-line may have cut the last value short ("36" of "365"): drop it.
  if (last && !/[\r\n]\s*$/.test(text)) {
    last.closed = false;
    w.push(`input ends mid-line: the last value (${last.name}) may be cut short and was not read`);
  }

  readSmiLog(root, report);
  // The listing leaves out "MIG devices" entirely when MIG is off, so there are none.
  for (const g of report.gpus) if (g.migDevices === null && g.migMode?.current === 'Disabled') g.migDevices = [];
  return report;
}
