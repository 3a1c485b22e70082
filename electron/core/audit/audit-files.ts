import fs from 'node:fs/promises';
import path from 'node:path';
import { isAuditEntry, isAuditHeader, type AuditEntry, type AuditHeader } from '../../../shared/model/audit.ts';

const FILE_NAME = /^audit-(\d{6,})\.jsonl$/;
export const TEMP_SUFFIX = '.tmp';

export interface AuditFileRef {
  name: string;
  path: string;
  index: number;
}

export function auditFileName(index: number): string {
  return `audit-${String(index).padStart(6, '0')}.jsonl`;
}

export function auditFileIndex(name: string): number | null {
  const m = FILE_NAME.exec(name);
  return m ? Number(m[1]) : null;
}

/** The log's files, oldest first; a missing directory is an empty log. */
export async function listAuditFiles(dir: string): Promise<AuditFileRef[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: AuditFileRef[] = [];
  for (const name of names) {
    const index = auditFileIndex(name);
    if (index !== null) out.push({ name, path: path.join(dir, name), index });
  }
  return out.sort((a, b) => a.index - b.index);
}

export interface RawLine {
  /** 1-based line number in the file. */
  line: number;
  text: string;
  /** Byte offset of the line's first byte. */
  offset: number;
  /** False only for a last line with no newline: a write that never finished. */
  complete: boolean;
}

/** Splits on bytes rather than characters so offsets stay exact for truncation. */
export function splitLines(buf: Buffer): RawLine[] {
  const lines: RawLine[] = [];
  let start = 0;
  while (start < buf.length) {
    const nl = buf.indexOf(0x0a, start);
    const end = nl === -1 ? buf.length : nl;
    lines.push({ line: lines.length + 1, text: buf.toString('utf8', start, end), offset: start, complete: nl !== -1 });
    start = end + 1;
  }
  return lines;
}

export async function readLines(file: string): Promise<RawLine[]> {
  return splitLines(await fs.readFile(file));
}

const TAIL_WINDOW = 256 * 1024;

/**
 * The last lines of a file without reading all of it: what a writer needs to continue the chain
 * after another process appended. Lines from a window have line number 0 (unknown, see
 * lineNumberAt); a file smaller than the window is read whole with exact numbers.
 */
export async function readTailLines(file: string, window = TAIL_WINDOW): Promise<RawLine[]> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size <= window) return splitLines(await handle.readFile());
    const start = size - window;
    const buf = Buffer.alloc(window);
    const { bytesRead } = await handle.read(buf, 0, window, start);
    const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
    const rest = nl === -1 ? [] : splitLines(buf.subarray(nl + 1, bytesRead));
    // One line longer than the window: fall back to reading the whole file.
    if (rest.length === 0 || (rest.length === 1 && !rest[0]!.complete)) return splitLines(await fs.readFile(file));
    return rest.map((l) => ({ ...l, line: 0, offset: l.offset + start + nl + 1 }));
  } finally {
    await handle.close();
  }
}

/** 1-based number of the line that starts at byte `offset` (for messages; reads the file). */
export async function lineNumberAt(file: string, offset: number): Promise<number> {
  const buf = await fs.readFile(file);
  let n = 1;
  for (let i = buf.indexOf(0x0a); i !== -1 && i < offset; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}

export type ParsedLine = { kind: 'header'; header: AuditHeader } | { kind: 'entry'; entry: AuditEntry } | { kind: 'bad'; reason: string };

export function parseLine(text: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'bad', reason: 'is not valid JSON' };
  }
  if (isAuditHeader(value)) return { kind: 'header', header: value };
  if (isAuditEntry(value)) return { kind: 'entry', entry: value };
  return { kind: 'bad', reason: 'is JSON but not an audit entry' };
}

/** Reads just the first line, so a query can skip a whole file by its header. */
export async function readHeader(file: string): Promise<AuditHeader | null> {
  const handle = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
    if (nl === -1) return null;
    const parsed = parseLine(buf.toString('utf8', 0, nl));
    return parsed.kind === 'header' ? parsed.header : null;
  } finally {
    await handle.close();
  }
}

/**
 * Makes a create, rename or delete in `dir` survive power loss. Windows cannot open a directory
 * for fsync and commits renames through NTFS's journal, so there the call is skipped.
 */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A file appears under `name` complete and durable, or not at all. */
export async function createFileAtomic(dir: string, name: string, content: string): Promise<void> {
  const tmp = path.join(dir, name + TEMP_SUFFIX);
  const handle = await fs.open(tmp, 'w', 0o600);
  try {
    await writeFully(handle, Buffer.from(content, 'utf8'));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, path.join(dir, name));
  await fsyncDir(dir);
}

export async function writeFully(handle: fs.FileHandle, buf: Buffer): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done);
    done += bytesWritten;
  }
}
