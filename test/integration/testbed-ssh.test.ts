/**
 * The SSH test bed as commands (issue 6 item 8): `npm run testbed -- up
 * --nodes 0 --ssh-hosts 3` starts detached real sshd hosts (host-3 only
 * reachable through host-1), and both OpenSSH's own client, with the config
 * the bed writes, and Tessera's CLI, importing that config, reach all of
 * them. The faults go through the same CLI (or injectFault) and act on the
 * detached hosts; `down` leaves nothing running. Also the SSH rollout path:
 * the hosts' driver installer changes what nvidia-smi reports, and
 * `ssh-install-fail` makes it fail like nvidia-installer.
 *
 * State dir: $TESSERA_SSHBED_CLI_STATE or /tmp/tb-sshcli (started and stopped here).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { processesWithEnv } from '../sshbed/processes.ts';
import { processTree, sshBedUnavailable, waitFor } from '../sshbed/index.ts';
import { isAlive } from '../testbed/processes.ts';
import { injectFault, type SshBedRecord, type SshBedStatus } from '../testbed/index.ts';
import type { HostGpus } from '../../shared/model/host.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const stateDir = path.resolve(process.env.TESSERA_SSHBED_CLI_STATE || '/tmp/tb-sshcli');
const built = fs.existsSync(path.join(root, 'dist/cli/tessera.js'));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const testbed = (...args: string[]): Run => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/testbed/cli.ts', ...args, '--state', stateDir], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

interface ExecResult {
  name: string;
  ok: boolean;
  exitCode?: number;
  stdout: string;
  error?: { code: string; message: string };
}

describe('npm run testbed -- up --ssh-hosts (detached sshd hosts)', { skip: sshBedUnavailable() ?? (built ? false : 'run npm run build first (tessera CLI)') }, () => {
  let bed: SshBedRecord;
  let home: string;
  let dataDir: string;
  let config: string;

  // OpenSSH's client with the bed's config; never a password prompt (BatchMode is in the config).
  const ssh = (host: string, ...command: string[]): Run => sshWith([], host, ...command);
  const sshWith = (options: string[], host: string, ...command: string[]): Run => {
    const r = spawnSync('ssh', ['-F', config, '-o', 'ConnectTimeout=10', ...options, host, ...command], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const tesseraEnv = () => ({ ...process.env, HOME: home, TESSERA_DATA_DIR: dataDir, SSH_AUTH_SOCK: '' });
  const tessera = (...args: string[]): Run => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin/tessera.mjs'), 'ssh', ...args], { encoding: 'utf8', timeout: 90_000, env: tesseraEnv() });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const results = (r: Run): ExecResult[] => (JSON.parse(r.stdout) as { results: ExecResult[] }).results;
  const host = (name: string) => bed.hosts.find((h) => h.name === name)!;

  before(async () => {
    if (fs.existsSync(stateDir)) testbed('down');
    const up = testbed('up', '--nodes', '0', '--ssh-hosts', '3');
    assert.equal(up.code, 0, up.stderr);
    bed = (JSON.parse(up.stdout) as { ssh: SshBedRecord }).ssh;
    config = bed.config;
    // Tessera reads the user's ~/.ssh/known_hosts: give it a home whose known_hosts is the bed's.
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-sshcli-home-'));
    fs.mkdirSync(path.join(home, '.ssh'));
    fs.copyFileSync(bed.knownHosts, path.join(home, '.ssh', 'known_hosts'));
    dataDir = path.join(home, 'tessera-data');
  });
  after(() => {
    if (fs.existsSync(stateDir)) testbed('down');
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  test('up records every host, its key, pids and a client config with the jump host', () => {
    assert.deepEqual(
      bed.hosts.map((h) => [h.name, h.network, h.proxyJump ?? null]),
      [
        ['host-1', 'gateway', null],
        ['host-2', 'loopback', null],
        ['host-3', 'private', 'host-1'],
      ],
    );
    assert.equal(new Set(bed.hosts.map((h) => h.fingerprint)).size, 3, 'each host has its own host key');
    assert.ok(isAlive(bed.pid));
    for (const h of [host('host-2'), host('host-3')]) assert.ok(h.sshdPid && isAlive(h.sshdPid), `${h.name} sshd pid recorded`);
    assert.equal(fs.statSync(bed.identityFile).mode & 0o077, 0, 'the client key is private (OpenSSH refuses it otherwise)');
    assert.equal(fs.readFileSync(bed.knownHosts, 'utf8').trim().split('\n').length, 3);
    const cfg = fs.readFileSync(config, 'utf8');
    assert.match(cfg, /Host host-3\n {2}HostName 127\.0\.0\.1\n {2}Port \d+\n {2}User \S+\n {2}IdentityFile \S+id_ed25519\n(.*\n)* {2}ProxyJump host-1\n {2}UserKnownHostsFile \S+known_hosts/);
    assert.equal(cfg.match(/ProxyJump/g)?.length, 1, 'only the inner host needs a jump');

    const status = testbed('status');
    assert.equal(status.code, 0, status.stderr);
    const s = (JSON.parse(status.stdout) as { running: boolean; ssh: SshBedStatus }).ssh;
    assert.equal(s.running, true);
    assert.deepEqual(
      s.hosts.map((h) => [h.name, h.answers]),
      [
        ['host-1', true],
        ['host-2', true],
        ['host-3', 'only via jump host'],
      ],
    );
  });

  test('OpenSSH reaches every host with the written config, the inner one only through host-1', () => {
    const uuids = new Set<string>();
    for (const h of bed.hosts) {
      const r = ssh(h.name, 'nvidia-smi', '-L');
      assert.equal(r.code, 0, `${h.name}: ${r.stderr}`);
      assert.match(r.stdout, /^GPU 0: NVIDIA H100 80GB HBM3 \(UUID: GPU-[0-9a-f-]+\)\nGPU 1: /);
      uuids.add(r.stdout);
    }
    assert.equal(uuids.size, 3, 'three distinct hosts answered');
    const direct = sshWith(['-o', 'ProxyJump=none', '-o', 'ConnectTimeout=3'], 'host-3', 'true');
    assert.notEqual(direct.code, 0, 'host-3 is not reachable without its jump host');
  });

  test('Tessera imports the config and runs a named operation on every host, the inner one through host-1', () => {
    const imp = tessera('import-config', config);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /added 3, updated 0, skipped 0/);
    const list = JSON.parse(tessera('hosts', '--json').stdout) as { name: string; proxyJump: string[] }[];
    assert.deepEqual(list.map((h) => [h.name, h.proxyJump]), [['host-1', []], ['host-2', []], ['host-3', ['host-1']]]);

    const fan = tessera('exec', '--hosts', 'host-1,host-2,host-3', '--json', '--', 'nvidia-smi.list');
    assert.equal(fan.code, 0, fan.stdout + fan.stderr);
    const rs = results(fan);
    assert.deepEqual(rs.map((r) => [r.name, r.ok]), [['host-1', true], ['host-2', true], ['host-3', true]]);
    for (const r of rs) assert.equal(r.stdout, ssh(r.name, 'nvidia-smi', '-L').stdout, `${r.name}: the same host as OpenSSH reached`);

    // A host's GPUs, read through its jump host: the table a person reads, and the JSON a script reads.
    const shown = tessera('gpus', 'host-3');
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^host-3: driver \d+\.\d+\.\d+, CUDA \d+\.\d+\nGPU +MODEL +BUSY +TEMP +POWER +MEMORY +MIG +PROCESSES\n0 +NVIDIA .+? +\d+%/);
    const json = JSON.parse(tessera('gpus', 'host-3', '--json').stdout) as HostGpus;
    assert.deepEqual(json.report.gpus.map((g) => g.uuid), ssh('host-3', 'nvidia-smi', '--query-gpu=uuid', '--format=csv,noheader').stdout.trim().split('\n'));
  });

  test('SSH rollout path: the driver installer changes what nvidia-smi reports; ssh-install-fail makes it fail', () => {
    const driver = (name: string) => ssh(name, 'nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader').stdout.trim().split('\n');
    assert.deepEqual(driver('host-3'), ['550.54.15', '550.54.15']);
    const install = ssh('host-3', 'tessera-sim-driver-install', '560.35.03');
    assert.equal(install.code, 0, install.stdout + install.stderr);
    assert.deepEqual(driver('host-3'), ['560.35.03', '560.35.03']);
    // Tessera sees the new version too (csv through its parser-facing operation).
    const csv = results(tessera('exec', '--hosts', 'host-3', '--json', '--', 'nvidia-smi.csv'))[0]!;
    assert.ok(csv.ok && csv.stdout.includes('560.35.03'), csv.stdout);

    const armed = testbed('fault', 'ssh-install-fail', 'host-2');
    assert.equal(armed.code, 0, armed.stderr);
    const failed = ssh('host-2', 'tessera-sim-driver-install', '570.86.10');
    assert.equal(failed.code, 1);
    assert.match(failed.stdout + failed.stderr, /Building kernel modules/);
    assert.deepEqual(driver('host-2'), ['550.54.15', '550.54.15'], 'a failed install keeps the old driver');
    assert.equal(testbed('fault', 'ssh-install-clear', 'host-2').code, 0);
    assert.equal(ssh('host-2', 'tessera-sim-driver-install', '570.86.10').code, 0);
    assert.deepEqual(driver('host-2'), ['570.86.10', '570.86.10']);
  });

  test('ssh-drop mid-command is reported by Tessera and a retry succeeds', async () => {
    const h2 = host('host-2');
    // Holding the stand-in's state lock keeps nvidia-smi waiting, so the drop lands while the command runs.
    const lock = path.join(h2.dir, 'sim.lock');
    fs.mkdirSync(lock);
    // A lock older than 10 s counts as a crashed holder's; keep ours fresh.
    const fresh = setInterval(() => fs.utimesSync(lock, new Date(), new Date()), 500);
    try {
      const child = spawn(process.execPath, [path.join(root, 'bin/tessera.mjs'), 'ssh', 'exec', '--hosts', 'host-2', '--json', '--', 'nvidia-smi.list'], { env: tesseraEnv() });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      const marker = `TESSERA_SIM_DIR=${h2.dir}`;
      await waitFor(() => processesWithEnv(marker).length > 0, 30_000, 'nvidia-smi to run on host-2');
      const summary = await injectFault(stateDir, 'ssh-drop', ['host-2']);
      assert.match(summary, /cut every open SSH connection to host-2/);
      assert.equal(await exited, 1);
      const [r] = results({ code: 1, stdout, stderr: '' });
      assert.equal(r!.ok, false);
      assert.equal(r!.error?.code, 'SSH_DISCONNECTED', JSON.stringify(r));
      assert.match(r!.error!.message, /nvidia-smi\.list/);
      assert.deepEqual(processesWithEnv(marker), [], 'the command died with its connection');
    } finally {
      clearInterval(fresh);
      fs.rmSync(lock, { recursive: true, force: true });
    }
    const retry = tessera('exec', '--hosts', 'host-2', '--json', '--', 'nvidia-smi.list');
    assert.equal(retry.code, 0, retry.stdout + retry.stderr);
    assert.match(results(retry)[0]!.stdout, /^GPU 0: /);
  });

  test('hostkey-change: OpenSSH and Tessera refuse the host, Tessera naming both fingerprints', () => {
    const old = host('host-2').fingerprint;
    const fault = testbed('fault', 'hostkey-change', 'host-2');
    assert.equal(fault.code, 0, fault.stderr);
    const now = /-> (SHA256:\S+)/.exec((JSON.parse(fault.stdout) as { result: string }).result)?.[1];
    assert.ok(now && now !== old, fault.stdout);

    const openssh = ssh('host-2', 'true');
    assert.equal(openssh.code, 255);
    assert.match(openssh.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
    assert.ok(openssh.stderr.includes(now), openssh.stderr);

    const r = tessera('exec', '--hosts', 'host-1,host-2', '--json', '--', 'nvidia-smi.list');
    assert.equal(r.code, 1);
    const [h1, h2] = results(r);
    assert.equal(h1!.ok, true, 'the other hosts are unaffected');
    assert.equal(h2!.ok, false);
    assert.equal(h2!.error?.code, 'HOST_KEY_MISMATCH');
    assert.ok(h2!.error!.message.includes(old) && h2!.error!.message.includes(now), h2!.error!.message);
  });

  test('bad fault targets and counts get specific errors and change nothing', () => {
    const before = fs.readFileSync(path.join(stateDir, 'ssh', 'hosts.json'), 'utf8');
    const unknown = testbed('fault', 'hostkey-change', 'host-9');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no SSH host "host-9" \(known: host-1, host-2, host-3\)/);
    const none = testbed('fault', 'ssh-drop');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /ssh-drop takes one SSH host \(host-1 \.\.\. host-M\), got none/);
    const tooMany = testbed('up', '--nodes', '0', '--ssh-hosts', '99');
    assert.equal(tooMany.code, 1);
    assert.match(tooMany.stderr, /--ssh-hosts must be a whole number from 1 to 16, got 99/);
    assert.equal(fs.readFileSync(path.join(stateDir, 'ssh', 'hosts.json'), 'utf8'), before);
    assert.equal(ssh('host-1', 'true').code, 0, 'the bed still runs');
    const again = testbed('up', '--nodes', '0', '--ssh-hosts', '3');
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { ssh: SshBedRecord }).ssh.pid, bed.pid, 'up on a running bed returns it, restarts nothing');
    assert.match(again.stderr, /SSH hosts already running/);
  });

  test('down stops every sshd, open sessions included, and removes the state dir', async () => {
    const session = spawn('ssh', ['-F', config, 'host-1', 'sleep', '60'], { stdio: 'ignore' });
    const closed = new Promise<number | null>((resolve) => session.once('exit', resolve));
    const markers = bed.hosts.map((h) => `TESSERA_SSHBED_HOST=${h.dir}`);
    await waitFor(() => processesWithEnv(markers[0]!).length > 0, 30_000, 'the sleep to run on host-1');
    const pids = [...processTree(bed.pid), ...markers.flatMap((m) => processesWithEnv(m))];
    assert.ok(pids.length >= 5, `supervisor, namespace holder, sshds and the session: ${pids.join(' ')}`);

    const down = testbed('down');
    assert.equal(down.code, 0, down.stderr);
    assert.equal(await closed, 255, 'the open OpenSSH session was cut');
    // Killed children linger as zombies for a moment until init reaps them; isAlive does not count those.
    assert.deepEqual(pids.filter(isAlive), [], 'no process of the bed is left');
    assert.deepEqual(markers.flatMap((m) => processesWithEnv(m)), []);
    assert.equal(fs.existsSync(stateDir), false);
    for (const h of [host('host-1'), host('host-2')]) assert.equal(await answers(h.address, h.port), false, `${h.name} no longer listens`);
    assert.notEqual(testbed('status').code, 0);
  });
});

/** Whether anything accepts a TCP connection on address:port. */
function answers(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, address);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
