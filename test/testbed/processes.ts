// Detached child processes: each gets its own process group so `down` can stop
// it and everything it forked, and so it outlives the `up` command.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { ProcessSpec } from './state.ts';

export function startDetached(spec: ProcessSpec): number {
  const out = fs.openSync(spec.log, 'a');
  fs.writeSync(out, `\n==== ${new Date().toISOString()} ${spec.command} ${spec.args.join(' ')}\n`);
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`failed to start ${spec.name} (${spec.command})`);
  // Let the parent exit (or keep running tests) without waiting on the child.
  child.unref();
  child.on('error', () => {});
  return child.pid;
}

/** True if the process exists and is not a zombie (reparented zombies linger until init reaps them). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  // The group may only hold zombies; the leader's state is the useful signal.
  return isAlive(pgid) || groupHasLiveMember(pgid);
}

function groupHasLiveMember(pgid: number): boolean {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
    } catch {}
  }
  return false;
}

/** SIGTERM the whole group, wait, then SIGKILL what is left. */
export async function stopGroup(pgid: number, graceMs = 10_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {}
  };
  if (!groupAlive(pgid)) return;
  signal(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(100);
  if (groupAlive(pgid)) {
    signal('SIGKILL');
    const killDeadline = Date.now() + 5_000;
    while (groupAlive(pgid) && Date.now() < killDeadline) await sleep(100);
  }
}

/** For process 'exit' handlers, where nothing asynchronous runs any more. */
export function stopGroupSync(pgid: number, graceMs = 10_000): void {
  const nap = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  if (!groupAlive(pgid)) return;
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch {}
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) nap(50);
  if (groupAlive(pgid)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {}
    const killDeadline = Date.now() + 5_000;
    while (groupAlive(pgid) && Date.now() < killDeadline) nap(50);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
