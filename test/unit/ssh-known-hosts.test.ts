import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { keyTypeOf, parsePublicKeyLine, sha256Fingerprint } from '../../electron/core/ssh/key-blob.ts';
import { entryMatchesName, knownHostsName, parseKnownHosts, wildcardMatch } from '../../electron/core/ssh/known-hosts-file.ts';
import { KnownHosts } from '../../electron/core/ssh/known-hosts.ts';
import { fingerprintOf, generateKey, hashKnownHosts } from '../sshbed/keys.ts';
import type { KeyPair } from '../sshbed/keys.ts';
import type { TesseraError } from '../../shared/contract/errors.ts';

let dir: string;
let ed: KeyPair;
let ed2: KeyPair;
let rsa: KeyPair;
let ecdsa: KeyPair;
const blob = (k: KeyPair): Buffer => parsePublicKeyLine(k.publicKey)!.blob;
const keyPart = (k: KeyPair): string => k.publicKey.split(' ').slice(0, 2).join(' ');

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-known-hosts-'));
  ed = generateKey(dir, 'ed', 'ed25519');
  ed2 = generateKey(dir, 'ed2', 'ed25519');
  rsa = generateKey(dir, 'rsa', 'rsa');
  ecdsa = generateKey(dir, 'ecdsa', 'ecdsa');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('fingerprints match what ssh-keygen -l prints', () => {
  for (const k of [ed, rsa, ecdsa]) {
    assert.equal(sha256Fingerprint(blob(k)), fingerprintOf(k.publicPath));
    assert.doesNotMatch(sha256Fingerprint(blob(k)), /=$/);
  }
  assert.equal(keyTypeOf(blob(rsa)), 'ssh-rsa');
  assert.equal(keyTypeOf(blob(ecdsa)), 'ecdsa-sha2-nistp256');
  assert.equal(keyTypeOf(Buffer.from([0, 0, 0, 9, 1])), null);
});

test('lookup names follow OpenSSH: bare host on 22, [host]:port elsewhere, lower case', () => {
  assert.equal(knownHostsName('GPU-01.Example.com', 22), 'gpu-01.example.com');
  assert.equal(knownHostsName('10.0.0.5', 2222), '[10.0.0.5]:2222');
});

test('wildcards and negation', () => {
  assert.ok(wildcardMatch('gpu-17.dc1', 'gpu-*.dc?'));
  assert.ok(wildcardMatch('[10.0.0.5]:2222', '[10.0.0.*]:2222'));
  assert.ok(!wildcardMatch('gpu-17.dc12', 'gpu-*.dc?'));
  assert.ok(wildcardMatch('anything', '*'));
  const parsed = parseKnownHosts(`gpu-*.dc1,!gpu-bad.dc1 ${keyPart(ed)}\n`, 'f');
  const entry = parsed.entries[0]!;
  assert.ok(entryMatchesName(entry, 'gpu-7.dc1'));
  assert.ok(!entryMatchesName(entry, 'gpu-bad.dc1'));
  assert.ok(!entryMatchesName(entry, 'gpu-7.dc2'));
});

test('parses plain, port, list, hashed and marked lines; unusable lines become notes', () => {
  const salt = randomBytes(20);
  const hash = createHmac('sha1', salt).update('[hashed.example]:2200').digest();
  const text = [
    '# a comment',
    '',
    `alpha.example ${keyPart(ed)} alpha comment`,
    `[beta.example]:2222,10.0.0.9 ${keyPart(rsa)}`,
    `|1|${salt.toString('base64')}|${hash.toString('base64')} ${keyPart(ecdsa)}`,
    `@revoked * ${keyPart(ed2)}`,
    `@cert-authority *.example ${keyPart(ed)}`,
    `@weird host ${keyPart(ed)}`,
    'gamma.example ssh-ed25519 not-base64!!',
    `delta.example ssh-rsa ${keyPart(ed).split(' ')[1]}`,
    'lonely-hostname',
  ].join('\n');
  const { entries, notes } = parseKnownHosts(text, 'kh');
  assert.equal(entries.length, 5);
  assert.deepEqual(entries[0]!.patterns, ['alpha.example']);
  assert.equal(entries[0]!.line, 3);
  assert.deepEqual(entries[1]!.patterns, ['[beta.example]:2222', '10.0.0.9']);
  assert.ok(entries[2]!.hashed && entryMatchesName(entries[2]!, '[hashed.example]:2200'));
  assert.ok(!entryMatchesName(entries[2]!, 'hashed.example'));
  assert.equal(entries[3]!.marker, 'revoked');
  assert.equal(entries[4]!.marker, 'cert-authority');
  assert.ok(notes.some((n) => /kh:6: @revoked/.test(n)));
  assert.ok(notes.some((n) => /kh:7: @cert-authority entry ignored/.test(n)));
  assert.ok(notes.some((n) => /kh:8: unknown marker @weird/.test(n)));
  assert.ok(notes.some((n) => /kh:9: key is not valid ssh-ed25519/.test(n)));
  assert.ok(notes.some((n) => /kh:10: key is not valid ssh-rsa/.test(n)), 'a key whose blob says ed25519 under an ssh-rsa label is refused');
  assert.ok(notes.some((n) => /kh:11: not a known_hosts entry/.test(n)));
});

test('entries hashed by ssh-keygen -H are matched', () => {
  const file = path.join(dir, 'hashed_known_hosts');
  fs.writeFileSync(file, `[10.1.2.3]:2222 ${keyPart(ed)}\nplain.example,10.9.9.9 ${keyPart(rsa)}\n`);
  hashKnownHosts(file);
  const text = fs.readFileSync(file, 'utf8');
  assert.doesNotMatch(text, /10\.1\.2\.3|plain\.example/);
  const { entries } = parseKnownHosts(text, file);
  assert.ok(entries.every((e) => e.hashed));
  assert.ok(entries.some((e) => entryMatchesName(e, '[10.1.2.3]:2222') && e.keyType === 'ssh-ed25519'));
  assert.ok(entries.some((e) => entryMatchesName(e, 'plain.example') && e.keyType === 'ssh-rsa'));
  assert.ok(entries.some((e) => entryMatchesName(e, '10.9.9.9')));
  assert.ok(!entries.some((e) => entryMatchesName(e, '[10.1.2.3]:22')));
});

function store(userText: string): { kh: KnownHosts; userFile: string; dataDir: string } {
  const sub = fs.mkdtempSync(path.join(dir, 'store-'));
  const userFile = path.join(sub, 'known_hosts');
  fs.writeFileSync(userFile, userText);
  const dataDir = path.join(sub, 'data');
  return { kh: new KnownHosts({ dataDir, userFiles: [userFile, path.join(sub, 'missing')] }), userFile, dataDir };
}

test('verifyHostKey: trusted, unknown and mismatch with both fingerprints', async () => {
  const { kh } = store(`[gpu1]:2222 ${keyPart(ed)}\n`);
  assert.equal(await kh.verifyHostKey('gpu1', 2222, 'ssh-ed25519', blob(ed)), 'trusted');
  assert.equal(await kh.verifyHostKey('GPU1', 2222, 'ssh-ed25519', blob(ed)), 'trusted');

  const unknown = await kh.verifyHostKey('gpu2', 22, 'ssh-ed25519', blob(ed));
  assert.deepEqual(unknown, { unknown: { type: 'ssh-ed25519', sha256Fingerprint: ed.fingerprint, otherKnownTypes: [] } });

  const wrongPort = await kh.verifyHostKey('gpu1', 22, 'ssh-ed25519', blob(ed));
  assert.ok(typeof wrongPort === 'object' && 'unknown' in wrongPort, 'a key is trusted for its port only');

  const changed = await kh.verifyHostKey('gpu1', 2222, 'ssh-ed25519', blob(ed2));
  assert.ok(typeof changed === 'object' && 'mismatch' in changed);
  assert.equal(changed.mismatch.presented.sha256Fingerprint, ed2.fingerprint);
  assert.deepEqual(
    changed.mismatch.expected.map((e) => e.sha256Fingerprint),
    [ed.fingerprint],
  );
  assert.match(changed.mismatch.expected[0]!.source, /known_hosts:1$/);

  const otherType = await kh.verifyHostKey('gpu1', 2222, 'ssh-rsa', blob(rsa));
  assert.ok(typeof otherType === 'object' && 'unknown' in otherType);
  assert.deepEqual(otherType.unknown.otherKnownTypes, ['ssh-ed25519']);
  assert.deepEqual(await kh.knownKeyTypes('gpu1', 2222), ['ssh-ed25519']);

  await assert.rejects(kh.verifyHostKey('gpu1', 2222, 'ssh-rsa', blob(ed)), (e: TesseraError) => e.code === 'INVALID_REQUEST');
});

test('a @revoked key is refused even when another line trusts it', async () => {
  const { kh } = store(`gpu1 ${keyPart(ed2)}\n@revoked * ${keyPart(ed2)}\n`);
  const v = await kh.verifyHostKey('gpu1', 22, 'ssh-ed25519', blob(ed2));
  assert.ok(typeof v === 'object' && 'mismatch' in v && v.mismatch.revoked);
  await assert.rejects(kh.trust('gpu1', 22, blob(ed2)), (e: TesseraError) => e.code === 'HOST_KEY_MISMATCH' && /@revoked/.test(e.message));
});

test('a @cert-authority line is not a host key', async () => {
  const { kh } = store(`@cert-authority gpu1 ${keyPart(ed)}\n`);
  const v = await kh.verifyHostKey('gpu1', 22, 'ssh-ed25519', blob(ed));
  assert.ok(typeof v === 'object' && 'unknown' in v);
});

test('trust() writes Tessera\'s store only and replaces an older key of the same type', async () => {
  const userText = `[gpu1]:2222 ${keyPart(ed)}\n`;
  const { kh, userFile, dataDir } = store(userText);
  await kh.trust('gpu9', 2200, blob(ed));
  await kh.trust('gpu9', 2200, blob(rsa));
  assert.equal(fs.readFileSync(userFile, 'utf8'), userText, 'the user\'s known_hosts is never written');
  assert.equal(await kh.verifyHostKey('gpu9', 2200, 'ssh-ed25519', blob(ed)), 'trusted');
  assert.equal(await kh.verifyHostKey('gpu9', 2200, 'ssh-rsa', blob(rsa)), 'trusted');

  await kh.trust('gpu9', 2200, blob(ed2));
  assert.equal(await kh.verifyHostKey('gpu9', 2200, 'ssh-ed25519', blob(ed2)), 'trusted');
  const old = await kh.verifyHostKey('gpu9', 2200, 'ssh-ed25519', blob(ed));
  assert.ok(typeof old === 'object' && 'mismatch' in old, 'the replaced key is no longer trusted');
  assert.equal(await kh.verifyHostKey('gpu9', 2200, 'ssh-rsa', blob(rsa)), 'trusted', 'other key types stay');

  const storeText = fs.readFileSync(path.join(dataDir, 'known_hosts'), 'utf8');
  assert.equal(storeText.trim().split('\n').length, 2);
  assert.match(storeText, /^\[gpu9\]:2200 ssh-rsa /m);
  assert.equal(fs.statSync(path.join(dataDir, 'known_hosts')).mode & 0o777, 0o600);
  // The store is plain known_hosts: OpenSSH's own tools read it.
  assert.equal(parseKnownHosts(storeText, 's').notes.length, 0);
});

test('concurrent trust() calls do not lose entries', async () => {
  const { kh } = store('');
  const keys = [ed, ed2, rsa, ecdsa];
  await Promise.all(keys.map((k, i) => kh.trust(`host${i}`, 22, blob(k))));
  for (const [i, k] of keys.entries()) assert.equal(await kh.verifyHostKey(`host${i}`, 22, keyTypeOf(blob(k))!, blob(k)), 'trusted');
});
