/**
 * One real OpenSSH server for tests: its own loopback address and port, host
 * key, authorized_keys, PATH (with the nvidia-smi, sudo and driver-installer
 * stand-ins; see README.md) and log. Runs as the current user (root in CI),
 * which sshd needs to switch to the login user, and never touches the
 * machine's own sshd configuration.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKey } from './keys.ts';
import type { KeyKind, KeyPair } from './keys.ts';
import type { PrivateNetwork } from './private-network.ts';
import { killEach, processesWithEnv, processTree, waitFor } from './processes.ts';
import type { SimProcess, SimState } from './sim/mig-sim.ts';
import { driverLoaded, FILES, logModuleLoad, logXid, readHardware, readSimState, withStateLock, writeHardware, writeSimState } from './sim/sim-state.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FAKE_BIN = path.join(HERE, 'bin');
const SIM = path.join(HERE, 'sim');
const SSHD = '/usr/sbin/sshd';
/** The project's Node, by absolute path: a login's PATH has no node on it. */
const NODE = ((): string => {
  const pinned = path.resolve(HERE, '../../node_modules/.bin/node');
  return fs.existsSync(pinned) ? pinned : process.execPath;
})();
/** Commands on each host's PATH that run a TypeScript stand-in from test/sshbed/sim/. */
const SIM_TOOLS: Record<string, string> = { 'nvidia-smi': 'nvidia-smi.ts', 'tessera-sim-driver-install': 'driver-install.ts' };
/** Shell stand-ins copied into each host's bin (see README.md). */
const FAKE_TOOLS = ['sudo', 'systemctl', 'uptime', 'journalctl', 'dmesg'] as const;
/** How long a rebooted host keeps its port closed by default. */
export const DEFAULT_REBOOT_MS = 3000;

export interface FakeGpu {
  name: string;
  uuid: string;
  memTotalMiB: number;
  memUsedMiB: number;
  utilization: number;
  temperatureC: number;
  powerW: number;
  driver: string;
  busId: string;
}

export interface SshdHostOptions {
  name: string;
  /** Directory that will hold this host's files. */
  root: string;
  /** Loopback address to listen on, e.g. 127.20.0.1 (127.0.0.1 inside a private network). */
  address: string;
  port?: number;
  /** Host key types, first one primary; default ['ed25519']. */
  hostKeyTypes?: KeyKind[];
  /** Enables password and keyboard-interactive login (through PAM, against a private /etc/shadow). */
  password?: string;
  allowTcpForwarding?: boolean;
  logLevel?: 'INFO' | 'VERBOSE' | 'DEBUG1';
  /** Default: two H100s with UUIDs derived from the host name. */
  gpus?: FakeGpu[];
  /** The fake sudo asks for this password; without it sudo asks nothing. */
  sudoPassword?: string;
  /** Listen inside this namespace. */
  network?: PrivateNetwork;
  /** How long `systemctl reboot` keeps the host down (port closed) before sshd answers again; default DEFAULT_REBOOT_MS. */
  rebootMs?: number;
  /**
   * Listen here, in the test's own network, but run each session's sshd
   * (inetd mode) inside this namespace: a jump host into the private network.
   */
  gatewayInto?: PrivateNetwork;
}

const live = new Set<SshdHost>();
process.once('exit', () => {
  for (const h of live) h.crash();
});

export class SshdHost {
  readonly name: string;
  readonly address: string;
  readonly dir: string;
  port = 0;
  /** The primary host key; hostKeys has one per type. */
  hostKey!: KeyPair;
  hostKeys: KeyPair[] = [];
  /** Everything sshd wrote to stderr (-e), across restarts. */
  log = '';
  private daemon: ChildProcess | null = null;
  private gateway: net.Server | null = null;
  private readonly sessions = new Set<ChildProcess>();
  private rebootWatch: NodeJS.Timeout | null = null;
  /** Bumped whenever the host is taken down on purpose (crash, stop): a reboot in progress then never boots it. */
  private generation = 0;
  private rebootMs: number;
  private noReturn = false;
  /** Reboots done (or begun) through `systemctl reboot`. */
  reboots = 0;
  /** True from a reboot's shutdown until sshd answers again (for ever with the no-return fault). */
  down = false;

  private constructor(private readonly opts: SshdHostOptions) {
    this.name = opts.name;
    this.address = opts.address;
    this.dir = path.join(opts.root, opts.name);
    this.rebootMs = opts.rebootMs ?? DEFAULT_REBOOT_MS;
  }

  static async start(opts: SshdHostOptions): Promise<SshdHost> {
    const host = new SshdHost(opts);
    host.prepare();
    host.port = opts.port ?? (opts.network ? randomPort() : await freePort(opts.address));
    await host.launch();
    return host;
  }

  /** The line OpenSSH would write to known_hosts for this host's primary key (or the given one). */
  knownHostsLine(key: KeyPair = this.hostKey): string {
    const [type, blob] = key.publicKey.split(/\s+/);
    return `[${this.address}]:${this.port} ${type} ${blob}`;
  }

  authorize(publicKey: string): void {
    fs.appendFileSync(path.join(this.dir, 'authorized_keys'), publicKey.trim() + '\n');
  }

  /** Replaces the hardware; [] makes nvidia-smi fail as it does without a driver. MIG state is kept per index. */
  setGpus(gpus: FakeGpu[]): void {
    writeHardware(
      this.dir,
      gpus.map((g, index) => ({ ...g, index })),
    );
  }

  /** Runs this host's nvidia-smi stand-in here, outside any SSH session: an out-of-band change, as an admin on the box would make. */
  nvidiaSmi(...args: string[]): { stdout: string; exitCode: number } {
    const r = spawnSync(NODE, ['--experimental-strip-types', '--no-warnings', path.join(SIM, SIM_TOOLS['nvidia-smi']!), ...args], {
      encoding: 'utf8',
      env: { ...process.env, TESSERA_SIM_DIR: this.dir },
    });
    return { stdout: r.stdout, exitCode: r.status ?? -1 };
  }

  /** MIG mode, instances and GPU processes as the stand-in keeps them. */
  simState(): SimState {
    return readSimState(this.dir);
  }

  /** Processes the stand-in reports as using a GPU (by GPU or MIG UUID); they block MIG mode changes, resets and instance teardown. */
  setGpuProcesses(processes: SimProcess[]): void {
    withStateLock(this.dir, () => writeSimState(this.dir, { ...readSimState(this.dir), processes }));
  }

  /** Whether a GPU's MIG mode change waits for a reset (default: Ampere yes, Hopper no). */
  setMigNeedsReset(gpu: number, needsReset: boolean): void {
    withStateLock(this.dir, () => {
      const s = readSimState(this.dir);
      const cur = s.gpus[String(gpu)] ?? { current: 'Disabled', pending: 'Disabled', instances: [] };
      writeSimState(this.dir, { ...s, gpus: { ...s.gpus, [String(gpu)]: { ...cur, needsReset } } });
    });
  }

  /** Arguments of every nvidia-smi run on this host since start (or the last clear), one entry per run. */
  nvidiaSmiCalls(): string[] {
    try {
      return fs.readFileSync(path.join(this.dir, FILES.calls), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  clearNvidiaSmiCalls(): void {
    fs.rmSync(path.join(this.dir, FILES.calls), { force: true });
  }

  /** Fault: the next tessera-sim-driver-install runs fail (until cleared). */
  failDriverInstall(fail = true): void {
    const file = path.join(this.dir, FILES.installFault);
    if (fail) fs.writeFileSync(file, '');
    else fs.rmSync(file, { force: true });
  }

  /** Fault `ssh-install-xid`: the next driver that loads raises an XID on GPU 0, once. */
  armDriverXid(on = true, xid = 119): void {
    const file = path.join(this.dir, FILES.installXid);
    if (on) fs.writeFileSync(file, `${xid}\n`);
    else fs.rmSync(file, { force: true });
  }

  /**
   * Setting: this host has no such program (e.g. no journalctl on a host without systemd's journal), answered as a
   * login shell answers for one: "command not found", exit 127. `false` puts the stand-in back.
   */
  lackTool(tool: (typeof FAKE_TOOLS)[number], lacks = true): void {
    const file = path.join(this.dir, 'bin', tool);
    if (lacks) fs.writeFileSync(file, `#!/bin/sh\necho "bash: line 1: ${tool}: command not found" >&2\nexit 127\n`, { mode: 0o755 });
    else fs.copyFileSync(path.join(FAKE_BIN, tool), file);
  }

  /** The kernel logs an XID on one GPU now, in the driver's own form (a GPU fault while a job runs, no driver load). */
  logXid(xid: number, gpu = 0): void {
    if (!logXid(this.dir, xid, gpu, 'pid=1234, name=python3, Ch 00000008, errorString CTX SWITCH TIMEOUT, Info 0x3c046')) throw new Error(`${this.name} has no GPU ${gpu}`);
  }

  /** Setting: driver installs leave the new driver for the next boot (nvidia-smi reports a version mismatch until then). */
  setInstallNeedsReboot(needs = true): void {
    const file = path.join(this.dir, FILES.installNeedsReboot);
    if (needs) fs.writeFileSync(file, '');
    else fs.rmSync(file, { force: true });
  }

  /** How long the next reboots keep the host down. */
  setRebootMs(ms: number): void {
    this.rebootMs = ms;
  }

  /**
   * Fault `no-return`: the host's next reboot never ends (its port stays closed). Clearing it brings a host that is
   * down because of it back up at once, as when someone power-cycles the box.
   */
  async setNoReturn(on = true): Promise<void> {
    this.noReturn = on;
    if (!on && this.down && !this.rebooting) await this.boot();
  }

  /** The version a driver install left for the next boot, if any. */
  pendingDriver(): string | undefined {
    try {
      return fs.readFileSync(path.join(this.dir, FILES.driverPending), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  private rebooting = false;

  /**
   * What `systemctl reboot` on the host leads to: every connection is cut (sshd and its sessions SIGKILLed, so
   * clients see the TCP connection die), the port stays closed for the reboot time, the driver an install left
   * pending becomes the loaded one, and sshd starts again with the same address, port and host key.
   */
  async reboot(): Promise<void> {
    if (this.rebooting) return;
    this.rebooting = true;
    try {
      fs.rmSync(path.join(this.dir, FILES.rebootRequest), { force: true });
      this.reboots++;
      this.down = true;
      const gen = this.generation;
      const procs = [this.daemon, ...this.sessions].filter((c): c is ChildProcess => c !== null);
      this.halt();
      await Promise.all(procs.map((c) => exited(c)));
      this.daemon = null;
      this.sessions.clear();
      // A new boot, a new kernel log; the module loaded at boot is the pending driver if an install left one.
      fs.rmSync(path.join(this.dir, FILES.kernelLog), { force: true });
      const pending = this.pendingDriver();
      if (pending) {
        withStateLock(this.dir, () => writeHardware(this.dir, readHardware(this.dir).map((g) => ({ ...g, driver: pending }))));
        fs.rmSync(path.join(this.dir, FILES.driverPending), { force: true });
      }
      const loaded = pending ?? readHardware(this.dir)[0]?.driver;
      if (pending) driverLoaded(this.dir, pending);
      else if (loaded) logModuleLoad(this.dir, loaded);
      await new Promise((r) => setTimeout(r, this.rebootMs));
      if (gen !== this.generation || this.noReturn) return;
      await this.boot();
    } finally {
      this.rebooting = false;
    }
  }

  private async boot(): Promise<void> {
    fs.writeFileSync(path.join(this.dir, FILES.bootedAt), `${Date.now()}\n`);
    await this.launch();
    this.down = false;
  }

  /** Kills the listener and every session with their commands; the reboot watch stays. */
  private halt(): void {
    const roots = [this.daemon?.pid, ...[...this.sessions].map((s) => s.pid)].filter((p): p is number => typeof p === 'number');
    const pids = roots.flatMap((p) => processTree(p));
    killEach(pids);
    killEach(processesWithEnv(this.envMarker));
    this.gateway?.close();
    this.gateway = null;
  }

  /** `systemctl reboot` only leaves a file behind: the process that owns the host notices it and reboots it. */
  private watchReboots(): void {
    if (this.rebootWatch) return;
    const file = path.join(this.dir, FILES.rebootRequest);
    this.rebootWatch = setInterval(() => {
      if (!this.rebooting && fs.existsSync(file)) void this.reboot().catch((err) => (this.log += `reboot failed: ${err instanceof Error ? err.message : String(err)}\n`));
    }, 100);
    this.rebootWatch.unref();
  }

  /** Fault `hostkey-change`: the host is reinstalled with a new host key on the same address and port. */
  async hostkeyChange(): Promise<void> {
    await this.restart({ newHostKey: true });
  }

  /**
   * Fault `ssh-drop`: every open connection is cut at once (their sshd
   * processes and commands are SIGKILLed, so clients see the TCP connection
   * die mid-command), while the host keeps accepting new connections.
   */
  sshDrop(): void {
    const daemon = this.daemon?.pid;
    const sessionRoots = [...this.sessions].map((s) => s.pid).filter((p): p is number => typeof p === 'number');
    const underDaemon = typeof daemon === 'number' ? processTree(daemon).filter((p) => p !== daemon) : [];
    const pids = [...underDaemon, ...sessionRoots.flatMap((p) => processTree(p))];
    killEach(pids);
    killEach(processesWithEnv(this.envMarker));
  }

  /** Stops and starts on the same address and port; with newHostKey the host is "reinstalled". */
  async restart(opts: { newHostKey?: boolean } = {}): Promise<void> {
    await this.stop();
    if (opts.newHostKey) this.makeHostKey();
    await this.launch();
  }

  /** The host vanishes at once: listener, sessions and their commands are SIGKILLed. */
  crash(): void {
    this.generation++;
    if (this.rebootWatch) clearInterval(this.rebootWatch);
    this.rebootWatch = null;
    this.halt();
    live.delete(this);
  }

  async stop(): Promise<void> {
    const daemon = this.daemon;
    const sessions = [...this.sessions];
    this.crash();
    await Promise.all([daemon, ...sessions].filter((c): c is ChildProcess => c !== null).map((c) => exited(c)));
    this.daemon = null;
    this.sessions.clear();
  }

  /** Resolves once `pattern` appears in the log. */
  async waitForLog(pattern: RegExp, timeoutMs = 5000): Promise<void> {
    await waitFor(() => pattern.test(this.log), timeoutMs, `${this.name} log to match ${pattern}`);
  }

  private get envMarker(): string {
    return `TESSERA_SSHBED_HOST=${this.dir}`;
  }

  private prepare(): void {
    // sshd refuses to start without its privilege separation directory; Debian creates it at boot.
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    fs.mkdirSync(path.join(this.dir, 'bin'), { recursive: true });
    for (const tool of FAKE_TOOLS) {
      fs.copyFileSync(path.join(FAKE_BIN, tool), path.join(this.dir, 'bin', tool));
      fs.chmodSync(path.join(this.dir, 'bin', tool), 0o755);
    }
    for (const [tool, script] of Object.entries(SIM_TOOLS)) {
      const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const wrapper = `#!/bin/sh\nexport TESSERA_SIM_DIR=${q(this.dir)}\nexec ${q(NODE)} --experimental-strip-types --no-warnings ${q(path.join(SIM, script))} "$@"\n`;
      fs.writeFileSync(path.join(this.dir, 'bin', tool), wrapper, { mode: 0o755 });
    }
    fs.writeFileSync(path.join(this.dir, 'authorized_keys'), '');
    fs.mkdirSync(path.join(this.dir, 'home'), { recursive: true, mode: 0o700 });
    this.setGpus(this.opts.gpus ?? defaultGpus(this.name));
    fs.writeFileSync(path.join(this.dir, FILES.bootedAt), `${Date.now()}\n`);
    if (this.opts.sudoPassword !== undefined) fs.writeFileSync(path.join(this.dir, 'sudo-password'), this.opts.sudoPassword + '\n');
    if (this.opts.password !== undefined) {
      const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: this.opts.password + '\n', encoding: 'utf8' }).trim();
      fs.writeFileSync(path.join(this.dir, 'shadow'), `root:${hash}:19000:0:99999:7:::\n`, { mode: 0o600 });
      fs.writeFileSync(path.join(this.dir, 'pam-sshd'), 'auth required pam_unix.so\naccount required pam_unix.so\nsession required pam_permit.so\npassword required pam_deny.so\n');
    }
    this.makeHostKey();
  }

  private makeHostKey(): void {
    this.hostKeys = (this.opts.hostKeyTypes ?? ['ed25519']).map((type) => generateKey(this.dir, `ssh_host_${type}_key`, type, { comment: `${this.name}-host` }));
    this.hostKey = this.hostKeys[0]!;
  }

  private writeConfig(): string {
    const o = this.opts;
    const pam = o.password !== undefined;
    const cfg = [
      `ListenAddress ${this.address}:${this.port}`,
      ...this.hostKeys.map((k) => `HostKey ${k.privatePath}`),
      `PidFile ${path.join(this.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(this.dir, 'authorized_keys')}`,
      `PermitRootLogin ${pam ? 'yes' : 'prohibit-password'}`,
      'PubkeyAuthentication yes',
      `PasswordAuthentication ${pam ? 'yes' : 'no'}`,
      `KbdInteractiveAuthentication ${pam ? 'yes' : 'no'}`,
      `UsePAM ${pam ? 'yes' : 'no'}`,
      'StrictModes no',
      `AllowTcpForwarding ${o.allowTcpForwarding === false ? 'no' : 'yes'}`,
      // The marker lets crash() find session commands that outlived their sshd (they are reparented to init).
      // HOME is the host's own: bash reads ~/.bashrc for sshd sessions, and the machine user's one may run
      // tools (pyenv init here) whose stale lock once hung every session for a minute.
      `SetEnv PATH=${path.join(this.dir, 'bin')}:/usr/bin:/bin HOME=${path.join(this.dir, 'home')} ${this.envMarker}`,
      `LogLevel ${o.logLevel ?? 'VERBOSE'}`,
      'PrintMotd no',
      'MaxStartups 100',
      'MaxSessions 20',
    ];
    const file = path.join(this.dir, 'sshd_config');
    fs.writeFileSync(file, cfg.join('\n') + '\n');
    return file;
  }

  private async launch(): Promise<void> {
    this.watchReboots();
    const config = this.writeConfig();
    // Catch a bad configuration here, with sshd's own message, rather than as a hang.
    execFileSync(SSHD, ['-t', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (this.opts.gatewayInto) return this.launchGateway(config, this.opts.gatewayInto);
    let argv = [SSHD, '-D', '-e', '-f', config];
    if (this.opts.password !== undefined) {
      // A private mount namespace lets this sshd see its own /etc/shadow and PAM stack; the machine's stay untouched.
      const shadow = path.join(this.dir, 'shadow');
      const pam = path.join(this.dir, 'pam-sshd');
      argv = ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', `mount --bind '${shadow}' /etc/shadow && mount --bind '${pam}' /etc/pam.d/sshd && exec "$@"`, 'sh', ...argv];
    }
    if (this.opts.network) argv = [...this.opts.network.enter(), ...argv];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.daemon = child;
    live.add(this);
    child.stderr!.on('data', (d) => (this.log += d));
    const listening = new RegExp(`Server listening on ${this.address.replace(/\./g, '\\.')} port ${this.port}\\.`);
    // The log spans restarts: only this launch's lines count.
    const from = this.log.length;
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`sshd for ${this.name} exited (${code}) before listening:\n${this.log}`));
      child.once('exit', onExit);
      waitFor(() => listening.test(this.log.slice(from)), 10_000, `sshd ${this.name} to listen`).then(
        () => {
          child.off('exit', onExit);
          resolve();
        },
        (err) => {
          child.off('exit', onExit);
          reject(err);
        },
      );
    });
  }

  private async launchGateway(config: string, network: PrivateNetwork): Promise<void> {
    const server = net.createServer({ pauseOnConnect: true }, (socket) => {
      // sshd -i speaks SSH on its stdin/stdout; handing it the accepted socket itself keeps getpeername() working for its logs.
      const child = spawn(network.enter()[0]!, [...network.enter().slice(1), SSHD, '-i', '-e', '-f', config], { stdio: [socket, socket, 'pipe'] });
      this.sessions.add(child);
      child.stderr!.on('data', (d) => (this.log += d));
      child.once('exit', () => this.sessions.delete(child));
      socket.destroy();
    });
    this.gateway = server;
    live.add(this);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.address, () => resolve());
    });
    this.log += `Server listening on ${this.address} port ${this.port}. (gateway)\n`;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, address, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const usedPorts = new Set<number>();
function randomPort(): number {
  let p: number;
  do p = 20_000 + Math.floor(Math.random() * 30_000);
  while (usedPorts.has(p));
  usedPorts.add(p);
  return p;
}

export function defaultGpus(hostName: string): FakeGpu[] {
  const hex = Buffer.from(hostName).toString('hex').padEnd(12, '0').slice(0, 12);
  return [0, 1].map((i) => ({
    name: 'NVIDIA H100 80GB HBM3',
    uuid: `GPU-${i}${hex.slice(1, 8)}-1111-2222-3333-${hex}`,
    memTotalMiB: 81559,
    memUsedMiB: i === 0 ? 1024 : 0,
    utilization: i === 0 ? 37 : 0,
    temperatureC: 40 + i,
    powerW: i === 0 ? 245.5 : 70,
    driver: '550.54.15',
    busId: `00000000:${(0x18 + i * 0x12).toString(16).toUpperCase()}:00.0`,
  }));
}
