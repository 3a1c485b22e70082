/**
 * SSH public key blobs (RFC 4253 §6.6 wire format) and how OpenSSH names
 * them: the type is the blob's first string, and the SHA256 fingerprint is
 * printed as unpadded base64, exactly as `ssh-keygen -l` shows it.
 */
import { createHash } from 'node:crypto';

/** The key type embedded in a blob ("ssh-ed25519", "ssh-rsa", ...), or null if the blob is malformed. */
export function keyTypeOf(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return null;
  const type = blob.subarray(4, 4 + len).toString('latin1');
  return /^[\x21-\x7e]+$/.test(type) ? type : null;
}

export function sha256Fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** "ssh-ed25519 AAAA..." as found in a .pub file or known_hosts line. */
export function parsePublicKeyLine(text: string): { type: string; blob: Buffer } | null {
  const parts = text.trim().split(/\s+/);
  for (let i = 0; i + 1 < parts.length; i++) {
    const blob = decodeBase64Strict(parts[i + 1]!);
    if (blob && keyTypeOf(blob) === parts[i]) return { type: parts[i]!, blob };
  }
  return null;
}

export function decodeBase64Strict(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  const buf = Buffer.from(text, 'base64');
  return buf.length > 0 ? buf : null;
}
