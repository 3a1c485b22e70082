import { spawn } from 'node:child_process';
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { KcExec } from './kubeconfig-parse.ts';

export interface ExecCredentialStatus {
  token?: string;
  clientCertificateData?: string;
  clientKeyData?: string;
  expirationTimestamp?: string;
}

export interface ExecOptions {
  timeoutMs: number;
  pathEnv: string;
  clusterServer: string;
}

/**
 * Runs a client-go exec credential plugin ourselves rather than through
 * client-node, so that a missing binary, a hang and a bad answer each give the
 * user a specific message, and the login-shell PATH is used.
 */
export function runExecPlugin(exec: KcExec, opts: ExecOptions): Promise<ExecCredentialStatus> {
  const apiVersion = exec.apiVersion ?? 'client.authentication.k8s.io/v1beta1';
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: opts.pathEnv };
  for (const { name, value } of exec.env) env[name] = value;
  env.KUBERNETES_EXEC_INFO = JSON.stringify({
    apiVersion,
    kind: 'ExecCredential',
    spec: { interactive: false, cluster: { server: opts.clusterServer } },
  });

  return new Promise((resolve, reject) => {
    const child = spawn(exec.command, exec.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(() =>
        reject(new TesseraError('EXEC_PLUGIN_TIMEOUT', `exec plugin "${exec.command}" did not answer within ${opts.timeoutMs / 1000}s`, { command: exec.command })),
      );
    }, opts.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d.slice(0, 1_000_000)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d.slice(0, 10_000)));
    child.on('error', (err: NodeJS.ErrnoException) =>
      finish(() => {
        if (err.code === 'ENOENT') {
          const hint = exec.installHint ? ` ${exec.installHint.trim()}` : '';
          reject(new TesseraError('EXEC_PLUGIN_NOT_FOUND', `exec plugin "${exec.command}" was not found on PATH.${hint}`, { command: exec.command, path: opts.pathEnv }));
        } else if (err.code === 'EACCES') {
          reject(new TesseraError('EXEC_PLUGIN_FAILED', `exec plugin "${exec.command}" is not executable (permission denied)`, { command: exec.command }));
        } else reject(new TesseraError('EXEC_PLUGIN_FAILED', `exec plugin "${exec.command}" could not start: ${err.message}`, { command: exec.command }));
      }),
    );
    child.on('close', (code) =>
      finish(() => {
        if (code !== 0) {
          const why = stderr.trim().split('\n').slice(-3).join(' ') || 'no error output';
          return reject(new TesseraError('EXEC_PLUGIN_FAILED', `exec plugin "${exec.command}" exited with status ${code}: ${why}`, { command: exec.command, exitCode: code }));
        }
        try {
          resolve(parseExecCredential(stdout, exec.command));
        } catch (e) {
          reject(e);
        }
      }),
    );
  });
}

export function parseExecCredential(stdout: string, command: string): ExecCredentialStatus {
  let obj: unknown;
  try {
    obj = JSON.parse(stdout);
  } catch {
    throw new TesseraError('EXEC_PLUGIN_FAILED', `exec plugin "${command}" printed something that is not an ExecCredential JSON object`, { command });
  }
  const o = obj as { kind?: unknown; status?: ExecCredentialStatus };
  if (o?.kind !== 'ExecCredential' || typeof o.status !== 'object' || o.status === null)
    throw new TesseraError('EXEC_PLUGIN_FAILED', `exec plugin "${command}" answered without an ExecCredential status`, { command });
  const st = o.status;
  if (!st.token && !(st.clientCertificateData && st.clientKeyData))
    throw new TesseraError('EXEC_PLUGIN_FAILED', `exec plugin "${command}" returned neither a token nor a client certificate`, { command });
  return st;
}
