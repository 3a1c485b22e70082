/** Named remote operations, fan-out and the connection pool against real sshd hosts. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseSmiCsv, parseSmiList, parseSmiXml } from '../../electron/core/gpu/index.ts';
import { SMI_CSV_FIELDS, createCommandRegistry } from '../../electron/core/ssh/command-registry.ts';
import { fanOut } from '../../electron/core/ssh/fan-out.ts';
import { KnownHosts } from '../../electron/core/ssh/known-hosts.ts';
import { runOperation } from '../../electron/core/ssh/remote-command.ts';
import { SshPool } from '../../electron/core/ssh/ssh-pool.ts';
import type { SshTarget } from '../../electron/core/ssh/ssh-endpoint.ts';
import type { TesseraError } from '../../shared/contract/errors.ts';
import { defaultGpus, processesWithArg, sshBedUnavailable, startSshBed, targetOf, waitFor } from '../sshbed/index.ts';
import type { SshBed, SshdHost } from '../sshbed/index.ts';

const SUDO_PASSWORD = 'sudo-Secret-42';
describe('remote operations against real sshd', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let hosts: SshdHost[];
  let sudoHost: SshdHost;
  let pool: SshPool;

  /** Operations only these tests need; production code gets the default registry. */
  const registry = createCommandRegistry({
    'test.sleep': { description: 'sleep', params: { seconds: { description: 'seconds', pattern: /^[\d.]+$/ } }, argv: (a) => ['sleep', a.seconds!], sudo: 'never' },
    'test.stream': { description: 'three lines, 300 ms apart', argv: () => ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done'], sudo: 'never' },
    'test.fail': { description: 'writes to stderr and exits 3', argv: () => ['sh', '-c', 'echo partial; echo oops >&2; exit 3'], sudo: 'never' },
    'test.stdin': { description: 'echoes whatever the command can read on stdin', argv: () => ['cat'], sudo: 'allowed' },
    'test.id': { description: 'effective user', argv: () => ['id', '-un'], sudo: 'allowed' },
  });

  before(async () => {
    bed = await startSshBed({ count: 5, host: (i) => (i === 4 ? { sudoPassword: SUDO_PASSWORD } : {}) });
    hosts = bed.hosts.slice(0, 4);
    sudoHost = bed.hosts[4]!;
    pool = new SshPool({ hostKeys: new KnownHosts({ dataDir: path.join(bed.root, 'data'), userFiles: [bed.knownHostsFile] }), keepaliveIntervalMs: 1000, keepaliveCountMax: 2 });
  });
  after(async () => {
    await pool?.closeAll();
    await bed?.stop();
  });

  const target = (h: SshdHost): SshTarget => targetOf(h, [{ type: 'key', privateKey: bed.clientKey.privateKey }]);
  const acceptedCount = (h: SshdHost): number => h.log.match(/Accepted publickey/g)?.length ?? 0;

  test('nvidia-smi operations return real formats the GPU parsers read', async () => {
    const h = hosts[0]!;
    await pool.use(target(h), async (conn) => {
      const csv = await runOperation(conn, 'nvidia-smi.csv');
      assert.equal(csv.exitCode, 0);
      const report = parseSmiCsv(csv.stdout, { fields: SMI_CSV_FIELDS });
      assert.equal(report.gpus.length, 2);
      assert.equal(report.gpus[0]!.product, 'NVIDIA H100 80GB HBM3');
      assert.match(report.gpus[1]!.uuid ?? '', /^GPU-1/);

      const list = parseSmiList((await runOperation(conn, 'nvidia-smi.list')).stdout);
      assert.deepEqual(list.gpus.map((g) => g.uuid), report.gpus.map((g) => g.uuid));

      const xml = await runOperation(conn, 'nvidia-smi.query', { args: { gpu: '1' } });
      const fromXml = parseSmiXml(xml.stdout);
      assert.equal(fromXml.gpus.length, 1);
      assert.equal(fromXml.gpus[0]!.uuid, report.gpus[1]!.uuid);
      assert.ok(xml.durationMs > 0);
    });
  });

  test('output is streamed while the command runs; stderr and exit status are kept apart', async () => {
    const h = hosts[0]!;
    await pool.use(target(h), async (conn) => {
      const chunks: { at: number; text: string }[] = [];
      const started = Date.now();
      const r = await runOperation(conn, 'test.stream', { registry, onStdout: (text) => chunks.push({ at: Date.now() - started, text }) });
      assert.equal(r.stdout, 'line1\nline2\nline3\n');
      assert.equal(chunks.map((c) => c.text).join(''), r.stdout);
      assert.ok(chunks.length >= 2, `expected several chunks, got ${chunks.length}`);
      assert.ok(chunks[0]!.at < chunks.at(-1)!.at - 300, 'the first line arrived well before the last');

      const fail = await runOperation(conn, 'test.fail', { registry });
      assert.deepEqual([fail.exitCode, fail.stdout, fail.stderr, fail.signal], [3, 'partial\n', 'oops\n', null]);
      await assert.rejects(runOperation(conn, 'test.fail', { registry, check: true }), (e: TesseraError) => e.code === 'COMMAND_FAILED' && e.details?.exitCode === 3 && /exited with status 3: oops/.test(e.message));
    });
  });

  test('a timeout (or cancelling) kills the remote process, not just the channel', async () => {
    const h = hosts[1]!;
    const marker = `${900 + Math.floor(Math.random() * 99)}.${randomBytes(2).readUInt16BE()}`;
    await pool.use(target(h), async (conn) => {
      const run = runOperation(conn, 'test.sleep', { registry, args: { seconds: marker }, timeoutMs: 1500 });
      await waitFor(() => processesWithArg(marker).length > 0, 1400, 'the remote sleep to start');
      await assert.rejects(run, (e: TesseraError) => e.code === 'SSH_TIMEOUT' && /did not finish within 1.5s and was killed/.test(e.message));
      await waitFor(() => processesWithArg(marker).length === 0, 3000, 'the remote sleep to die');
      assert.ok(conn.isOpen, 'the connection survives a command timeout');

      const abort = new AbortController();
      const cancelled = runOperation(conn, 'test.sleep', { registry, args: { seconds: `${marker}1` }, signal: abort.signal });
      await waitFor(() => processesWithArg(`${marker}1`).length > 0, 3000, 'the second sleep to start');
      abort.abort();
      await assert.rejects(cancelled, (e: TesseraError) => e.code === 'COMMAND_FAILED' && e.details?.reason === 'cancelled');
      await waitFor(() => processesWithArg(`${marker}1`).length === 0, 3000, 'the cancelled sleep to die');
    });
  });

  test('shell metacharacters in an argument stay data: no injection', async () => {
    const h = hosts[1]!;
    const id = randomBytes(6).toString('hex');
    const pwned = `/tmp/tessera-pwned-${id}`;
    const hostile = [`/tmp/nope-${id}; touch ${pwned}`, `/tmp/$(touch ${pwned})`, `/tmp/\`touch ${pwned}\``, `/tmp/x\ntouch ${pwned}`, `/tmp/x' ; touch ${pwned} ; '`, `/tmp/x | touch ${pwned}`, `/tmp/x && touch ${pwned}`];
    const dir = fs.mkdtempSync('/tmp/tessera-quote-');
    const weird = path.join(dir, `it's a "file"; $(x) \`y\` & | <z>`);
    fs.writeFileSync(weird, 'x');
    try {
      await pool.use(target(h), async (conn) => {
        for (const p of hostile) {
          const r = await runOperation(conn, 'file.stat', { args: { path: p } });
          assert.notEqual(r.exitCode, 0, p);
          assert.ok(r.stderr.includes('No such file'), r.stderr);
        }
        const ok = await runOperation(conn, 'file.stat', { args: { path: weird } });
        assert.equal(ok.exitCode, 0, ok.stderr);
        assert.ok(ok.stdout.includes(weird), 'stat saw the exact file name');
      });
      assert.equal(fs.existsSync(pwned), false, `${pwned} was created: injection`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(pwned, { force: true });
    }
  });

  test('fan-out over 4 hosts with one down: 3 ok and 1 clear error, in host order', async () => {
    const fleet = new SshPool({ hostKeys: new KnownHosts({ dataDir: path.join(bed.root, 'data-fanout'), userFiles: [bed.knownHostsFile] }) });
    const down = hosts[2]!;
    await down.stop();
    try {
      const seen: string[] = [];
      const results = await fanOut(fleet, hosts.map(target), 'nvidia-smi.csv', { concurrency: 4, onResult: (r) => seen.push(r.target) });
      assert.deepEqual(results.map((r) => r.target), hosts.map((h) => `root@${h.address}:${h.port}`));
      assert.deepEqual(results.map((r) => r.ok), [true, true, false, true]);
      assert.equal(seen.length, 4);
      for (const r of results) {
        if (r.ok) {
          assert.equal(parseSmiCsv(r.result.stdout, { fields: SMI_CSV_FIELDS }).gpus.length, 2);
        } else {
          assert.equal(r.error.code, 'SSH_UNREACHABLE');
          assert.match(r.error.message, new RegExp(`cannot reach root@${down.address.replace(/\./g, '\\.')}:${down.port}: connect ECONNREFUSED`));
        }
      }
    } finally {
      await fleet.closeAll();
      await down.restart();
    }
  });

  test('fan-out reports a failing command on one host without failing the rest', async () => {
    const broken = hosts[3]!;
    broken.setGpus([]);
    try {
      const results = await fanOut(pool, hosts.slice(0, 2).concat(broken).map(target), 'nvidia-smi.list', { concurrency: 2 });
      assert.deepEqual(results.map((r) => r.ok), [true, true, false]);
      const bad = results[2]!;
      assert.ok(!bad.ok && bad.error.code === 'COMMAND_FAILED' && bad.error.details?.exitCode === 9);
      await assert.rejects(fanOut(pool, hosts.map(target), 'no.such.operation'), (e: TesseraError) => e.code === 'INVALID_REQUEST');
    } finally {
      broken.setGpus(defaultGpus(broken.name));
    }
  });

  test('a host dropping mid-command gives a clear error; the pool reconnects on demand', async () => {
    const h = hosts[3]!;
    const marker = `${800 + Math.floor(Math.random() * 99)}.${randomBytes(2).readUInt16BE()}`;
    const lease = await pool.acquire(target(h));
    try {
      const run = runOperation(lease.connection, 'test.sleep', { registry, args: { seconds: marker } });
      await waitFor(() => processesWithArg(marker).length > 0, 3000, 'the remote sleep to start');
      h.crash();
      await assert.rejects(run, (e: TesseraError) => e.code === 'SSH_DISCONNECTED' && new RegExp(`connection to root@${h.address.replace(/\./g, '\\.')}:${h.port} was lost while test.sleep was running`).test(e.message));
      assert.equal(lease.connection.isOpen, false);
    } finally {
      lease.release();
    }
    await h.restart();
    const again = await pool.use(target(h), (conn) => runOperation(conn, 'uname'));
    assert.equal(again.exitCode, 0);
  });

  test('the pool shares one connection per host and closes it when idle', async () => {
    const h = hosts[0]!;
    const idle = new SshPool({ hostKeys: new KnownHosts({ dataDir: path.join(bed.root, 'data-idle'), userFiles: [bed.knownHostsFile] }), idleMs: 400 });
    try {
      const before = acceptedCount(h);
      const results = await Promise.all([1, 2, 3].map(() => idle.use(target(h), (conn) => runOperation(conn, 'uname'))));
      assert.ok(results.every((r) => r.exitCode === 0));
      assert.equal(acceptedCount(h) - before, 1, 'three concurrent commands, one SSH login');
      assert.equal(idle.size, 1);
      await waitFor(() => idle.size === 0, 3000, 'the idle connection to close');
      await h.waitForLog(/Received disconnect from .*disconnected by user|Disconnected from user/);
      await idle.use(target(h), (conn) => runOperation(conn, 'uname'));
      assert.equal(acceptedCount(h) - before, 2, 'the next use logs in again');
    } finally {
      await idle.closeAll();
    }
  });

  test('sudo: the password goes only to sudo\'s prompt and never into the result', async () => {
    await pool.use(target(sudoHost), async (conn) => {
      const r = await runOperation(conn, 'test.stdin', { registry, sudo: { password: SUDO_PASSWORD } });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout, '', 'the command read /dev/null, not the password');
      assert.doesNotMatch(JSON.stringify(r), new RegExp(SUDO_PASSWORD));
      assert.doesNotMatch(r.stderr, /tessera-sudo/, 'the prompt is cut out of stderr');
      assert.match(r.command, /^sudo -S -p /);

      await assert.rejects(runOperation(conn, 'test.id', { registry, sudo: { password: 'wrong' } }), (e: TesseraError) => e.code === 'SUDO_FAILED' && /rejected the password/.test(e.message) && !JSON.stringify(e.toShape()).includes('wrong'));
      await assert.rejects(runOperation(conn, 'test.id', { registry, sudo: {} }), (e: TesseraError) => e.code === 'SUDO_FAILED' && /none was given/.test(e.message));
      await assert.rejects(runOperation(conn, 'nvidia-smi.list', { sudo: { password: 'x' } }), (e: TesseraError) => e.code === 'INVALID_REQUEST');
    });
    // A host whose sudo needs no password never receives it.
    await pool.use(target(hosts[0]!), async (conn) => {
      const r = await runOperation(conn, 'test.stdin', { registry, sudo: { password: SUDO_PASSWORD } });
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout, '');
    });
  });
});
