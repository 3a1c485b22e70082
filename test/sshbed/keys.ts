/** Keys for the test bed, made by the real ssh-keygen so formats and fingerprints are OpenSSH's own. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export type KeyKind = 'ed25519' | 'rsa' | 'ecdsa';

export interface KeyPair {
  kind: KeyKind;
  privatePath: string;
  publicPath: string;
  privateKey: string;
  /** The .pub line: "ssh-ed25519 AAAA... comment". */
  publicKey: string;
  /** As `ssh-keygen -lf` prints it: "SHA256:...". */
  fingerprint: string;
}

export interface KeyOptions {
  passphrase?: string;
  /** 'PEM' writes the traditional "BEGIN RSA/EC PRIVATE KEY" form; 'PKCS8' the "BEGIN PRIVATE KEY" one. */
  format?: 'PEM' | 'PKCS8';
  comment?: string;
}

export function generateKey(dir: string, name: string, kind: KeyKind, opts: KeyOptions = {}): KeyPair {
  // ssh-keygen writes Ed25519 keys in OpenSSH format whatever -m says; OpenSSL makes the PKCS#8 form.
  if (kind === 'ed25519' && opts.format === 'PKCS8') return pkcs8Ed25519(dir, name, opts);
  fs.mkdirSync(dir, { recursive: true });
  const privatePath = path.join(dir, name);
  fs.rmSync(privatePath, { force: true });
  fs.rmSync(`${privatePath}.pub`, { force: true });
  const args = ['-q', '-t', kind, '-N', opts.passphrase ?? '', '-C', opts.comment ?? `${name}@sshbed`, '-f', privatePath];
  if (kind === 'rsa') args.push('-b', '2048');
  // Few KDF rounds: same format, but ssh2's pure-JS bcrypt decrypts it in milliseconds instead of a second.
  if (opts.passphrase) args.push('-a', '2');
  if (opts.format) args.push('-m', opts.format);
  execFileSync('ssh-keygen', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return {
    kind,
    privatePath,
    publicPath: `${privatePath}.pub`,
    privateKey: fs.readFileSync(privatePath, 'utf8'),
    publicKey: fs.readFileSync(`${privatePath}.pub`, 'utf8').trim(),
    fingerprint: fingerprintOf(`${privatePath}.pub`),
  };
}

function pkcs8Ed25519(dir: string, name: string, opts: KeyOptions): KeyPair {
  fs.mkdirSync(dir, { recursive: true });
  const privatePath = path.join(dir, name);
  execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', privatePath], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (opts.passphrase !== undefined) {
    execFileSync('openssl', ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', privatePath, '-out', `${privatePath}.enc`, '-passout', 'stdin'], { input: opts.passphrase + '\n', stdio: ['pipe', 'ignore', 'pipe'] });
    fs.renameSync(`${privatePath}.enc`, privatePath);
  }
  const der = execFileSync('openssl', ['pkey', '-in', privatePath, '-pubout', '-outform', 'DER', '-passin', 'stdin'], { input: (opts.passphrase ?? '') + '\n' });
  const raw = der.subarray(der.length - 32);
  const str = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const publicKey = `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]).toString('base64')} ${opts.comment ?? `${name}@sshbed`}`;
  fs.writeFileSync(`${privatePath}.pub`, publicKey + '\n');
  return { kind: 'ed25519', privatePath, publicPath: `${privatePath}.pub`, privateKey: fs.readFileSync(privatePath, 'utf8'), publicKey, fingerprint: fingerprintOf(`${privatePath}.pub`) };
}

/** `ssh-keygen -lf file` → "SHA256:..." (the second field of "256 SHA256:... comment (ED25519)"). */
export function fingerprintOf(publicKeyFile: string): string {
  const out = execFileSync('ssh-keygen', ['-E', 'sha256', '-lf', publicKeyFile], { encoding: 'utf8' });
  const fp = out.trim().split(/\s+/)[1];
  if (!fp?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -l output: ${out}`);
  return fp;
}

/** Hashes every host name in a known_hosts file in place with `ssh-keygen -H` (and drops its .old backup). */
export function hashKnownHosts(file: string): void {
  execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  fs.rmSync(`${file}.old`, { force: true });
}
