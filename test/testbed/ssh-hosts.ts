// The SSH hosts of a test bed (`up --ssh-hosts M`): real sshd servers kept by
// one detached supervisor process (ssh-hosts-main.ts), so they outlive the
// `up` command like the control plane does. This side starts it, reads what it
// recorded, asks it for faults over a control socket, and stops it.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sshBedUnavailable } from '../sshbed/index.ts';
import { isAlive, sleep, startDetached, stopGroup, stopGroupSync } from './processes.ts';
import { readJson, withLock } from './state.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const MAX_SSH_HOSTS = 16;

export interface SshHostRecord {
  /** The alias in the client config: host-1 ... host-M. */
  name: string;
  /** HostName as the client sees it (127.0.0.1 for the inner host: an address only its jump host's network has). */
  address: string;
  port: number;
  user: string;
  /** The alias of the jump host for the inner host. */
  proxyJump?: string;
  /** `loopback`: reachable from this machine; `private`: only through proxyJump; `gateway`: the jump host, whose sessions run in the private network. */
  network: 'loopback' | 'private' | 'gateway';
  /** The host's own directory (sshd_config, host key, the nvidia-smi stand-in's state). */
  dir: string;
  /** SHA256 fingerprint of the host key it presents now. */
  fingerprint: string;
  /** Keys it presented before (hostkey-change); known_hosts still names the first one. */
  previousFingerprints: string[];
  /** The listening sshd; absent for the gateway host, whose sshd runs per connection (inetd style) under the supervisor. */
  sshdPid?: number;
  /** Whether tessera-sim-driver-install fails on this host (fault ssh-install-fail). */
  installFails: boolean;
  /** Whether a driver install takes effect only after a reboot (ssh-install-needs-reboot). */
  installNeedsReboot?: boolean;
  /** Fault no-return: the host's next `systemctl reboot` never ends. */
  noReturn?: boolean;
}

export interface SshBedRecord {
  /** The supervisor, leader of the process group that holds every listener (what `down` stops). */
  pid: number;
  phase: 'starting' | 'running' | 'failed';
  error?: string;
  count: number;
  /** The namespace holder of the private network behind the jump host. */
  networkPid?: number;
  identityFile: string;
  knownHosts: string;
  config: string;
  /** Unix socket the supervisor takes fault requests on. */
  control: string;
  hosts: SshHostRecord[];
  updatedAt: string;
}

export const sshPaths = (stateDir: string) => {
  const dir = path.join(stateDir, 'ssh');
  const sock = path.join(dir, 'control.sock');
  return {
    dir,
    record: path.join(dir, 'hosts.json'),
    hostsDir: path.join(dir, 'hosts'),
    identity: path.join(dir, 'id_ed25519'),
    knownHosts: path.join(dir, 'known_hosts'),
    config: path.join(dir, 'config'),
    log: path.join(stateDir, 'logs', 'ssh-hosts.log'),
    // A unix socket path is limited to 107 bytes; a deep state dir gets one in /tmp named after it.
    control: Buffer.byteLength(sock) <= 100 ? sock : `/tmp/tessera-sshbed-${createHash('sha256').update(stateDir).digest('hex').slice(0, 16)}.sock`,
  };
};

export const readSshBed = (stateDir: string): SshBedRecord | undefined => readJson<SshBedRecord>(sshPaths(stateDir).record);

export function sshBedRunning(stateDir: string): boolean {
  const r = readSshBed(stateDir);
  return r?.phase === 'running' && isAlive(r.pid);
}

/** Throws a specific error when M hosts cannot be started here (before anything else starts). */
export function checkSshHosts(count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > MAX_SSH_HOSTS) throw new Error(`--ssh-hosts must be a whole number from 1 to ${MAX_SSH_HOSTS}, got ${count}`);
  const why = sshBedUnavailable();
  if (why) throw new Error(`cannot start SSH hosts: ${why}`);
}

/** Starts M hosts in stateDir, or returns the ones running there (`started` tells which). */
export async function ensureSshHosts(stateDirIn: string, count: number, log: (m: string) => void): Promise<{ record: SshBedRecord; started: boolean }> {
  checkSshHosts(count);
  const stateDir = path.resolve(stateDirIn);
  return withLock(stateDir, async () => {
    if (sshBedRunning(stateDir)) {
      const record = readSshBed(stateDir)!;
      log(`SSH hosts already running in ${stateDir}`);
      if (record.count !== count) log(`note: ${record.count} SSH hosts run, not the ${count} asked for; run down first to change that`);
      return { record, started: false };
    }
    // Leftovers of a supervisor that died are replaced, never patched up.
    await stopSshHosts(stateDir, log);
    fs.rmSync(sshPaths(stateDir).dir, { recursive: true, force: true });
    return { record: await startSupervisor(stateDir, count, log), started: true };
  });
}

async function startSupervisor(stateDir: string, count: number, log: (m: string) => void): Promise<SshBedRecord> {
  const p = sshPaths(stateDir);
  fs.mkdirSync(path.dirname(p.log), { recursive: true });
  log(`starting ${count} SSH host${count === 1 ? '' : 's'} (sshd)`);
  const pid = startDetached({
    name: 'ssh-hosts',
    command: process.execPath,
    args: ['--import', import.meta.resolve('tsx'), path.join(HERE, 'ssh-hosts-main.ts'), '--state', stateDir, '--count', String(count)],
    log: p.log,
  });
  const deadline = Date.now() + 60_000 + count * 5_000;
  for (;;) {
    const r = readSshBed(stateDir);
    if (r?.pid === pid && r.phase === 'running') {
      for (const h of r.hosts) log(`  ${h.name}: ${h.user}@${h.address}:${h.port}${h.proxyJump ? ` via ${h.proxyJump}` : ''} ${h.fingerprint}`);
      log(`client config: ssh -F ${r.config} host-1`);
      return r;
    }
    const failure = r?.pid === pid && r.phase === 'failed' ? r.error : !isAlive(pid) ? `the supervisor exited; see ${p.log}` : Date.now() > deadline ? `not up in time; see ${p.log}` : null;
    if (failure !== null) {
      await stopGroup(pid, 3_000);
      throw new Error(`SSH hosts did not start: ${failure}`);
    }
    await sleep(100);
  }
}

/** Stops the supervisor's process group; it stops its hosts (sessions and their commands included) on SIGTERM. */
export async function stopSshHosts(stateDir: string, log: (m: string) => void): Promise<void> {
  const r = readSshBed(stateDir);
  if (!r) return;
  if (isAlive(r.pid)) log(`stopping SSH hosts (pgid ${r.pid})`);
  await stopGroup(r.pid);
}

export function stopSshHostsSync(stateDir: string): void {
  const r = readSshBed(stateDir);
  if (r) stopGroupSync(r.pid);
}

export type SshControlRequest =
  | { op: 'hostkey-change' | 'ssh-drop'; host: string }
  | { op: 'install-fail'; host: string; fail: boolean }
  | { op: 'install-needs-reboot'; host: string; on: boolean }
  | { op: 'install-xid'; host: string; on: boolean }
  | { op: 'no-return'; host: string; on: boolean };

/** SSH host names of a test bed (`host-1` ... `host-M`), as faults take them. */
export const SSH_HOST_NAME = /^host-\d+$/;

/** One request to the supervisor; it answers with a one-line summary or an error. */
export async function sshControl(stateDir: string, req: SshControlRequest, timeoutMs = 30_000): Promise<string> {
  const r = readSshBed(stateDir);
  if (!r || !isAlive(r.pid)) throw new Error(`no SSH hosts running in ${stateDir} (start them with up --ssh-hosts M)`);
  if (!r.hosts.some((h) => h.name === req.host)) throw new Error(`no SSH host ${JSON.stringify(req.host)} (known: ${r.hosts.map((h) => h.name).join(', ')})`);
  const reply = await new Promise<string>((resolve, reject) => {
    const sock = net.connect(r.control);
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`the SSH host supervisor did not answer ${req.op} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d) => (text += d));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('end', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
  const answer = JSON.parse(reply) as { ok: boolean; summary?: string; error?: string };
  if (!answer.ok) throw new Error(answer.error ?? 'the SSH host supervisor refused the request');
  return answer.summary ?? '';
}

export interface SshBedStatus {
  running: boolean;
  pid: number;
  phase: SshBedRecord['phase'];
  config: string;
  hosts: Array<Pick<SshHostRecord, 'name' | 'address' | 'port' | 'user' | 'proxyJump' | 'fingerprint' | 'installFails'> & { target: string; answers: boolean | 'only via jump host' }>;
}

/** What runs; direct hosts are probed for their SSH banner (the inner one can only be reached through its jump host). */
export async function sshBedStatus(stateDir: string): Promise<SshBedStatus | undefined> {
  const r = readSshBed(path.resolve(stateDir));
  if (!r) return undefined;
  const alive = isAlive(r.pid);
  const hosts = await Promise.all(
    r.hosts.map(async (h) => ({
      name: h.name,
      address: h.address,
      port: h.port,
      user: h.user,
      ...(h.proxyJump ? { proxyJump: h.proxyJump } : {}),
      fingerprint: h.fingerprint,
      installFails: h.installFails,
      target: `${h.user}@${h.address}:${h.port}${h.proxyJump ? ` via ${h.proxyJump}` : ''}`,
      answers: h.network === 'private' ? ('only via jump host' as const) : alive && (await sshBanner(h.address, h.port)),
    })),
  );
  const running = alive && r.phase === 'running' && hosts.every((h) => h.answers !== false);
  return { running, pid: r.pid, phase: r.phase, config: r.config, hosts };
}

/** True if something on address:port greets like an SSH server within 3 s. */
function sshBanner(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, address);
    let text = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 3_000);
    sock.setEncoding('utf8');
    sock.on('data', (d) => {
      text += d;
      if (text.includes('\n')) done(text.startsWith('SSH-2.0-'));
    });
    sock.on('error', () => done(false));
    sock.on('end', () => done(text.startsWith('SSH-2.0-')));
  });
}
