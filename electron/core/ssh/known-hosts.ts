/**
 * Host key trust. The user's OpenSSH known_hosts files are read, never
 * written; keys the user accepts inside Tessera go to Tessera's own file (in
 * known_hosts format, so `ssh -o UserKnownHostsFile=...` can use it too).
 * As in OpenSSH, a key is trusted when any file lists it for the host; a
 * different key of the same type is a mismatch; no key of that type is unknown.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TesseraError } from '../../../shared/contract/errors.ts';
import { keyTypeOf, sha256Fingerprint } from './key-blob.ts';
import { entryMatchesName, formatKnownHostsLine, knownHostsName, parseKnownHosts } from './known-hosts-file.ts';
import type { KnownHostEntry, ParsedKnownHosts } from './known-hosts-file.ts';

export interface HostKeyFingerprint {
  type: string;
  sha256Fingerprint: string;
  /** "file:line" the expectation came from. */
  source: string;
}

export type HostKeyVerdict =
  | 'trusted'
  | { unknown: { type: string; sha256Fingerprint: string; otherKnownTypes: string[] } }
  | { mismatch: { expected: HostKeyFingerprint[]; presented: { type: string; sha256Fingerprint: string }; revoked: boolean } };

/** What an SSH connection needs from a trust store. */
export interface HostKeyVerifier {
  verifyHostKey(host: string, port: number, keyType: string, keyBlob: Buffer): Promise<HostKeyVerdict>;
  knownKeyTypes(host: string, port: number): Promise<string[]>;
}

export interface KnownHostsOptions {
  /** Tessera's data directory; its known_hosts file is created on first trust(). */
  dataDir: string;
  /** Read-only OpenSSH files; defaults to the user's and the system's. */
  userFiles?: readonly string[];
}

export function defaultUserKnownHostsFiles(home: string = os.homedir()): string[] {
  return [
    path.join(home, '.ssh', 'known_hosts'),
    path.join(home, '.ssh', 'known_hosts2'),
    '/etc/ssh/ssh_known_hosts',
    '/etc/ssh/ssh_known_hosts2',
  ];
}

export class KnownHosts implements HostKeyVerifier {
  readonly storePath: string;
  private readonly userFiles: readonly string[];
  private writes: Promise<void> = Promise.resolve();

  constructor(opts: KnownHostsOptions) {
    this.storePath = path.join(opts.dataDir, 'known_hosts');
    this.userFiles = opts.userFiles ?? defaultUserKnownHostsFiles();
  }

  /** Every file, read fresh: users edit known_hosts outside Tessera. */
  async load(): Promise<ParsedKnownHosts> {
    const all: ParsedKnownHosts = { entries: [], notes: [] };
    for (const file of [...this.userFiles, this.storePath]) {
      const text = await readIfExists(file);
      if (text === null) continue;
      const parsed = parseKnownHosts(text, file);
      all.entries.push(...parsed.entries);
      all.notes.push(...parsed.notes);
    }
    return all;
  }

  async notes(): Promise<string[]> {
    return (await this.load()).notes;
  }

  async verifyHostKey(host: string, port: number, keyType: string, keyBlob: Buffer): Promise<HostKeyVerdict> {
    const blobType = keyTypeOf(keyBlob);
    if (blobType !== keyType) {
      throw new TesseraError('INVALID_REQUEST', `host key blob is ${blobType ?? 'malformed'}, not ${keyType}`);
    }
    const forHost = await this.entriesFor(host, port);
    const presented = { type: keyType, sha256Fingerprint: sha256Fingerprint(keyBlob) };
    const anchors = forHost.filter((e) => e.marker === null);
    const sameType = anchors.filter((e) => e.keyType === keyType);
    const revoked = forHost.some((e) => e.marker === 'revoked' && e.blob.equals(keyBlob));
    if (revoked) return { mismatch: { expected: sameType.filter((e) => !e.blob.equals(keyBlob)).map(fingerprintOf), presented, revoked: true } };
    if (anchors.some((e) => e.blob.equals(keyBlob))) return 'trusted';
    if (sameType.length > 0) return { mismatch: { expected: sameType.map(fingerprintOf), presented, revoked: false } };
    const otherKnownTypes = [...new Set(anchors.map((e) => e.keyType))];
    return { unknown: { type: keyType, sha256Fingerprint: presented.sha256Fingerprint, otherKnownTypes } };
  }

  /** Key types already trusted for the host, so a connection can ask the server for one of those first. */
  async knownKeyTypes(host: string, port: number): Promise<string[]> {
    const forHost = await this.entriesFor(host, port);
    return [...new Set(forHost.filter((e) => e.marker === null).map((e) => e.keyType))];
  }

  /**
   * Records the user's decision to trust this key for host:port. An earlier
   * Tessera entry of the same type for the same host is replaced, so a
   * re-keyed host does not keep its old key trusted alongside the new one.
   */
  trust(host: string, port: number, keyBlob: Buffer): Promise<void> {
    const keyType = keyTypeOf(keyBlob);
    if (!keyType) return Promise.reject(new TesseraError('INVALID_REQUEST', 'not an SSH public key blob'));
    const run = async (): Promise<void> => {
      const revokedBy = (await this.entriesFor(host, port)).find((e) => e.marker === 'revoked' && e.blob.equals(keyBlob));
      if (revokedBy) {
        throw new TesseraError('HOST_KEY_MISMATCH', `refusing to trust ${sha256Fingerprint(keyBlob)}: it is marked @revoked in ${revokedBy.source}:${revokedBy.line}`);
      }
      const name = knownHostsName(host, port);
      const existing = (await readIfExists(this.storePath)) ?? '';
      const kept = existing.split(/\r?\n/).filter((line) => line.trim() !== '' && !isOurLineFor(line, name, keyType));
      kept.push(formatKnownHostsLine(name, keyType, keyBlob));
      await fs.mkdir(path.dirname(this.storePath), { recursive: true, mode: 0o700 });
      const tmp = `${this.storePath}.${process.pid}.tmp`;
      await fs.writeFile(tmp, kept.join('\n') + '\n', { mode: 0o600 });
      await fs.rename(tmp, this.storePath);
    };
    const next = this.writes.then(run, run);
    this.writes = next.catch(() => undefined);
    return next;
  }

  private async entriesFor(host: string, port: number): Promise<KnownHostEntry[]> {
    const name = knownHostsName(host, port);
    return (await this.load()).entries.filter((e) => entryMatchesName(e, name));
  }
}

function fingerprintOf(e: KnownHostEntry): HostKeyFingerprint {
  return { type: e.keyType, sha256Fingerprint: sha256Fingerprint(e.blob), source: `${e.source}:${e.line}` };
}

function isOurLineFor(line: string, name: string, keyType: string): boolean {
  const [hosts, type] = line.trim().split(/\s+/);
  return hosts === name && type === keyType;
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw err;
  }
}
