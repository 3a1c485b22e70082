// Stopping and restarting the process groups a test bed recorded, and nothing else.
import fs from 'node:fs';
import path from 'node:path';
import { releaseNodeNetwork } from './node-network.ts';
import { readSshBed } from './ssh-hosts.ts';
import { isAlive, sleep, startDetached, stopGroup, stopGroupSync } from './processes.ts';
import { defaultStateDir, readInfo, readRuntime, statePaths, withLock, writeJsonAtomic } from './state.ts';

/** The fleet first (so it does not log a storm of errors), etcd last. */
const STOP_ORDER = ['fleet', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];

export const stderrLog = (m: string) => process.stderr.write(`[testbed] ${m}\n`);

function recordedInStopOrder(stateDir: string): Array<[string, number]> {
  // The SSH hosts' supervisor (up --ssh-hosts) keeps its own record: an SSH-only bed has no state.json.
  const ssh = readSshBed(stateDir);
  const sshHosts: Array<[string, number]> = ssh ? [['ssh-hosts', ssh.pid]] : [];
  const info = readInfo(stateDir);
  if (!info) return sshHosts;
  const rank = (n: string) => (STOP_ORDER.includes(n) ? STOP_ORDER.indexOf(n) : -1); // unknown (later) extras first
  return [...sshHosts, ...Object.entries(info.processes).sort(([a], [b]) => rank(a) - rank(b))];
}

/** Stops every process group recorded in the state dir (whatever is still alive). */
export async function stopRecorded(stateDir: string, log: (m: string) => void): Promise<void> {
  for (const [name, pgid] of recordedInStopOrder(stateDir)) {
    if (isAlive(pgid)) log(`stopping ${name} (pgid ${pgid})`);
    await stopGroup(pgid);
  }
}

/** For 'exit' and signal handlers, where nothing asynchronous runs any more. */
export function stopRecordedSync(stateDir: string): void {
  for (const [, pgid] of recordedInStopOrder(stateDir)) stopGroupSync(pgid);
}

export function clearStateDir(stateDir: string): void {
  for (const entry of fs.readdirSync(stateDir)) if (entry !== '.lock') fs.rmSync(path.join(stateDir, entry), { recursive: true, force: true });
}

export async function stopTestbed(stateDir: string = defaultStateDir(), opts: { keep?: boolean; log?: (m: string) => void } = {}): Promise<void> {
  const dir = path.resolve(stateDir);
  if (!fs.existsSync(dir)) return;
  await withLock(dir, async () => {
    await stopRecorded(dir, opts.log ?? stderrLog);
    if (!opts.keep) {
      releaseNodeNetwork(dir);
      clearStateDir(dir);
    }
  });
  if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
}

export function stopTestbedSync(stateDir: string): void {
  stopRecordedSync(stateDir);
  releaseNodeNetwork(stateDir);
  fs.rmSync(stateDir, { recursive: true, force: true });
}

/** Stops one process and starts it again with the exact same command line (same ports, same data). */
export async function restartProcess(
  stateDir: string,
  name: string,
  opts: { downMs?: number; graceMs?: number; log?: (m: string) => void } = {},
): Promise<number> {
  const log = opts.log ?? stderrLog;
  const info = readInfo(stateDir);
  const spec = readRuntime(stateDir)?.specs[name];
  if (!info || !spec) throw new Error(`no process ${name} recorded in ${stateDir}`);
  const old = info.processes[name];
  if (old) {
    log(`stopping ${name} (pgid ${old})`);
    await stopGroup(old, opts.graceMs);
  }
  if (opts.downMs) await sleep(opts.downMs);
  const pid = startDetached(spec);
  info.processes[name] = pid;
  writeJsonAtomic(statePaths(stateDir).info, info);
  log(`started ${name} again (pgid ${pid})`);
  return pid;
}
