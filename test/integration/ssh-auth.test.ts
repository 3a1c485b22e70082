/** Authentication against real sshd: keys of each type and format, passphrases, password, keyboard-interactive, agent, timeouts. */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KnownHosts } from '../../electron/core/ssh/known-hosts.ts';
import { runOperation } from '../../electron/core/ssh/remote-command.ts';
import type { KeyboardInteractiveRequest, PasswordRequest, SshPrompts } from '../../electron/core/ssh/ssh-auth.ts';
import { SshConnection } from '../../electron/core/ssh/ssh-connection.ts';
import type { SshConnectOptions } from '../../electron/core/ssh/ssh-connection.ts';
import type { SshAuthMethod } from '../../electron/core/ssh/ssh-endpoint.ts';
import type { TesseraError } from '../../shared/contract/errors.ts';
import { generateKey, sshBedUnavailable, startSshBed, targetOf, waitFor } from '../sshbed/index.ts';
import type { KeyPair, SshBed, SshdHost } from '../sshbed/index.ts';

const PASSWORD = 'correct-horse-battery';
describe('SSH authentication against real sshd', { skip: sshBedUnavailable() ?? false }, () => {
  let bed: SshBed;
  let keyHost: SshdHost;
  let pwHost: SshdHost;
  let hostKeys: KnownHosts;
  let rsaEnc: KeyPair;

  before(async () => {
    bed = await startSshBed({ count: 2, host: (i) => (i === 1 ? { password: PASSWORD } : {}) });
    [keyHost, pwHost] = bed.hosts as [SshdHost, SshdHost];
    hostKeys = new KnownHosts({ dataDir: path.join(bed.root, 'data'), userFiles: [bed.knownHostsFile] });
    rsaEnc = generateKey(path.join(bed.root, 'client'), 'id_rsa_enc', 'rsa', { passphrase: 'open sesame' });
    keyHost.authorize(rsaEnc.publicKey);
  });
  after(async () => {
    await bed?.stop();
  });

  async function connectAndRun(host: SshdHost, auth: SshAuthMethod[], extra: Partial<SshConnectOptions> = {}): Promise<string> {
    const conn = await SshConnection.open(targetOf(host, auth), { hostKeys, ...extra });
    try {
      const r = await runOperation(conn, 'nvidia-smi.list');
      assert.equal(r.exitCode, 0);
      return r.stdout;
    } finally {
      conn.close();
    }
  }

  test('ed25519 key authentication runs a command', async () => {
    const out = await connectAndRun(keyHost, [{ type: 'key', privateKey: bed.clientKey.privateKey }]);
    assert.match(out, /^GPU 0: NVIDIA H100 80GB HBM3 \(UUID: GPU-/);
  });

  test('an encrypted RSA key is unlocked by the passphrase callback', async () => {
    const asked: unknown[] = [];
    const prompts: SshPrompts = {
      passphrase: async (req) => {
        asked.push(req);
        return 'open sesame';
      },
    };
    const out = await connectAndRun(keyHost, [{ type: 'key', privateKey: rsaEnc.privateKey, label: rsaEnc.privatePath }], { prompts });
    assert.match(out, /GPU 1:/);
    assert.deepEqual(asked, [{ keyLabel: rsaEnc.privatePath, attempt: 1 }]);
    // sshd's own log names the key it accepted.
    await keyHost.waitForLog(new RegExp(`Accepted publickey .* RSA ${rsaEnc.fingerprint.replace(/[+/]/g, '\\$&')}`));
  });

  test('a wrong passphrase fails clearly before anything is sent to the host', async () => {
    const mark = keyHost.log.length;
    await assert.rejects(
      SshConnection.open(targetOf(keyHost, [{ type: 'key', privateKey: rsaEnc.privateKey, label: 'id_rsa_enc' }]), {
        hostKeys,
        prompts: { passphrase: async () => 'not it' },
      }),
      (e: TesseraError) => {
        assert.equal(e.code, 'SSH_KEY_INVALID');
        assert.match(e.message, /wrong passphrase for id_rsa_enc/);
        assert.doesNotMatch(JSON.stringify(e.toShape()), /not it/);
        return true;
      },
    );
    assert.doesNotMatch(keyHost.log.slice(mark), /Connection from/);
  });

  test('ECDSA (PEM) and Ed25519 (PKCS#8) keys authenticate', async () => {
    const ec = generateKey(path.join(bed.root, 'client'), 'id_ecdsa_pem', 'ecdsa', { format: 'PEM' });
    const p8 = generateKey(path.join(bed.root, 'client'), 'id_ed25519_p8', 'ed25519', { format: 'PKCS8', passphrase: 'p8-pass' });
    keyHost.authorize(ec.publicKey);
    keyHost.authorize(p8.publicKey);
    assert.match(await connectAndRun(keyHost, [{ type: 'key', privateKey: ec.privateKey }]), /GPU 0/);
    assert.match(await connectAndRun(keyHost, [{ type: 'key', privateKey: p8.privateKey }], { prompts: { passphrase: async () => 'p8-pass' } }), /GPU 0/);
  });

  test('a key the host does not accept gives SSH_AUTH_FAILED saying what was tried', async () => {
    const stranger = generateKey(path.join(bed.root, 'client'), 'id_stranger', 'ed25519');
    let passwordAsked = false;
    const prompts: SshPrompts = {
      password: async () => {
        passwordAsked = true;
        return 'x';
      },
    };
    await assert.rejects(SshConnection.open(targetOf(keyHost, [{ type: 'key', privateKey: stranger.privateKey, label: 'id_stranger' }, { type: 'password' }]), { hostKeys, prompts }), (e: TesseraError) => {
      assert.equal(e.code, 'SSH_AUTH_FAILED');
      assert.match(e.message, /rejected authentication \(tried publickey \(id_stranger\); the server accepts publickey\)/);
      return true;
    });
    assert.equal(passwordAsked, false, 'this host does not offer passwords, so the user is not asked for one');
  });

  test('password authentication through the prompt callback; wrong and cancelled passwords fail clearly', async () => {
    const asked: PasswordRequest[] = [];
    const out = await connectAndRun(pwHost, [{ type: 'password' }], {
      prompts: {
        password: async (req) => {
          asked.push(req);
          return PASSWORD;
        },
      },
    });
    assert.match(out, /GPU 0/);
    assert.deepEqual(asked, [{ host: pwHost.address, port: pwHost.port, username: targetOf(pwHost, []).username }]);
    await pwHost.waitForLog(/Accepted password for/);

    await assert.rejects(SshConnection.open(targetOf(pwHost, [{ type: 'password' }]), { hostKeys, prompts: { password: async () => 'wrong-password' } }), (e: TesseraError) => e.code === 'SSH_AUTH_FAILED' && /tried password/.test(e.message));
    await assert.rejects(SshConnection.open(targetOf(pwHost, [{ type: 'password' }]), { hostKeys, prompts: { password: async () => null } }), (e: TesseraError) => e.code === 'SSH_AUTH_FAILED' && e.details?.reason === 'cancelled');
  });

  test('keyboard-interactive answers the server\'s own prompts', async () => {
    const seen: KeyboardInteractiveRequest[] = [];
    const out = await connectAndRun(pwHost, [{ type: 'keyboard-interactive' }], {
      prompts: {
        keyboardInteractive: async (req) => {
          seen.push(req);
          return req.prompts.map(() => PASSWORD);
        },
      },
    });
    assert.match(out, /GPU 0/);
    assert.equal(seen.length, 1);
    assert.match(seen[0]!.prompts[0]!.prompt, /password/i);
    assert.equal(seen[0]!.prompts[0]!.echo, false);
    await pwHost.waitForLog(/Accepted keyboard-interactive\/pam for/);
  });

  test('methods are tried in order: a refused key falls through to the password', async () => {
    const stranger = generateKey(path.join(bed.root, 'client'), 'id_other', 'ed25519');
    const out = await connectAndRun(pwHost, [{ type: 'key', privateKey: stranger.privateKey }, { type: 'password' }], { prompts: { password: async () => PASSWORD } });
    assert.match(out, /GPU 0/);
  });

  test('ssh-agent authentication; a dead agent socket falls through to the next method', async () => {
    const sock = path.join(bed.root, 'agent.sock');
    const agent: ChildProcess = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      await waitFor(() => fs.existsSync(sock), 5000, 'ssh-agent socket');
      execFileSync('ssh-add', [bed.clientKey.privatePath], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      assert.match(await connectAndRun(keyHost, [{ type: 'agent', socket: sock }]), /GPU 0/);
      assert.match(await connectAndRun(keyHost, [{ type: 'agent' }], { agentSocket: sock }), /GPU 0/);
      // A dead agent socket is noted and the next method is tried.
      assert.match(await connectAndRun(keyHost, [{ type: 'agent', socket: path.join(bed.root, 'no-agent.sock') }, { type: 'key', privateKey: bed.clientKey.privateKey }]), /GPU 0/);
      await assert.rejects(SshConnection.open(targetOf(keyHost, [{ type: 'agent', socket: path.join(bed.root, 'no-agent.sock') }]), { hostKeys }), (e: TesseraError) => e.code === 'SSH_AUTH_FAILED' && /tried agent; ssh-agent: Failed to connect to agent/.test(e.message));
    } finally {
      agent.kill('SIGKILL');
    }
  });

  test('a server that never answers times out; prompt time does not count against the deadline', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, keyHost.address, () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      await assert.rejects(
        SshConnection.open({ host: keyHost.address, port, username: 'root', auth: [{ type: 'password' }] }, { hostKeys, readyTimeoutMs: 700 }),
        (e: TesseraError) => e.code === 'SSH_TIMEOUT' && /within 0.7s/.test(e.message),
      );
      assert.ok(Date.now() - started < 5000);
    } finally {
      silent.close();
    }
    const out = await connectAndRun(pwHost, [{ type: 'password' }], {
      readyTimeoutMs: 1500,
      prompts: { password: () => new Promise((r) => setTimeout(() => r(PASSWORD), 2500)) },
    });
    assert.match(out, /GPU 0/);
  });

  test('nothing listening gives SSH_UNREACHABLE', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, keyHost.address, () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    await assert.rejects(SshConnection.open({ host: keyHost.address, port, username: 'root', auth: [] }, { hostKeys }), (e: TesseraError) => e.code === 'SSH_UNREACHABLE' && /ECONNREFUSED/.test(e.message));
  });
});
