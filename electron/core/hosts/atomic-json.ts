/**
 * A JSON document on disk that survives crashes and hand edits: writes go to
 * a temp file that is fsynced and renamed over the original (the previous
 * version is kept as .bak first); a file that does not parse is moved aside,
 * reported, and replaced by the backup or by defaults, never silently lost.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export interface LoadOutcome<T> {
  value: T;
  /** Why the file could not be used as it was, and where it was kept. */
  notice?: string;
}

/** `fallback` words what `defaults()` gives, for the notice ("an empty list", "default settings"). */
export async function loadJson<T>(file: string, parse: (raw: unknown) => T, defaults: () => T, now: () => Date = () => new Date(), fallback = 'an empty list'): Promise<LoadOutcome<T>> {
  const main = await tryRead(file, parse);
  if (main.kind === 'ok') return { value: main.value };
  if (main.kind === 'missing') {
    // A crash between copying the backup and the rename can leave only the backup.
    const bak = await tryRead(`${file}.bak`, parse);
    return bak.kind === 'ok' ? { value: bak.value, notice: `${path.basename(file)} was missing; restored the last backup` } : { value: defaults() };
  }
  const aside = `${file}.corrupt-${now().toISOString().replace(/[:.]/g, '-')}`;
  await fs.rename(file, aside);
  const bak = await tryRead(`${file}.bak`, parse);
  const what = `${path.basename(file)} could not be read (${main.error}); it was kept as ${aside}`;
  if (bak.kind === 'ok') return { value: bak.value, notice: `${what} and the last backup was restored` };
  return { value: defaults(), notice: `${what} and Tessera started from ${fallback}` };
}

export async function saveJson(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    await fs.copyFile(file, `${file}.bak`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}

type ReadResult<T> = { kind: 'ok'; value: T } | { kind: 'missing' } | { kind: 'bad'; error: string };

async function tryRead<T>(file: string, parse: (raw: unknown) => T): Promise<ReadResult<T>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  try {
    return { kind: 'ok', value: parse(JSON.parse(text)) };
  } catch (err) {
    return { kind: 'bad', error: (err as Error).message };
  }
}
