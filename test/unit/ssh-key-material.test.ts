import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parsePublicKeyLine } from '../../electron/core/ssh/key-blob.ts';
import { loadPrivateKey } from '../../electron/core/ssh/key-material.ts';
import type { PassphraseRequest } from '../../electron/core/ssh/key-material.ts';
import { generateKey } from '../sshbed/keys.ts';
import type { KeyKind, KeyOptions } from '../sshbed/keys.ts';
import type { TesseraError } from '../../shared/contract/errors.ts';

let dir: string;
before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-keys-'))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const cases: [KeyKind, KeyOptions['format'] | undefined, RegExp][] = [
  ['ed25519', undefined, /BEGIN OPENSSH PRIVATE KEY/],
  ['rsa', undefined, /BEGIN OPENSSH PRIVATE KEY/],
  ['ecdsa', undefined, /BEGIN OPENSSH PRIVATE KEY/],
  ['rsa', 'PEM', /BEGIN RSA PRIVATE KEY/],
  ['ecdsa', 'PEM', /BEGIN EC PRIVATE KEY/],
  ['rsa', 'PKCS8', /BEGIN PRIVATE KEY/],
  ['ecdsa', 'PKCS8', /BEGIN PRIVATE KEY/],
  ['ed25519', 'PKCS8', /BEGIN PRIVATE KEY/],
];

for (const [kind, format, header] of cases) {
  test(`reads ${kind} ${format ?? 'OpenSSH'} keys, plain and encrypted, to the same public key as ssh-keygen`, async () => {
    const plain = generateKey(dir, `${kind}-${format}-plain`, kind, format ? { format } : {});
    assert.match(plain.privateKey, header);
    const key = await loadPrivateKey({ privateKey: plain.privateKey });
    assert.ok(key.isPrivateKey());
    assert.deepEqual(key.getPublicSSH(), parsePublicKeyLine(plain.publicKey)!.blob);
    // It can actually sign: the parsed key is usable for authentication.
    const sig = key.sign(Buffer.from('challenge'));
    assert.ok(key.verify(Buffer.from('challenge'), sig));

    const enc = generateKey(dir, `${kind}-${format}-enc`, kind, { passphrase: 'correct horse', ...(format ? { format } : {}) });
    const asked: PassphraseRequest[] = [];
    const key2 = await loadPrivateKey({ privateKey: Buffer.from(enc.privateKey), label: enc.privatePath }, async (req) => {
      asked.push(req);
      return 'correct horse';
    });
    assert.deepEqual(key2.getPublicSSH(), parsePublicKeyLine(enc.publicKey)!.blob);
    assert.deepEqual(asked, [{ keyLabel: enc.privatePath, attempt: 1 }]);
  });
}

test('a wrong passphrase is asked again, then fails clearly without echoing it', async () => {
  const enc = generateKey(dir, 'wrong', 'ed25519', { passphrase: 'right one' });
  const attempts: number[] = [];
  await assert.rejects(
    loadPrivateKey({ privateKey: enc.privateKey, label: 'id_wrong' }, async (req) => {
      attempts.push(req.attempt);
      return 'Sup3r-s3cret-guess';
    }),
    (e: TesseraError) => {
      assert.equal(e.code, 'SSH_KEY_INVALID');
      assert.match(e.message, /wrong passphrase for id_wrong \(3 attempts\)/);
      assert.equal(e.details?.reason, 'wrong-passphrase');
      assert.doesNotMatch(JSON.stringify(e.toShape()), /Sup3r-s3cret-guess/);
      return true;
    },
  );
  assert.deepEqual(attempts, [1, 2, 3]);

  let n = 0;
  const key = await loadPrivateKey({ privateKey: enc.privateKey }, async () => (++n === 1 ? 'typo' : 'right one'));
  assert.ok(key.isPrivateKey());
  assert.equal(n, 2, 'a second try with the right passphrase succeeds');
});

test('encrypted key without a prompt, a cancelled prompt, and garbage are distinct errors', async () => {
  const enc = generateKey(dir, 'noprompt', 'rsa', { passphrase: 'pw' });
  await assert.rejects(loadPrivateKey({ privateKey: enc.privateKey }), (e: TesseraError) => e.code === 'SSH_KEY_INVALID' && e.details?.reason === 'passphrase-required');
  await assert.rejects(loadPrivateKey({ privateKey: enc.privateKey }, async () => null), (e: TesseraError) => e.code === 'SSH_KEY_INVALID' && e.details?.reason === 'cancelled');
  await assert.rejects(loadPrivateKey({ privateKey: 'not a key', label: 'junk' }), (e: TesseraError) => e.code === 'SSH_KEY_INVALID' && /cannot read junk/.test(e.message));
  const pub = generateKey(dir, 'pubonly', 'ed25519');
  await assert.rejects(loadPrivateKey({ privateKey: pub.publicKey, label: 'id.pub' }), (e: TesseraError) => e.code === 'SSH_KEY_INVALID' && /public key/.test(e.message));
});
