import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { toErrorShape } from '../../shared/contract/errors.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import { defaultDataDir } from '../core/data-dir.ts';
import { exportAuditChunks, type AuditExportFormat } from '../core/audit/audit-export.ts';
import { verifyAuditDir, verifyAuditFile, type AuditVerifyResult } from '../core/audit/audit-verify.ts';

export interface TextSink {
  write(chunk: string): unknown;
}

export interface AuditCommandIo {
  stdout: TextSink;
  stderr: TextSink;
}

export interface AuditCommandDeps {
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
}

export const AUDIT_HELP = `Usage:
  tessera audit verify [FILE-OR-DIR] [--json]
      Check the hash chain of one audit file or a whole audit directory (default: the app's).
      Exit 0 and a one-line summary when intact; exit 1 and the first problem when not.
  tessera audit export [DIR] [--since ISO|24h|7d] [--until ISO] [--format jsonl|csv]
      Write entries, oldest first, to stdout (default format: jsonl).`;

class UsageError extends Error {}

/** Same base directory as the rest of Tessera's data (see dataDir() in tessera.ts). */
export function defaultAuditDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(defaultDataDir(env), 'audit');
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** An ISO time, or a duration back from now such as 90m, 24h, 7d, 2w. */
export function parseTimeArg(text: string, nowMs: number, flag: string): string {
  const rel = /^(\d+)([smhdw])$/.exec(text.trim());
  if (rel) return new Date(nowMs - Number(rel[1]) * UNITS[rel[2]!]!).toISOString();
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`${flag} takes an ISO time (2025-01-31T12:00:00Z) or a duration such as 24h or 7d, got "${text}"`);
  return new Date(ms).toISOString();
}

/** Writes one chunk, waiting for 'drain' when a stream pushes back, so a big export is not buffered whole. */
async function put(sink: TextSink, chunk: string): Promise<void> {
  const ok = sink.write(chunk);
  const s = sink as { once?: (event: string, fn: () => void) => unknown };
  if (ok === false && typeof s.once === 'function') await new Promise<void>((resolve) => s.once!('drain', resolve));
}

function summaryLine(r: AuditVerifyResult, target: string, isDir: boolean): string {
  if (!r.ok && r.firstProblem) return `BROKEN (${r.firstProblem.kind}): ${r.firstProblem.message}`;
  const name = isDir ? target : path.basename(target);
  if (r.entries === 0) return `intact: no entries in ${name}`;
  const range = `${r.entries} ${r.entries === 1 ? 'entry' : 'entries'} (seq ${r.firstSeq}–${r.lastSeq})`;
  const files = isDir ? ` in ${r.files} ${r.files === 1 ? 'file' : 'files'}` : ` in ${name}`;
  const from = !isDir && r.chainsFrom?.file ? `; its link to ${r.chainsFrom.file} was not checked (verify the directory for that)` : '';
  return `intact: ${range}${files}, last hash ${r.lastHash!.slice(0, 16)}${from}`;
}

async function verify(args: string[], io: AuditCommandIo, env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, allowPositionals: true, strict: true });
  if (positionals.length > 1) throw new UsageError('audit verify takes one file or directory');
  const target = path.resolve(positionals[0] ?? defaultAuditDir(env));
  const stat = await fs.stat(target).catch(() => null);
  if (!stat) throw new UsageError(`no audit file or directory at ${target}`);
  const result = stat.isDirectory() ? await verifyAuditDir(target) : await verifyAuditFile(target);
  await put(io.stdout, values.json ? `${JSON.stringify(result, null, 2)}\n` : `${summaryLine(result, target, stat.isDirectory())}\n`);
  return result.ok ? 0 : 1;
}

async function exportCommand(args: string[], io: AuditCommandIo, env: NodeJS.ProcessEnv, clock: Clock): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { since: { type: 'string' }, until: { type: 'string' }, format: { type: 'string', default: 'jsonl' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 1) throw new UsageError('audit export takes one directory');
  if (values.format !== 'jsonl' && values.format !== 'csv') throw new UsageError(`--format must be jsonl or csv, got "${values.format}"`);
  const format: AuditExportFormat = values.format;
  const dir = path.resolve(positionals[0] ?? defaultAuditDir(env));
  const stat = await fs.stat(dir).catch(() => null);
  if (!stat?.isDirectory()) throw new UsageError(`no audit directory at ${dir}`);
  const now = clock.now();
  const since = values.since === undefined ? undefined : parseTimeArg(values.since, now, '--since');
  const until = values.until === undefined ? undefined : parseTimeArg(values.until, now, '--until');
  let skipped = 0;
  for await (const chunk of exportAuditChunks(dir, { format, since, until, onSkip: () => void skipped++ })) await put(io.stdout, chunk);
  if (skipped > 0) await put(io.stderr, `tessera audit: warning: left out ${skipped} unreadable ${skipped === 1 ? 'line' : 'lines'}; run "tessera audit verify ${dir}"\n`);
  return 0;
}

/**
 * `tessera audit ...`: exit 0 on success, 1 when the log is broken or cannot be read,
 * 2 for a usage mistake. Every message is one line.
 */
export async function auditCommand(args: string[], io: AuditCommandIo, deps: AuditCommandDeps = {}): Promise<number> {
  const env = deps.env ?? process.env;
  const clock = deps.clock ?? systemClock;
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'verify':
        return await verify(rest, io, env);
      case 'export':
        return await exportCommand(rest, io, env, clock);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        await put(sub === undefined ? io.stderr : io.stdout, `${AUDIT_HELP}\n`);
        return sub === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown audit command "${sub}" (try: tessera audit --help)`);
    }
  } catch (err) {
    const usage = err instanceof UsageError || String((err as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
    const message = usage ? (err as Error).message : toErrorShape(err).message;
    await put(io.stderr, `tessera audit: ${message.split('\n')[0]}\n`);
    return usage ? 2 : 1;
  }
}
