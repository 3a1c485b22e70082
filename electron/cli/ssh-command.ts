/**
 * `tessera ssh`: the hosts the console knows, from a terminal or a script.
 *
 *   tessera ssh hosts [--json]
 *   tessera ssh import-config [FILE]            (default ~/.ssh/config)
 *   tessera ssh test HOST [--trust SHA256:...]
 *   tessera ssh exec --hosts a,b [--concurrency N] [--sudo] [--json] -- OPERATION [name=value ...]
 *   tessera ssh bundle HOST -o FILE
 *   tessera ssh gpus HOST [--json]
 *
 * HOST is a host id or name from `ssh hosts`. Only named operations run
 * (`ssh exec --list` shows them); an unknown host key is never accepted
 * without the fingerprint the user checked (--trust).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TesseraError } from '../../shared/contract/errors.ts';
import type { SshHost } from '../../shared/model/host.ts';
import { AuditService } from '../core/audit/audit-service.ts';
import { systemClock } from '../core/clock.ts';
import { HostService } from '../core/hosts/host-service.ts';
import { table } from './format.ts';

export class SshUsageError extends Error {}

export const SSH_USAGE = `usage:
  tessera ssh hosts [--json]
  tessera ssh import-config [FILE]
  tessera ssh test HOST [--trust SHA256:...]
  tessera ssh exec --hosts A,B [--concurrency N] [--sudo] [--json] -- OPERATION [NAME=VALUE ...]
  tessera ssh exec --list
  tessera ssh bundle HOST -o FILE.tar.gz
  tessera ssh gpus HOST [--json]`;

interface Out {
  write(s: string): unknown;
}

export async function sshCommand(args: string[], io: { stdout: Out; stderr: Out }, dataDir: string, version: string): Promise<number> {
  const [sub, ...rest] = args;
  const audit = new AuditService(path.join(dataDir, 'audit'), systemClock);
  const service = new HostService({
    dataDir,
    version,
    ...(process.env.SSH_AUTH_SOCK ? { agentSocket: process.env.SSH_AUTH_SOCK } : {}),
    record: (input) => audit.record(input),
    readyTimeoutMs: 15_000,
  });
  try {
    switch (sub) {
      case 'hosts':
        return await hosts(service, rest, io.stdout);
      case 'import-config':
        return await importConfig(service, rest, io);
      case 'test':
        return await testHost(service, rest, io.stdout);
      case 'exec':
        return await exec(service, rest, io.stdout);
      case 'bundle':
        return await bundle(service, rest, io);
      case 'gpus':
        return await gpus(service, rest, io.stdout);
      default:
        throw new SshUsageError(SSH_USAGE);
    }
  } finally {
    await service.close();
    await audit.close();
  }
}

async function hosts(service: HostService, args: string[], out: Out): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
  const list = await service.list();
  if (values.json) {
    out.write(`${JSON.stringify(list.hosts, null, 2)}\n`);
    return 0;
  }
  if (list.notice) out.write(`note: ${list.notice}\n`);
  const rows = list.hosts.map((h) => [h.id, h.name, `${h.user}@${h.address}:${h.port}`, h.proxyJump.join(',') || '-', h.group ?? '-', h.nodePool ?? '-', h.source.kind]);
  out.write(`${table(['ID', 'NAME', 'TARGET', 'VIA', 'GROUP', 'POOL', 'SOURCE'], rows)}\n`);
  return 0;
}

async function importConfig(service: HostService, args: string[], io: { stdout: Out; stderr: Out }): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { group: { type: 'string' } } });
  if (positionals.length > 1) throw new SshUsageError(SSH_USAGE);
  const req = positionals[0] ? { content: readText(positionals[0]) } : { useDefault: true };
  const r = await service.importSshConfig({ ...req, ...(values.group ? { group: values.group } : {}) });
  io.stdout.write(`added ${r.added.length}, updated ${r.updated.length}, skipped ${r.skipped.length}\n`);
  for (const s of r.skipped) io.stderr.write(`skipped ${s.name}: ${s.reason}\n`);
  for (const w of r.warnings) io.stderr.write(`warning: ${w}\n`);
  return 0;
}

async function testHost(service: HostService, args: string[], out: Out): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { trust: { type: 'string' } } });
  if (positionals.length !== 1) throw new SshUsageError(SSH_USAGE);
  const host = await find(service, positionals[0]!);
  // One round per hop of the jump chain, each key confirmed by --trust.
  for (let round = 0; round < 8; round++) {
    const r = await service.test(host.id);
    if (r.ok) {
      out.write(`${host.name}: connected with ${r.authMethod}${r.via.length ? ` via ${r.via.join(', ')}` : ''} in ${r.connectMs} ms; uname -a took ${r.latencyMs} ms\n${r.uname}\n`);
      return 0;
    }
    if (r.unknownKey && values.trust === r.unknownKey.sha256Fingerprint) {
      await service.trust({ host: r.unknownKey.host, port: r.unknownKey.port, sha256Fingerprint: r.unknownKey.sha256Fingerprint, accept: true });
      continue;
    }
    if (r.unknownKey) {
      const hint = values.trust ? `--trust ${values.trust} does not match; nothing was trusted.` : `If it matches, run again with --trust ${r.unknownKey.sha256Fingerprint}`;
      throw new TesseraError('HOST_KEY_UNKNOWN', `${r.error.message} ${hint}`);
    }
    throw new TesseraError(r.error.code as TesseraError['code'], r.error.message);
  }
  throw new TesseraError('INTERNAL', 'too many jump hosts to confirm');
}

async function exec(service: HostService, args: string[], out: Out): Promise<number> {
  const dash = args.indexOf('--');
  const { values } = parseArgs({
    args: dash >= 0 ? args.slice(0, dash) : args,
    options: { hosts: { type: 'string' }, concurrency: { type: 'string' }, sudo: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, list: { type: 'boolean', default: false } },
  });
  if (values.list) {
    for (const op of service.operations()) out.write(`${op.name.padEnd(22)} ${op.description}${op.params.length ? ` [${op.params.map((p) => `${p.name}=${p.optional ? '…?' : '…'}`).join(' ')}]` : ''}\n`);
    return 0;
  }
  const tail = dash >= 0 ? args.slice(dash + 1) : [];
  if (!values.hosts || tail.length === 0) throw new SshUsageError(SSH_USAGE);
  const [operation, ...params] = tail;
  const argList = params.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new SshUsageError(`operation arguments are NAME=VALUE, got "${p}"`);
    return { name: p.slice(0, eq), value: p.slice(eq + 1) };
  });
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 64)) throw new SshUsageError('--concurrency must be 1 to 64');
  const ids = [];
  for (const h of values.hosts.split(',').filter(Boolean)) ids.push((await find(service, h)).id);
  const run = await service.exec({ ids, operation: operation!, args: argList, sudo: values.sudo, ...(concurrency ? { concurrency } : {}) });
  if (values.json) out.write(`${JSON.stringify(run, null, 2)}\n`);
  else {
    for (const r of run.results) {
      out.write(`== ${r.name}: ${r.ok ? `exit ${r.exitCode}` : `FAILED (${r.error?.code}): ${r.error?.message}`} in ${r.durationMs} ms\n`);
      if (r.stdout) out.write(r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`);
    }
  }
  return run.results.every((r) => r.ok) ? 0 : 1;
}

async function bundle(service: HostService, args: string[], io: { stdout: Out; stderr: Out }): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { output: { type: 'string', short: 'o' } } });
  if (positionals.length !== 1 || !values.output) throw new SshUsageError(SSH_USAGE);
  const host = await find(service, positionals[0]!);
  const b = await service.bundle(host.id);
  fs.writeFileSync(values.output, b.archive);
  const failed = b.manifest.entries.filter((e) => e.error);
  io.stdout.write(`${values.output}: ${b.archive.length} bytes, ${b.manifest.entries.length} captures${failed.length ? `, ${failed.length} failed (${failed.map((e) => e.operation).join(', ')}; see manifest.json)` : ''}\n`);
  return 0;
}

/** What the Hosts page's GPUs panel shows, for one host. */
async function gpus(service: HostService, args: string[], out: Out): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  if (positionals.length !== 1) throw new SshUsageError(SSH_USAGE);
  const host = await find(service, positionals[0]!);
  const r = await service.gpus(host.id);
  if (values.json) {
    out.write(`${JSON.stringify(r, null, 2)}\n`);
    return 0;
  }
  const v = (x: number | string | null, unit = '') => (x === null ? '-' : `${x}${unit}`);
  const gib = (mib: number | null) => (mib === null ? '?' : (mib / 1024).toFixed(1));
  out.write(`${host.name}: driver ${v(r.report.driverVersion)}, CUDA ${v(r.report.cudaVersion)}\n`);
  const rows = r.report.gpus.map((g) => [
    v(g.index),
    v(g.product),
    v(g.utilizationPct, '%'),
    v(g.temperatureC, 'C'),
    v(g.powerDrawW === null ? null : Math.round(g.powerDrawW), 'W'),
    `${gib(g.memoryUsedMiB)}/${gib(g.memoryTotalMiB)} GiB`,
    v(g.migMode?.current ?? null),
    g.processes === null ? '-' : g.processes.map((p) => `${v(p.pid)} ${p.name ?? '?'} (${v(p.usedMemoryMiB, ' MiB')})`).join(', ') || 'none',
  ]);
  out.write(`${table(['GPU', 'MODEL', 'BUSY', 'TEMP', 'POWER', 'MEMORY', 'MIG', 'PROCESSES'], rows)}\n`);
  for (const w of r.report.warnings) out.write(`warning: ${w}\n`);
  return 0;
}

async function find(service: HostService, ref: string): Promise<SshHost> {
  const { hosts } = await service.list();
  const h = hosts.find((x) => x.id === ref) ?? hosts.find((x) => x.name === ref);
  if (!h) throw new TesseraError('NOT_FOUND', `no host "${ref}" (known: ${hosts.map((x) => x.name).join(', ') || 'none'}; add one in the console or with ssh import-config)`);
  return h;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new TesseraError('NOT_FOUND', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

