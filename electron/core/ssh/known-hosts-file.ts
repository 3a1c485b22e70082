/**
 * OpenSSH known_hosts text: `[marker] hostpatterns keytype base64key [comment]`.
 * Host patterns are comma-separated, may use `*`/`?` wildcards and `!`
 * negation, name non-22 ports as `[host]:port`, or be one hashed
 * `|1|salt|hmac-sha1` entry. Lines this parser cannot use become notes
 * rather than errors: a user's file with one bad line must not lock them out.
 */
import { createHmac } from 'node:crypto';
import { decodeBase64Strict, keyTypeOf } from './key-blob.ts';

export type KnownHostMarker = 'revoked' | 'cert-authority';

export interface KnownHostEntry {
  source: string;
  line: number;
  marker: KnownHostMarker | null;
  /** Plain patterns, or null when the entry is hashed. */
  patterns: string[] | null;
  hashed: { salt: Buffer; hash: Buffer } | null;
  keyType: string;
  blob: Buffer;
}

export interface ParsedKnownHosts {
  entries: KnownHostEntry[];
  notes: string[];
}

/** The name OpenSSH looks up: bare host on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

export function parseKnownHosts(text: string, source: string): ParsedKnownHosts {
  const entries: KnownHostEntry[] = [];
  const notes: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = raw.split(/\s+/);
    let marker: KnownHostMarker | null = null;
    if (fields[0]!.startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else {
        notes.push(`${source}:${lineNo}: unknown marker ${m}, line skipped`);
        continue;
      }
    }
    const [hosts, keyType, keyText] = fields;
    if (!hosts || !keyType || !keyText) {
      notes.push(`${source}:${lineNo}: not a known_hosts entry, line skipped`);
      continue;
    }
    const blob = decodeBase64Strict(keyText);
    if (!blob || keyTypeOf(blob) !== keyType) {
      notes.push(`${source}:${lineNo}: key is not valid ${keyType} data, line skipped`);
      continue;
    }
    let patterns: string[] | null = null;
    let hashed: KnownHostEntry['hashed'] = null;
    if (hosts.startsWith('|')) {
      hashed = parseHashed(hosts);
      if (!hashed) {
        notes.push(`${source}:${lineNo}: malformed hashed host entry, line skipped`);
        continue;
      }
    } else {
      patterns = hosts.toLowerCase().split(',').filter((p) => p !== '');
    }
    if (marker === 'cert-authority') {
      notes.push(`${source}:${lineNo}: @cert-authority entry ignored (host certificates are not supported)`);
    } else if (marker === 'revoked') {
      notes.push(`${source}:${lineNo}: @revoked entry: never trusted as a host key, only used to refuse that key`);
    }
    entries.push({ source, line: lineNo, marker, patterns, hashed, keyType, blob });
  }
  return { entries, notes };
}

function parseHashed(field: string): KnownHostEntry['hashed'] {
  const m = /^\|1\|([^|]+)\|([^|]+)$/.exec(field);
  if (!m) return null;
  const salt = decodeBase64Strict(m[1]!);
  const hash = decodeBase64Strict(m[2]!);
  if (!salt || !hash || salt.length !== 20 || hash.length !== 20) return null;
  return { salt, hash };
}

export function entryMatchesName(entry: KnownHostEntry, name: string): boolean {
  if (entry.hashed) {
    const digest = createHmac('sha1', entry.hashed.salt).update(name).digest();
    return digest.equals(entry.hashed.hash);
  }
  let positive = false;
  for (const p of entry.patterns ?? []) {
    // OpenSSH: one matching negated pattern rules the whole line out.
    if (p.startsWith('!')) {
      if (wildcardMatch(name, p.slice(1))) return false;
    } else if (wildcardMatch(name, p)) {
      positive = true;
    }
  }
  return positive;
}

/** OpenSSH's match_pattern: `*` any run, `?` one character, everything else literal. */
export function wildcardMatch(text: string, pattern: string): boolean {
  let t = 0;
  let p = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      t++;
      p++;
    } else if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starT = t;
    } else if (starP !== -1) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

export function formatKnownHostsLine(name: string, keyType: string, blob: Buffer, comment?: string): string {
  return `${name} ${keyType} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
}
