import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { TesseraError } from '../../shared/contract/errors.ts';
import { runExecPlugin } from '../../electron/core/clusters/exec-credential.ts';
import { mergePaths } from '../../electron/core/clusters/login-shell-path.ts';

async function plugin(body: string): Promise<{ dir: string; file: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-exec-'));
  const file = path.join(dir, 'plugin.sh');
  await fs.writeFile(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return { dir, file };
}

const opts = { timeoutMs: 2000, pathEnv: process.env.PATH ?? '', clusterServer: 'https://127.0.0.1:1' };
const exec = (command: string, extra: Partial<{ args: string[]; env: { name: string; value: string }[]; installHint: string }> = {}) => ({ command, args: [], env: [], ...extra });

test('a plugin that prints an ExecCredential yields its token, with env and KUBERNETES_EXEC_INFO passed', async () => {
  const { file } = await plugin(`echo "$KUBERNETES_EXEC_INFO" | grep -q '"server":"https://127.0.0.1:1"' || exit 3
printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"tok-%s-%s","expirationTimestamp":"2099-01-01T00:00:00Z"}}' "$MY_VAR" "$1"`);
  const cred = await runExecPlugin(exec(file, { args: ['a1'], env: [{ name: 'MY_VAR', value: 'v' }] }), opts);
  assert.equal(cred.token, 'tok-v-a1');
  assert.equal(cred.expirationTimestamp, '2099-01-01T00:00:00Z');
});

test('a missing plugin names the binary and the install hint', async () => {
  await assert.rejects(runExecPlugin(exec('kubelogin-not-installed', { installHint: 'Install kubelogin from your site mirror.' }), opts), (e: TesseraError) => {
    assert.equal(e.code, 'EXEC_PLUGIN_NOT_FOUND');
    assert.match(e.message, /"kubelogin-not-installed" was not found on PATH\. Install kubelogin/);
    return true;
  });
});

test('a plugin found only on the login-shell PATH is found when that PATH is given', async () => {
  const { dir } = await plugin('');
  await fs.writeFile(path.join(dir, 'site-token'), '#!/bin/sh\necho \'{"kind":"ExecCredential","status":{"token":"t"}}\'\n', { mode: 0o755 });
  await assert.rejects(runExecPlugin(exec('site-token'), { ...opts, pathEnv: '/usr/bin:/bin' }), (e: TesseraError) => e.code === 'EXEC_PLUGIN_NOT_FOUND');
  const cred = await runExecPlugin(exec('site-token'), { ...opts, pathEnv: mergePaths('/usr/bin:/bin', dir) });
  assert.equal(cred.token, 't');
});

test('a hanging plugin is killed at the timeout', async () => {
  const { file } = await plugin('sleep 30');
  const started = Date.now();
  await assert.rejects(runExecPlugin(exec(file), { ...opts, timeoutMs: 300 }), (e: TesseraError) => e.code === 'EXEC_PLUGIN_TIMEOUT' && /did not answer within 0.3s/.test(e.message));
  assert.ok(Date.now() - started < 5000);
});

test('failures and bad answers are specific', async () => {
  const failing = await plugin('echo "error: you must log in first" >&2; exit 4');
  await assert.rejects(runExecPlugin(exec(failing.file), opts), (e: TesseraError) => e.code === 'EXEC_PLUGIN_FAILED' && /exited with status 4: error: you must log in first/.test(e.message));
  const garbage = await plugin('echo not-json');
  await assert.rejects(runExecPlugin(exec(garbage.file), opts), /not an ExecCredential JSON object/);
  const empty = await plugin('echo \'{"kind":"ExecCredential","status":{}}\'');
  await assert.rejects(runExecPlugin(exec(empty.file), opts), /neither a token nor a client certificate/);
});

test('mergePaths keeps order and drops duplicates', () => {
  assert.equal(mergePaths('/a:/b', '/b:/c', ''), '/a:/b:/c');
});
