import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TesseraError } from '../../shared/contract/errors.ts';
import { gpuReportOverSsh } from '../core/gpu/gpu-over-ssh.ts';
import { KnownHosts } from '../core/ssh/known-hosts.ts';
import { SshPool } from '../core/ssh/ssh-pool.ts';
import type { SshAuthMethod, SshEndpoint, SshTarget } from '../core/ssh/ssh-endpoint.ts';

export class GpuSshUsageError extends Error {}

export const GPU_SSH_USAGE = 'usage: tessera gpu ssh USER@HOST[:PORT] [--identity FILE] [--jump USER@HOST[:PORT]]... [--known-hosts FILE] [--trust SHA256:...]';

function endpoint(spec: string, auth: SshAuthMethod[]): SshEndpoint {
  const m = /^([^@\s]+)@(\[[^\]]+\]|[^:\s]+)(?::(\d+))?$/.exec(spec);
  if (!m) throw new GpuSshUsageError(`"${spec}" is not USER@HOST[:PORT]`);
  return { username: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ''), ...(m[3] ? { port: Number(m[3]) } : {}), auth };
}

/**
 * `tessera gpu ssh`: nvidia-smi on a host outside Kubernetes, as the same JSON
 * shape as `gpu parse`. An unknown host key is never accepted silently: the
 * user passes the fingerprint they checked with --trust, and only a key with
 * exactly that fingerprint is remembered.
 */
export async function gpuSshCommand(args: string[], out: { write(s: string): unknown }, dataDir: string): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { identity: { type: 'string', short: 'i' }, jump: { type: 'string', short: 'J', multiple: true }, 'known-hosts': { type: 'string', multiple: true }, trust: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new GpuSshUsageError(GPU_SSH_USAGE);
  const auth: SshAuthMethod[] = [];
  if (values.identity) {
    try {
      auth.push({ type: 'key', privateKey: fs.readFileSync(values.identity), label: values.identity });
    } catch {
      throw new TesseraError('SSH_KEY_INVALID', `cannot read the private key ${values.identity}`);
    }
  }
  if (process.env.SSH_AUTH_SOCK) auth.push({ type: 'agent' });
  if (auth.length === 0) throw new GpuSshUsageError('give --identity FILE or run an ssh-agent (SSH_AUTH_SOCK)');
  const target: SshTarget = { ...endpoint(positionals[0]!, auth), ...(values.jump?.length ? { jump: values.jump.map((j) => endpoint(j, auth)) } : {}) };
  const hostKeys = new KnownHosts({ dataDir: path.join(dataDir, 'ssh'), ...(values['known-hosts'] ? { userFiles: values['known-hosts'] } : {}) });
  const pool = new SshPool({ hostKeys, readyTimeoutMs: 15_000 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const report = await gpuReportOverSsh(pool, target);
        out.write(`${JSON.stringify(report, null, 2)}\n`);
        return 0;
      } catch (err) {
        const e = err as TesseraError;
        if (e.code !== 'HOST_KEY_UNKNOWN' || attempt > 0) throw err;
        const presented = String(e.details?.sha256Fingerprint ?? '');
        if (!values.trust) throw new TesseraError('HOST_KEY_UNKNOWN', `${e.message} If it matches, run again with --trust ${presented}`, e.details);
        if (values.trust !== presented) throw new TesseraError('HOST_KEY_UNKNOWN', `refusing: --trust ${values.trust} does not match the key the host presented (${presented})`, e.details);
        await hostKeys.trust(String(e.details?.host), Number(e.details?.port ?? 22), Buffer.from(String(e.details?.publicKey), 'base64'));
      }
    }
  } finally {
    await pool.closeAll();
  }
}
