/**
 * Real sshd test hosts on loopback addresses. `startSshBed(n)` gives n hosts
 * that accept one shared client key, and a known_hosts file listing them all;
 * `bed.stop()` kills every process any of them started.
 *
 *   const bed = await startSshBed({ count: 4 });
 *   ... bed.hosts[0].address, bed.hosts[0].port, bed.clientKey.privateKey ...
 *   await bed.stop();
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SshAuthMethod, SshEndpoint, SshTarget } from '../../electron/core/ssh/ssh-endpoint.ts';
import { generateKey } from './keys.ts';
import type { KeyPair } from './keys.ts';
import { PrivateNetwork } from './private-network.ts';
import { SshdHost } from './sshd-host.ts';
import type { SshdHostOptions } from './sshd-host.ts';

export { SshdHost, defaultGpus } from './sshd-host.ts';
export type { FakeGpu, SshdHostOptions } from './sshd-host.ts';
export type { SimProcess, SimState, SimGi, SimCi } from './sim/mig-sim.ts';
export { PrivateNetwork } from './private-network.ts';
export { generateKey, fingerprintOf, hashKnownHosts } from './keys.ts';
export type { KeyKind, KeyPair, KeyOptions } from './keys.ts';
export { processesWithArg, processTree, isAlive, waitFor } from './processes.ts';

export interface SshBed {
  root: string;
  hosts: SshdHost[];
  /** An unencrypted ed25519 key every host accepts. */
  clientKey: KeyPair;
  /** A user-style known_hosts file with every host's key. */
  knownHostsFile: string;
  /** Starts another host on the next address (authorized for clientKey, not added to knownHostsFile). */
  addHost(opts?: Partial<Omit<SshdHostOptions, 'root'>>): Promise<SshdHost>;
  /** A private network to put hosts in (created on first use, stopped with the bed). */
  privateNetwork(): Promise<PrivateNetwork>;
  stop(): Promise<void>;
}

export interface SshBedOptions {
  count: number;
  /** Per-host overrides by index. */
  host?: (i: number) => Partial<Omit<SshdHostOptions, 'root'>>;
}

/** A /24 in 127/8 per test process, so test files running in parallel do not share addresses. */
function subnet(): string {
  return `127.20.${1 + (process.pid % 250)}`;
}

export async function startSshBed(opts: SshBedOptions): Promise<SshBed> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-sshbed-'));
  const hosts: SshdHost[] = [];
  let network: PrivateNetwork | null = null;
  let next = 1;
  const clientKey = generateKey(path.join(root, 'client'), 'id_ed25519', 'ed25519');
  const knownHostsFile = path.join(root, 'client', 'known_hosts');

  const addHost = async (o: Partial<Omit<SshdHostOptions, 'root'>> = {}): Promise<SshdHost> => {
    const n = next++;
    const host = await SshdHost.start({ name: `host${n}`, address: `${subnet()}.${n}`, ...o, root });
    host.authorize(clientKey.publicKey);
    hosts.push(host);
    return host;
  };

  const bed: SshBed = {
    root,
    hosts,
    clientKey,
    knownHostsFile,
    addHost,
    privateNetwork: async () => (network ??= await PrivateNetwork.create()),
    stop: async () => {
      await Promise.all(hosts.map((h) => h.stop()));
      network?.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < opts.count; i++) await addHost(opts.host?.(i) ?? {});
  } catch (err) {
    await bed.stop();
    throw err;
  }
  fs.writeFileSync(knownHostsFile, hosts.map((h) => h.knownHostsLine()).join('\n') + '\n');
  return bed;
}

/** A connection target for a test host, logging in as the user the test bed runs as. */
export function targetOf(host: SshdHost, auth: SshAuthMethod[], jump?: readonly SshEndpoint[]): SshTarget {
  return { host: host.address, port: host.port, username: os.userInfo().username, auth, ...(jump ? { jump } : {}) };
}

/** Why real sshd hosts cannot run here, or null when they can: sshd must switch users and the bed uses namespaces, so it needs root. */
export function sshBedUnavailable(): string | null {
  if (process.platform !== 'linux') return 'the sshd test bed needs Linux';
  if (process.getuid?.() !== 0) return 'the sshd test bed needs root (sshd, network and mount namespaces)';
  for (const tool of ['/usr/sbin/sshd', '/usr/bin/ssh-keygen', '/usr/bin/unshare', '/usr/bin/nsenter']) {
    if (!fs.existsSync(tool)) return `${tool} is missing (Debian: openssh-server, openssh-client, util-linux)`;
  }
  return null;
}
