/**
 * A support bundle: what a field engineer needs from one GPU host, in one
 * .tar.gz they can carry out. Each capture is a named operation run with its
 * exit status kept; failures are part of the evidence (MIG off, no dmesg
 * permission, no journald), recorded in manifest.json and never abort the rest.
 */
import { toErrorShape } from '../../../shared/contract/errors.ts';
import type { BundleEntry, BundleManifest, SshHost } from '../../../shared/model/host.ts';
import { parseSmiXml } from '../gpu/index.ts';
import type { CommandRegistry } from '../ssh/command-registry.ts';
import { runOperation } from '../ssh/remote-command.ts';
import type { CommandHost } from '../ssh/remote-command.ts';
import { hostRegistry } from './host-operations.ts';
import { tarGz } from './tar.ts';
import type { TarFile } from './tar.ts';

export const BUNDLE_CAPTURES: readonly { file: string; operation: string }[] = [
  { file: 'nvidia-smi-q.xml', operation: 'nvidia-smi.query' },
  { file: 'nvidia-smi-L.txt', operation: 'nvidia-smi.list' },
  { file: 'nvidia-smi-mig-lgip.txt', operation: 'nvidia-smi.mig-lgip' },
  { file: 'nvidia-smi-mig-lgi.txt', operation: 'nvidia-smi.mig-lgi' },
  { file: 'driver-version.txt', operation: 'driver.version' },
  { file: 'uname.txt', operation: 'uname.all' },
  { file: 'dmesg-gpu.txt', operation: 'dmesg-gpu' },
  { file: 'journalctl-gpu.txt', operation: 'journal-gpu' },
];

export interface BundleOptions {
  version: string;
  registry?: CommandRegistry;
  now?: () => Date;
  timeoutMs?: number;
}

export interface Bundle {
  filename: string;
  archive: Buffer;
  manifest: BundleManifest;
}

const MAX_CAPTURE_BYTES = 32 * 1024 * 1024;

export async function supportBundle(conn: CommandHost, host: SshHost, opts: BundleOptions): Promise<Bundle> {
  const now = opts.now ?? (() => new Date());
  const created = now();
  const dir = `tessera-bundle-${host.id}-${created.toISOString().replace(/[:.]/g, '-')}`;
  const files: TarFile[] = [];
  const entries: BundleEntry[] = [];
  let gpusParsed: number | null = null;
  for (const c of BUNDLE_CAPTURES) {
    const started = performance.now();
    try {
      const r = await runOperation(conn, c.operation, { registry: opts.registry ?? hostRegistry, timeoutMs: opts.timeoutMs ?? 60_000, maxOutputBytes: MAX_CAPTURE_BYTES });
      files.push({ name: `${dir}/${c.file}`, data: r.stdout, mtime: created });
      if (r.stderr.trim()) files.push({ name: `${dir}/${c.file}.stderr`, data: r.stderr, mtime: created });
      const failed = r.exitCode === null || r.exitCode !== 0;
      // grep's 1 means "no matching lines": an empty capture, not an error.
      const noMatch = r.exitCode === 1 && (c.operation === 'dmesg-gpu' || c.operation === 'journal-gpu') && !r.stderr.trim();
      entries.push({
        file: c.file,
        operation: c.operation,
        command: r.command,
        exitCode: r.exitCode,
        durationMs: r.durationMs,
        bytes: Buffer.byteLength(r.stdout),
        ...(failed && !noMatch ? { error: firstLine(r.stderr) || (r.exitCode === null ? `killed by ${r.signal ?? 'a signal'}` : `exit status ${r.exitCode}`) } : {}),
      });
      if (c.operation === 'nvidia-smi.query' && r.exitCode === 0) gpusParsed = parseSmiXml(r.stdout).gpus.length;
    } catch (err) {
      if (!conn.isOpen) throw err;
      entries.push({ file: c.file, operation: c.operation, command: '', exitCode: null, durationMs: Math.round(performance.now() - started), bytes: 0, error: toErrorShape(err).message });
    }
  }
  const manifest: BundleManifest = {
    host: { id: host.id, name: host.name, address: host.address, port: host.port },
    createdAt: created.toISOString(),
    tesseraVersion: opts.version,
    entries,
    gpusParsed,
  };
  files.unshift({ name: `${dir}/manifest.json`, data: `${JSON.stringify(manifest, null, 2)}\n`, mtime: created });
  return { filename: `${dir}.tar.gz`, archive: tarGz(files), manifest };
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0]?.slice(0, 500) ?? '';
}
