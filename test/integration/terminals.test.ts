/**
 * Terminals: an SSH shell on a real sshd (test/sshbed) through the hosts
 * service's pool, and pod exec shells.
 *
 * Pod exec runs end to end through the test bed's real kube-apiserver 1.20:
 * it checks RBAC (SelfSubjectAccessReview for create pods/exec), looks the pod
 * up, and passes the WebSocket upgrade to the node's simulated kubelet
 * (test/testbed/fleet/kubelet-exec.ts: TLS on InternalIP:10250, a real shell
 * on a real PTY). Cases the test bed cannot produce (a container without
 * bash, a wrong token at the exec endpoint) run against
 * test/support/exec-ws-server.ts, a real TLS WebSocket server speaking
 * v4.channel.k8s.io with the same shell behind it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AuditService } from '../../electron/core/audit/audit-service.ts';
import { systemClock } from '../../electron/core/clock.ts';
import { ClusterService } from '../../electron/core/clusters/cluster-service.ts';
import { HostService } from '../../electron/core/hosts/host-service.ts';
import { PodExecStream } from '../../electron/core/terminals/pod-exec.ts';
import { terminalSshFromHosts } from '../../electron/core/terminals/ssh-targets.ts';
import { TerminalService } from '../../electron/core/terminals/terminal-service.ts';
import type { TesseraError } from '../../shared/contract/errors.ts';
import type { TerminalEvent } from '../../shared/contract/terminals.ts';
import { sshBedUnavailable, startSshBed, type SshBed } from '../sshbed/index.ts';
import { startExecServer, type ExecServer } from '../support/exec-ws-server.ts';
import { sharedTestbed, type TestbedInfo } from '../testbed/index.ts';

/** Collects a session's output as text and waits for patterns in it. */
class Screen {
  text = '';
  events: TerminalEvent[] = [];
  private waiters: (() => void)[] = [];
  readonly off: () => void;

  constructor(terminals: TerminalService, id: string) {
    this.off = terminals.output(id, (e) => {
      this.events.push(e);
      // Escape sequences (bracketed paste, colours) stripped: the tests read what a person would.
      if (e.type === 'data') this.text += Buffer.from(e.data, 'base64').toString('utf8').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get exit(): Extract<TerminalEvent, { type: 'exit' }> | undefined {
    return this.events.find((e) => e.type === 'exit') as Extract<TerminalEvent, { type: 'exit' }> | undefined;
  }

  async waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen so far:\n${this.text.slice(-2000)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  /** Text after the given mark, so a command's echo and an older prompt do not count. */
  after(mark: number): string {
    return this.text.slice(mark);
  }
}

describe('SSH terminals against a real sshd', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let dataDir: string;
  let hosts: HostService;
  let audit: AuditService;
  let terminals: TerminalService;
  let clusters: ClusterService;

  before(async () => {
    bed = await startSshBed({ count: 1 });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-terminals-'));
    const home = path.join(dataDir, 'home');
    fs.mkdirSync(path.join(home, '.ssh'), { recursive: true });
    fs.writeFileSync(path.join(home, '.ssh', 'id_ed25519'), bed.clientKey.privateKey, { mode: 0o600 });
    audit = new AuditService(path.join(dataDir, 'audit'), systemClock);
    hosts = new HostService({ dataDir, version: 'test', home, userKnownHostsFiles: [bed.knownHostsFile], record: (i) => audit.record(i) });
    clusters = new ClusterService({ clock: systemClock, kubeconfigFiles: [] });
    terminals = new TerminalService({ clock: systemClock, clusters, audit, ssh: terminalSshFromHosts(hosts) });
  });
  after(async () => {
    terminals?.closeAll();
    await hosts?.close();
    await audit?.close();
    await bed?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('open a shell, run a command, resize, exit with a status; open and close are audited', async () => {
    const h = bed.hosts[0]!;
    const user = os.userInfo().username;
    const opened = await terminals.open({ kind: 'ssh', target: { address: h.address, port: h.port, user }, cols: 100, rows: 30 });
    assert.equal(opened.kind, 'ssh');
    assert.equal(opened.banner, `SSH ${user}@${h.address}:${h.port}`);
    const screen = new Screen(terminals, opened.id);

    terminals.input(opened.id, 'echo hello-$((6*7))\n');
    await screen.waitFor(() => /hello-42/.test(screen.text), 'hello-42');

    let mark = screen.text.length;
    terminals.input(opened.id, 'stty size\n');
    await screen.waitFor(() => /\n30 100\n/.test(screen.after(mark)), 'stty size 30 100');

    terminals.resize(opened.id, 132, 43);
    mark = screen.text.length;
    terminals.input(opened.id, 'stty size; echo TERM=$TERM\n');
    await screen.waitFor(() => /\n43 132\n/.test(screen.after(mark)) && /TERM=xterm-256color/.test(screen.after(mark)), 'stty size 43 132 after resize');

    terminals.input(opened.id, 'exit 3\n');
    await screen.waitFor(() => screen.exit !== undefined, 'the exit event');
    assert.equal(screen.exit!.code, 3);
    assert.match(screen.exit!.reason, /exited with status 3/);
    assert.throws(() => terminals.input(opened.id, 'x'), /no terminal|has ended/, 'an ended session takes no input');

    const second = await terminals.open({ kind: 'ssh', target: { address: h.address, port: h.port, user } });
    const screen2 = new Screen(terminals, second.id);
    terminals.input(second.id, 'echo ready-$((2+2))\n');
    await screen2.waitFor(() => /ready-4/.test(screen2.text), 'second shell');
    terminals.close(second.id);
    await screen2.waitFor(() => screen2.exit !== undefined, 'exit after close');
    assert.equal(screen2.exit!.reason, 'closed');
    assert.equal(hosts.pool.size, 1, 'both shells used the one pooled connection');

    await new Promise((r) => setTimeout(r, 300));
    const page = await audit.query({ action: 'terminal' });
    const mine = page.entries.filter((e) => (e.params as { session?: string }).session === opened.id);
    assert.deepEqual(mine.map((e) => `${e.action}:${e.outcome}`).sort(), ['terminal.close:succeeded', 'terminal.open:succeeded']);
    const close = mine.find((e) => e.action === 'terminal.close')!;
    assert.equal((close.params as { exitCode: number }).exitCode, 3);
    assert.equal(close.correlationId, mine.find((e) => e.action === 'terminal.open')!.id, 'the close points at its open');
    assert.equal(close.targets[0]!.name, `${user}@${h.address}:${h.port}`);
    const all = JSON.stringify(page.entries);
    assert.doesNotMatch(all, /hello-\$\(\(6\*7\)\)|stty size/, 'keystrokes are never audited');
    screen.off();
    screen2.off();
  });

  test('an unknown host key is refused with its fingerprint; a bad request changes nothing', async () => {
    const stranger = await bed.addHost();
    await assert.rejects(
      terminals.open({ kind: 'ssh', target: { address: stranger.address, port: stranger.port, user: os.userInfo().username } }),
      (err: TesseraError) => err.code === 'HOST_KEY_UNKNOWN' && /SHA256:/.test(JSON.stringify(err.details)),
    );
    await assert.rejects(terminals.open({ kind: 'ssh' }), /needs hostId .* or target/);
    await assert.rejects(terminals.open({ kind: 'ssh', target: { address: 'x', user: 'y' }, pod: 'p' }), /are for pod terminals/);
    assert.equal(terminals.size, 0, 'failed opens leave no session behind');
    const failed = await audit.query({ action: 'terminal.open', outcome: 'failed' });
    assert.ok(failed.entries.some((e) => e.targets[0]!.name.includes(stranger.address)), 'the refused open is audited');
  });

  test('closing the console ends every open shell and records each close before the audit trail closes', async () => {
    const h = bed.hosts[0]!;
    const own = new AuditService(path.join(dataDir, 'audit-quit'), systemClock);
    const quitting = new TerminalService({ clock: systemClock, clusters, audit: own, ssh: terminalSshFromHosts(hosts) });
    const a = await quitting.open({ kind: 'ssh', target: { address: h.address, port: h.port, user: os.userInfo().username } });
    const b = await quitting.open({ kind: 'ssh', target: { address: h.address, port: h.port, user: os.userInfo().username } });
    const screen = new Screen(quitting, a.id);
    quitting.closeAll();
    await own.close(); // as on quit: nothing waits for the channels' own close events
    await screen.waitFor(() => screen.exit !== undefined, 'the exit event');
    assert.equal(screen.exit!.reason, 'the console closed');
    const closes = (await own.query({ action: 'terminal.close' })).entries;
    assert.deepEqual(closes.map((e) => (e.params as { session: string }).session).sort(), [a.id, b.id].sort());
    assert.ok(closes.every((e) => (e.params as { by: string }).by === 'user' && e.outcome === 'succeeded'));
    assert.equal((await own.verify()).ok, true);
    screen.off();
  });
});

/** Whether the node's simulated kubelet takes exec streams (test beds started before kubelet-exec.ts do not). */
async function kubeletReachable(info: TestbedInfo, node: string): Promise<boolean> {
  const { testbedClient } = await import('../testbed/index.ts');
  const n = (await testbedClient(info).get(`/api/v1/nodes/${node}`)) as { status?: { addresses?: { type: string; address: string }[] } };
  const ip = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  if (!ip) return false;
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port: 10250 }, () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

describe('pod exec terminals', () => {
  let info: TestbedInfo;
  let clusters: ClusterService;
  let server: ExecServer;
  let terminals: TerminalService;
  let adminId: string;
  let viewerId: string;
  let pod: { namespace: string; name: string; node?: string; containers: string[] };

  before(async () => {
    info = await sharedTestbed();
    clusters = new ClusterService({ clock: systemClock, kubeconfigFiles: [info.kubeconfigs.admin, info.kubeconfigs.viewer] });
    await clusters.load();
    adminId = clusters.list().find((c) => c.context.startsWith('admin@'))!.id;
    viewerId = clusters.list().find((c) => c.context.startsWith('viewer@'))!.id;
    await clusters.connect(adminId);
    await clusters.connect(viewerId);
    const probe = new TerminalService({ clock: systemClock, clusters });
    const pods = await probe.pods(adminId);
    assert.ok(pods.length > 0, 'the test bed runs pods');
    assert.ok(pods.every((p) => p.phase === 'Running'));
    pod = pods.find((p) => p.namespace !== 'gpu-operator') ?? pods[0]!;
    server = await startExecServer({ token: 'exec-test-token', pods: { [`${pod.namespace}/${pod.name}`]: Object.fromEntries(pod.containers.map((c) => [c, { bash: false }])) } });
    terminals = new TerminalService({ clock: systemClock, clusters, execTransport: async () => server.transport() });
  });
  after(async () => {
    terminals?.closeAll();
    clusters?.disconnectAll();
    await server?.close();
  });

  test('through the API server: a shell in a pod runs commands, follows resizes and reports its exit code', async (t) => {
    const node = pod.node ? await kubeletReachable(info, pod.node) : false;
    if (!node) return t.skip('this test bed was started before the simulated kubelets served exec; restart it');
    const auditDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-terminals-audit-'));
    const audit = new AuditService(auditDir, systemClock);
    const direct = new TerminalService({ clock: systemClock, clusters, audit });
    const opened = await direct.open({ kind: 'pod', clusterId: adminId, namespace: pod.namespace, pod: pod.name, shell: 'bash', cols: 81, rows: 22 });
    const screen = new Screen(direct, opened.id);
    direct.input(opened.id, 'echo hello-$((6*7)); stty size\n');
    await screen.waitFor(() => /\nhello-42\n22 81\n/.test(screen.text), 'hello-42 and stty size 22 81');
    direct.resize(opened.id, 101, 33);
    const mark = screen.text.length;
    direct.input(opened.id, 'stty size; pwd\n');
    await screen.waitFor(() => /\n33 101\n/.test(screen.after(mark)), 'stty size 33 101');
    assert.match(screen.after(mark), new RegExp(`exec/${pod.namespace}_${pod.name}_${pod.containers[0]}`), 'the shell runs in the simulated container folder');
    direct.input(opened.id, 'exit 4\n');
    await screen.waitFor(() => screen.exit !== undefined, 'exit');
    assert.equal(screen.exit!.code, 4);
    screen.off();
    await new Promise((r) => setTimeout(r, 200));
    const entries = (await audit.query({ action: 'terminal' })).entries;
    assert.deepEqual(entries.map((e) => `${e.action}:${e.outcome}`).sort(), ['terminal.close:succeeded', 'terminal.open:succeeded']);
    assert.ok(entries.every((e) => e.cluster === adminId && e.targets[0]!.kind === 'Pod' && e.targets[0]!.name === pod.name && e.targets[0]!.namespace === pod.namespace));
    await audit.close();
    fs.rmSync(auditDir, { recursive: true, force: true });
  });

  test('a shell in a container without bash falls back to sh, runs a command, resizes and reports its exit code', async () => {
    const opened = await terminals.open({ kind: 'pod', clusterId: adminId, namespace: pod.namespace, pod: pod.name, cols: 90, rows: 25 });
    assert.equal(opened.container, pod.containers[0]);
    assert.match(opened.banner, new RegExp(`admin@tessera-testbed · pod ${pod.namespace}/${pod.name} · container ${pod.containers[0]}`));
    const screen = new Screen(terminals, opened.id);
    await screen.waitFor(() => screen.events.some((e) => e.type === 'notice'), 'the fallback notice');
    assert.match((screen.events.find((e) => e.type === 'notice') as { message: string }).message, /\/bin\/bash is not in container .*; starting \/bin\/sh/);
    await screen.waitFor(() => server.execs.length === 2, 'the /bin/sh exec');
    assert.deepEqual(server.execs.map((e) => e.command), [['/bin/bash'], ['/bin/sh']]);
    assert.ok(server.execs.every((e) => e.protocol === 'v4.channel.k8s.io' && e.tty));

    terminals.input(opened.id, 'echo hello-$((6*7))\n');
    await screen.waitFor(() => /hello-42/.test(screen.text), 'hello-42');
    let mark = screen.text.length;
    terminals.input(opened.id, 'stty size\n');
    await screen.waitFor(() => /\n25 90\n/.test(screen.after(mark)), 'stty size 25 90');
    terminals.resize(opened.id, 120, 40);
    // Resize and keystrokes travel on different channels: ask for the size once the resize has landed.
    await screen.waitFor(() => server.execs[1]!.resizes.some((r) => r.Width === 120 && r.Height === 40), 'the resize to reach the server');
    mark = screen.text.length;
    terminals.input(opened.id, 'stty size\n');
    await screen.waitFor(() => /\n40 120\n/.test(screen.after(mark)), 'stty size 40 120');
    assert.deepEqual(server.execs[1]!.resizes.at(-1), { Width: 120, Height: 40 });

    terminals.input(opened.id, 'exit 5\n');
    await screen.waitFor(() => screen.exit !== undefined, 'exit');
    assert.equal(screen.exit!.code, 5);
    assert.match(screen.exit!.reason, /exited with status 5/);
    screen.off();
  });

  test('closing a pod terminal ends the remote shell', async () => {
    const opened = await terminals.open({ kind: 'pod', clusterId: adminId, namespace: pod.namespace, pod: pod.name, shell: 'sh' });
    const screen = new Screen(terminals, opened.id);
    terminals.input(opened.id, 'echo up-$((1+1))\n');
    await screen.waitFor(() => /up-2/.test(screen.text), 'up-2');
    assert.equal(server.live(), 1);
    terminals.close(opened.id);
    await screen.waitFor(() => screen.exit !== undefined, 'exit after close');
    assert.equal(screen.exit!.reason, 'closed');
    await screen.waitFor(() => server.live() === 0, 'the shell process to end', 5000);
  });

  test('without create pods/exec the open is refused, naming the permission, and nothing is dialled', async () => {
    const before = server.execs.length;
    await assert.rejects(
      terminals.open({ kind: 'pod', clusterId: viewerId, namespace: pod.namespace, pod: pod.name }),
      (err: TesseraError) => err.code === 'FORBIDDEN' && /may not create pods\/exec in namespace/.test(err.message) && (err.details?.missing as string[] | undefined)?.[0] === `create pods/exec in ${pod.namespace}`,
    );
    assert.equal(server.execs.length, before);
  });

  test('an unknown container, pod or bad request gets a specific error', async () => {
    await assert.rejects(
      terminals.open({ kind: 'pod', clusterId: adminId, namespace: pod.namespace, pod: pod.name, container: 'nope' }),
      (err: TesseraError) => err.code === 'NOT_FOUND' && err.message.includes(`has no container "nope"; it has ${pod.containers.join(', ')}`),
    );
    await assert.rejects(terminals.open({ kind: 'pod', clusterId: adminId, namespace: pod.namespace, pod: 'no-such-pod-x' }), (err: TesseraError) => err.code === 'NOT_FOUND');
    await assert.rejects(terminals.open({ kind: 'pod', clusterId: adminId, namespace: pod.namespace }), /needs pod/);
  });

  test('the exec stream reports why the server refused the upgrade', async () => {
    const handlers = { output: () => {}, ended: () => {} };
    const req = { namespace: pod.namespace, pod: pod.name, container: pod.containers[0]!, command: ['/bin/sh'], tty: true };
    await assert.rejects(PodExecStream.open(server.transport('wrong-token'), req, handlers), (err: TesseraError) => err.code === 'UNAUTHORIZED' && /HTTP 401/.test(err.message));
    await assert.rejects(PodExecStream.open(server.transport(), { ...req, pod: 'gone' }, handlers), (err: TesseraError) => err.code === 'NOT_FOUND' && /pods "gone" not found/.test(err.message));
    await assert.rejects(PodExecStream.open(server.transport(), { ...req, container: 'other' }, handlers), (err: TesseraError) => err.code === 'INVALID_REQUEST' && /container other is not valid/.test(err.message));
  });
});
