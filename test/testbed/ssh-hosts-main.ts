// The detached supervisor of a test bed's SSH hosts (started by ssh-hosts.ts):
// `--state DIR --count M`. It holds the sshbed library's hosts for as long as
// the test bed lives, because the jump host's listener and every host's fault
// handles (sshDrop, hostkeyChange) live in the process that started them.
// host-1 is the jump host and, with M >= 2, host-M sits in a private network
// namespace that only host-1's sessions can reach. Faults arrive as one JSON
// line on the control socket. SIGTERM stops every host and exits.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fingerprintOf, generateKey, PrivateNetwork, processTree, SshdHost } from '../sshbed/index.ts';
import type { SshdHostOptions } from '../sshbed/index.ts';
import { sshPaths, type SshBedRecord, type SshControlRequest, type SshHostRecord } from './ssh-hosts.ts';
import { writeJsonAtomic } from './state.ts';

const { values } = parseArgs({ options: { state: { type: 'string' }, count: { type: 'string' } } });
const stateDir = path.resolve(values.state ?? '');
const count = Number(values.count);
const paths = sshPaths(stateDir);
const user = os.userInfo().username;
const log = (m: string) => process.stdout.write(`${new Date().toISOString()} ${m}\n`);

const hosts: SshdHost[] = [];
let network: PrivateNetwork | null = null;
let server: net.Server | null = null;
let record: SshBedRecord = {
  pid: process.pid,
  phase: 'starting',
  count,
  identityFile: paths.identity,
  knownHosts: paths.knownHosts,
  config: paths.config,
  control: paths.control,
  hosts: [],
  updatedAt: new Date().toISOString(),
};

const save = () => writeJsonAtomic(paths.record, { ...record, updatedAt: new Date().toISOString() });

/** The listening sshd of a host, found by its config path among our descendants (the gateway host has none). */
function sshdPidOf(host: SshdHost): number | undefined {
  const config = path.join(host.dir, 'sshd_config');
  for (const pid of processTree(process.pid)) {
    try {
      // sshd retitles itself ("sshd: /usr/sbin/sshd -D ... -f <config> [listener] ..."), so match the text.
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes('sshd -D ') && cmdline.includes(` ${config}`)) return pid;
    } catch {
      // exited while we looked
    }
  }
  return undefined;
}

function refresh(h: SshHostRecord, host: SshdHost): void {
  const fp = fingerprintOf(host.hostKey.publicPath);
  if (fp !== h.fingerprint) h.previousFingerprints.push(h.fingerprint);
  h.fingerprint = fp;
  const pid = sshdPidOf(host);
  if (pid === undefined) delete h.sshdPid;
  else h.sshdPid = pid;
}

const quote = (p: string) => (/\s/.test(p) ? `"${p}"` : p);

/** An OpenSSH client config that reaches every host, the inner one through ProxyJump. */
function clientConfig(list: SshHostRecord[]): string {
  const lines = [`# Written by \`npm run testbed -- up --ssh-hosts ${count}\` for ${stateDir}. Use: ssh -F ${quote(paths.config)} host-1`];
  for (const h of list) {
    lines.push(
      '',
      `Host ${h.name}`,
      `  HostName ${h.address}`,
      `  Port ${h.port}`,
      `  User ${h.user}`,
      `  IdentityFile ${quote(paths.identity)}`,
      '  IdentitiesOnly yes',
      ...(h.proxyJump ? [`  ProxyJump ${h.proxyJump}`] : []),
      `  UserKnownHostsFile ${quote(paths.knownHosts)}`,
      // Every key is in known_hosts already: a mismatch (fault hostkey-change) must fail, never prompt.
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
    );
  }
  return lines.join('\n') + '\n';
}

async function start(): Promise<void> {
  if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive whole number, got ${values.count}`);
  fs.mkdirSync(paths.hostsDir, { recursive: true });
  save();
  const client = generateKey(paths.dir, 'id_ed25519', 'ed25519', { comment: 'tessera-testbed-client' });
  // 127.21/16 keeps clear of the node networks (127.10+) and of test files' own sshbeds (127.20/16).
  const subnet = `127.21.${1 + (process.pid % 250)}`;
  const inner = count >= 2 ? count : 0;
  if (inner) {
    network = await PrivateNetwork.create();
    record.networkPid = network.pid;
  }
  for (let i = 1; i <= count; i++) {
    const name = `host-${i}`;
    const where: Partial<SshdHostOptions> =
      i === inner ? { network: network!, address: '127.0.0.1' } : i === 1 && network ? { gatewayInto: network, address: `${subnet}.1` } : { address: `${subnet}.${i}` };
    const host = await SshdHost.start({ name, root: paths.hostsDir, address: `${subnet}.${i}`, ...where });
    host.authorize(client.publicKey);
    hosts.push(host);
    const h: SshHostRecord = {
      name,
      address: host.address,
      port: host.port,
      user,
      network: i === inner ? 'private' : where.gatewayInto ? 'gateway' : 'loopback',
      ...(i === inner ? { proxyJump: 'host-1' } : {}),
      dir: host.dir,
      fingerprint: '',
      previousFingerprints: [],
      installFails: false,
    };
    refresh(h, host);
    h.previousFingerprints = [];
    record.hosts.push(h);
    log(`${name} listening on ${h.address}:${h.port} (${h.network}) ${h.fingerprint}`);
  }
  fs.writeFileSync(paths.knownHosts, hosts.map((h) => h.knownHostsLine()).join('\n') + '\n');
  fs.writeFileSync(paths.config, clientConfig(record.hosts));
  await listenControl();
  record = { ...record, phase: 'running' };
  save();
  log('running');
}

async function handle(req: SshControlRequest): Promise<string> {
  const i = record.hosts.findIndex((h) => h.name === req.host);
  const host = hosts[i];
  const h = record.hosts[i];
  if (!host || !h) throw new Error(`no SSH host ${JSON.stringify(req.host)} (known: ${record.hosts.map((x) => x.name).join(', ')})`);
  switch (req.op) {
    case 'ssh-drop': {
      host.sshDrop();
      return `cut every open SSH connection to ${h.name} (commands killed); it still accepts new ones`;
    }
    case 'hostkey-change': {
      const old = h.fingerprint;
      await host.hostkeyChange();
      refresh(h, host);
      save();
      return `${h.name} reinstalled with a new host key on ${h.address}:${h.port}: ${old} -> ${h.fingerprint} (known_hosts keeps the old one)`;
    }
    case 'install-fail': {
      host.failDriverInstall(req.fail);
      h.installFails = req.fail;
      save();
      return req.fail ? `tessera-sim-driver-install on ${h.name} fails until ssh-install-clear` : `tessera-sim-driver-install on ${h.name} works again`;
    }
    case 'install-needs-reboot': {
      host.setInstallNeedsReboot(req.on);
      h.installNeedsReboot = req.on;
      save();
      return req.on ? `driver installs on ${h.name} take effect after its next reboot (nvidia-smi reports a version mismatch until then)` : `driver installs on ${h.name} take effect at once again`;
    }
    case 'install-xid': {
      host.armDriverXid(req.on);
      return req.on ? `the next driver that loads on ${h.name} raises XID 119 on GPU 0 (logged by the kernel), once` : `no XID armed on ${h.name}`;
    }
    case 'no-return': {
      const wasDown = host.down;
      await host.setNoReturn(req.on);
      h.noReturn = req.on;
      save();
      if (req.on) return `${h.name} will not come back from its next reboot (systemctl reboot)`;
      return wasDown ? `${h.name} is back up (it was held down by no-return)` : `${h.name} comes back from reboots again`;
    }
    default:
      throw new Error(`unknown request ${JSON.stringify((req as { op?: unknown }).op)}`);
  }
}

async function listenControl(): Promise<void> {
  fs.rmSync(paths.control, { force: true });
  // One request at a time: faults on the same host must not interleave a restart with a drop.
  let queue: Promise<unknown> = Promise.resolve();
  server = net.createServer((sock) => {
    let text = '';
    sock.setEncoding('utf8');
    sock.on('error', () => {});
    sock.on('data', (d) => {
      text += d;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      const line = text.slice(0, nl);
      queue = queue.then(async () => {
        let answer: { ok: boolean; summary?: string; error?: string };
        try {
          const req = JSON.parse(line) as SshControlRequest;
          const summary = await handle(req);
          log(`${req.op} ${req.host}: ${summary}`);
          answer = { ok: true, summary };
        } catch (err) {
          answer = { ok: false, error: err instanceof Error ? err.message : String(err) };
          log(`request failed: ${answer.error}`);
        }
        sock.end(JSON.stringify(answer) + '\n');
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server!.once('error', reject);
    server!.listen(paths.control, () => resolve());
  });
  fs.chmodSync(paths.control, 0o600);
}

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log('stopping');
    server?.close();
    await Promise.all(hosts.map((h) => h.stop()));
    network?.stop();
    fs.rmSync(paths.control, { force: true });
  }
  process.exit(code);
}

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void stop(0));

start().catch(async (err) => {
  const message = err instanceof Error ? err.message : String(err);
  log(`start failed: ${message}`);
  record = { ...record, phase: 'failed', error: message };
  try {
    save();
  } catch {
    // the state dir is gone (down raced us): nothing to report to
  }
  await stop(1);
});
