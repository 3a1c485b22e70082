/**
 * `nvidia-smi mig -lgip` (GPU-instance profiles), `-lgipp` (their
 * placements) and `-lgi` (existing GPU instances). -lgip and -lgi print boxed
 * tables whose header names the columns; rows are mapped through the header
 * so an added column does not shift the others. Pasted sessions often hold
 * several tables, so each parser reads only the table(s) it is for.
 */
import { emptyGpu, emptyMigDevice, emptyProfile, emptyReport } from './gpu-report.ts';
import type { GpuEntry, GpuReport, Placement } from './gpu-report.ts';
import { allLines, contentLines } from './lines.ts';
import { intValue, profileName, readNumber } from './values.ts';

export const TITLE_LGIP = 'GPU instance profiles';
export const TITLE_LGI = 'GPU instances';

export interface BoxTable {
  title: string;
  /** Header lines (between the title and the ==== rule), each split into words. */
  header: string[][];
  /** Body lines, each split into words; a row printed over two lines gives two entries. */
  rows: { number: number; cells: string[] }[];
}

const TITLE = /^\|\s*([A-Za-z][A-Za-z ]*?)\s*:\s*\|$/;
const RULE = /^\|=+\|$/;
const BORDER = /^\+[-+]*\+$/;

/** Every boxed nvidia-smi table in the text, in order. */
export function readBoxTables(text: string): BoxTable[] {
  const tables: BoxTable[] = [];
  let cur: BoxTable | null = null;
  let inBody = false;
  for (const { number, text: raw } of allLines(text)) {
    const line = raw.trim();
    const title = TITLE.exec(line);
    if (title) {
      cur = { title: title[1]!, header: [], rows: [] };
      tables.push(cur);
      inBody = false;
      continue;
    }
    if (!cur) continue;
    if (BORDER.test(line)) continue;
    if (RULE.test(line)) {
      inBody = true;
      continue;
    }
    if (!line.startsWith('|')) {
      cur = null;
      continue;
    }
    const cells = line.replace(/^\|/, '').replace(/\|$/, '').trim().split(/\s+/).filter(Boolean);
    if (cells.length === 0) continue;
    if (inBody) cur.rows.push({ number, cells });
    else cur.header.push(cells);
  }
  return tables;
}

const PROFILE_NAME = /^(\d+c\.)?\d+g\.\d+gb/i;

/**
 * The first line of each table row: GPU index then the profile name
 * ("MIG 1g.10gb"), joined into one cell. Continuation lines (CE/JPEG/OFA) have
 * no name and give null.
 */
function rowCells(cells: string[]): string[] | null {
  if (intValue(cells[0]) === null) return null;
  if (cells[1] === 'MIG' && cells[2] !== undefined) return [cells[0]!, `MIG ${cells[2]}`, ...cells.slice(3)];
  if (cells[1] !== undefined && PROFILE_NAME.test(cells[1])) return cells;
  return null;
}

/** Column positions by header word; falls back to the layout every known driver prints. */
function columnIndex(table: BoxTable, expected: readonly string[], rowWidth: number, w: string[]): Map<string, number> {
  const header = (table.header[0] ?? []).map((h) => h.toUpperCase());
  // A shorter row is a cut-off one (reported by the caller); a longer one means the header is not one word per column.
  const useHeader = rowWidth <= header.length && expected.every((e) => header.includes(e));
  if (!useHeader) {
    w.push(`"${table.title}" header ${JSON.stringify(table.header[0]?.join(' ') ?? '')} is not the known layout; read columns by position`);
  }
  const names = useHeader ? header : expected;
  return new Map(names.map((n, k) => [n, k]));
}

function gpuFor(gpus: Map<number, GpuEntry>, index: number, init: (g: GpuEntry) => void): GpuEntry {
  let g = gpus.get(index);
  if (!g) {
    g = emptyGpu(index);
    init(g);
    gpus.set(index, g);
  }
  return g;
}

const PARSED_AS: Record<string, string> = { [TITLE_LGIP]: 'mig-lgip', [TITLE_LGI]: 'mig-lgi' };

function noteOtherTables(tables: BoxTable[], wanted: string, w: string[]): void {
  for (const t of tables) {
    if (t.title === wanted) continue;
    const hint = PARSED_AS[t.title];
    w.push(`ignored the "${t.title}" table${hint ? ` (parse the text as ${hint} to read it)` : ''}`);
  }
}

interface TableRow {
  number: number;
  raw: string[];
  gpu: number;
  cell: (name: string) => string | undefined;
}

/** Every data row of the titled box tables, with cells looked up by column name; other tables are noted. */
function forEachRow(text: string, title: string, columns: readonly string[], w: string[], fn: (row: TableRow) => void): void {
  const tables = readBoxTables(text);
  const mine = tables.filter((t) => t.title === title);
  noteOtherTables(tables, title, w);
  if (mine.length === 0) w.push(`no "${title}:" table`);
  for (const table of mine) {
    let cols: Map<string, number> | null = null;
    for (const { number, cells: raw } of table.rows) {
      const cells = rowCells(raw);
      if (!cells) continue;
      const c = (cols ??= columnIndex(table, columns, cells.length, w));
      if (cells.length < c.size) w.push(`line ${number}: ${cells.length} of ${c.size} columns (cut short?)`);
      fn({ number, raw, gpu: Number(cells[0]), cell: (name) => cells[c.get(name) ?? -1] });
    }
  }
}

const LGIP_COLUMNS = ['GPU', 'NAME', 'ID', 'INSTANCES', 'MEMORY', 'P2P', 'SM', 'DEC', 'ENC'] as const;

export function parseMigLgip(text: string): GpuReport {
  const report = emptyReport('mig-lgip');
  const w = report.warnings;
  const gpus = new Map<number, GpuEntry>();
  forEachRow(text, TITLE_LGIP, LGIP_COLUMNS, w, ({ number, raw, gpu, cell }) => {
    const p = emptyProfile();
    p.name = profileName(cell('NAME'));
    p.id = intValue(cell('ID')?.replace(/\*$/, ''));
    const inst = /^(\d+)\/(\d+)$/.exec(cell('INSTANCES') ?? '');
    if (inst) {
      p.instancesFree = Number(inst[1]);
      p.instancesTotal = Number(inst[2]);
    }
    const mem = readNumber(cell('MEMORY'), 'GiB');
    p.memoryGiB = mem.kind === 'value' ? mem.value : null;
    p.multiprocessors = intValue(cell('SM'));
    if (p.id === null || p.instancesTotal === null) w.push(`line ${number}: incomplete profile row ${JSON.stringify(raw.join(' '))}`);
    gpuFor(gpus, gpu, (g) => (g.profiles = [])).profiles!.push(p);
  });
  report.gpus = [...gpus.values()];
  return report;
}

const LGIPP_LINE = /^\s*GPU\s+(\d+)\s+Profile\s+ID\s+(\d+)\s+Placements?\s*:\s*(.*)$/i;
const PLACEMENT_SET = /\{([\d\s,]*)\}\s*:\s*(\d+)/g;

export function parseMigLgipp(text: string): GpuReport {
  const report = emptyReport('mig-lgipp');
  const w = report.warnings;
  const gpus = new Map<number, GpuEntry>();
  for (const line of contentLines(text)) {
    const m = LGIPP_LINE.exec(line.text);
    if (!m) continue;
    const placements: Placement[] = [];
    for (const set of m[3]!.matchAll(PLACEMENT_SET)) {
      const size = Number(set[2]);
      for (const s of set[1]!.split(',')) {
        const start = intValue(s);
        if (start !== null) placements.push({ start, size });
      }
    }
    if (placements.length === 0) w.push(`line ${line.number}: no {starts}:size placement in ${JSON.stringify(m[3]!.trim())}`);
    const p = emptyProfile();
    p.id = Number(m[2]);
    p.placements = placements;
    gpuFor(gpus, Number(m[1]), (g) => (g.profiles = [])).profiles!.push(p);
  }
  if (gpus.size === 0) w.push('no "GPU <n> Profile ID <id> Placements: {...}:<size>" lines');
  report.gpus = [...gpus.values()];
  return report;
}

const LGI_COLUMNS = ['GPU', 'NAME', 'PROFILE', 'INSTANCE', 'PLACEMENT'] as const;

export function parseMigLgi(text: string): GpuReport {
  const report = emptyReport('mig-lgi');
  const w = report.warnings;
  const gpus = new Map<number, GpuEntry>();
  forEachRow(text, TITLE_LGI, LGI_COLUMNS, w, ({ number, raw, gpu, cell }) => {
    const dev = emptyMigDevice();
    dev.profile = profileName(cell('NAME'));
    dev.profileId = intValue(cell('PROFILE'));
    dev.gpuInstanceId = intValue(cell('INSTANCE'));
    dev.placement = parsePlacement(cell('PLACEMENT'));
    if (dev.gpuInstanceId === null || dev.placement === null) {
      w.push(`line ${number}: incomplete GPU instance row ${JSON.stringify(raw.join(' '))}`);
    }
    gpuFor(gpus, gpu, (g) => (g.migDevices = [])).migDevices!.push(dev);
  });
  report.gpus = [...gpus.values()];
  return report;
}

export function parsePlacement(raw: string | undefined): Placement | null {
  const m = /^(\d+):(\d+)$/.exec(raw?.trim() ?? '');
  return m ? { start: Number(m[1]), size: Number(m[2]) } : null;
}
