/**
 * Private keys for SSH authentication: OpenSSH, traditional PEM and PuTTY
 * formats via ssh2's parser, plus PKCS#8 PEM (which that parser does not
 * read) converted through node:crypto. An encrypted key's passphrase comes
 * from a callback each time it is needed; it is used once to decrypt and is
 * never logged, cached or put into an error.
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { TesseraError } from '../../../shared/contract/errors.ts';

export interface PassphraseRequest {
  keyLabel: string;
  /** 1 on the first ask; higher after a wrong passphrase. */
  attempt: number;
}

/** Returns the passphrase, or null when the user cancels. */
export type PassphrasePrompt = (req: PassphraseRequest) => Promise<string | null>;

export interface PrivateKeySource {
  privateKey: string | Buffer;
  /** How prompts and errors name the key, e.g. its file path. */
  label?: string;
}

export const DEFAULT_PASSPHRASE_ATTEMPTS = 3;

export async function loadPrivateKey(src: PrivateKeySource, askPassphrase?: PassphrasePrompt, maxAttempts = DEFAULT_PASSPHRASE_ATTEMPTS): Promise<ParsedKey> {
  const keyLabel = src.label ?? 'private key';
  const text = typeof src.privateKey === 'string' ? src.privateKey : src.privateKey.toString('utf8');
  const first = parseAny(text, undefined);
  if (!(first instanceof Error)) return requirePrivate(first, keyLabel);
  if (!needsPassphrase(first)) {
    throw new TesseraError('SSH_KEY_INVALID', `cannot read ${keyLabel}: ${first.message}`, { key: keyLabel });
  }
  if (!askPassphrase) {
    throw new TesseraError('SSH_KEY_INVALID', `${keyLabel} is encrypted and no passphrase prompt is available`, { key: keyLabel, reason: 'passphrase-required' });
  }
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const passphrase = await askPassphrase({ keyLabel, attempt });
    if (passphrase === null) {
      throw new TesseraError('SSH_KEY_INVALID', `passphrase entry for ${keyLabel} was cancelled`, { key: keyLabel, reason: 'cancelled' });
    }
    const parsed = parseAny(text, passphrase);
    if (!(parsed instanceof Error)) return requirePrivate(parsed, keyLabel);
  }
  throw new TesseraError('SSH_KEY_INVALID', `wrong passphrase for ${keyLabel} (${maxAttempts} attempt${maxAttempts === 1 ? '' : 's'})`, {
    key: keyLabel,
    reason: 'wrong-passphrase',
    attempts: maxAttempts,
  });
}

function parseAny(text: string, passphrase: string | undefined): ParsedKey | Error {
  if (/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
    const converted = fromPkcs8(text, passphrase);
    if (converted instanceof Error) return converted;
    text = converted;
    passphrase = undefined;
  }
  const parsed = ssh2.utils.parseKey(text, passphrase);
  if (parsed instanceof Error) return parsed;
  // OpenSSH's format can hold several keys; it only ever writes one.
  return Array.isArray(parsed) ? (parsed[0] as ParsedKey) : parsed;
}

function needsPassphrase(err: Error): boolean {
  return /no passphrase given/i.test(err.message);
}

function requirePrivate(key: ParsedKey, keyLabel: string): ParsedKey {
  if (!key.isPrivateKey()) throw new TesseraError('SSH_KEY_INVALID', `${keyLabel} is a public key, not a private key`, { key: keyLabel });
  return key;
}

/** PKCS#8 into a format ssh2 reads: PKCS#1 for RSA, SEC1 for ECDSA, OpenSSH for Ed25519. */
function fromPkcs8(text: string, passphrase: string | undefined): string | Error {
  const encrypted = text.includes('BEGIN ENCRYPTED PRIVATE KEY');
  if (encrypted && passphrase === undefined) return new Error('Encrypted PKCS#8 private key, but no passphrase given');
  let key: KeyObject;
  try {
    key = createPrivateKey(encrypted ? { key: text, format: 'pem', passphrase: passphrase! } : { key: text, format: 'pem' });
  } catch {
    return new Error(encrypted ? 'PKCS#8 private key did not decrypt -- bad passphrase?' : 'unreadable PKCS#8 private key');
  }
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return key.export({ type: 'pkcs1', format: 'pem' }).toString();
    case 'ec':
      return key.export({ type: 'sec1', format: 'pem' }).toString();
    case 'ed25519':
      return openSshEd25519(key);
    default:
      return new Error(`unsupported PKCS#8 key type ${key.asymmetricKeyType ?? 'unknown'}`);
  }
}

/** An unencrypted `openssh-key-v1` container (PROTOCOL.key) holding one Ed25519 key. */
function openSshEd25519(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d!, 'base64url');
  const pub = Buffer.from(jwk.x!, 'base64url');
  const type = Buffer.from('ssh-ed25519');
  const pubBlob = Buffer.concat([sshString(type), sshString(pub)]);
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, sshString(type), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(Buffer.alloc(0))]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString(Buffer.from('none')),
    sshString(Buffer.from('none')),
    sshString(Buffer.alloc(0)),
    count,
    sshString(pubBlob),
    sshString(priv),
  ]);
  const b64 = body.toString('base64').replace(/.{1,70}/g, '$&\n');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`;
}

function sshString(data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}
