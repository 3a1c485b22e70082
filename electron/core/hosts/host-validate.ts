/**
 * Checks one host's fields the way a person needs to hear about them: each
 * problem names the field and what would be accepted. Nothing is stored
 * until every field passes.
 */
import os from 'node:os';
import path from 'node:path';
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { HostInput, SshHost } from '../../../shared/model/host.ts';

export interface FieldProblem {
  field: string;
  message: string;
}

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?$/;
/** POSIX-portable user names (plus the uppercase some directories use), as useradd accepts them. */
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;
const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const GROUP = /^[\w .:/@+-]{1,64}$/;

export function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && (p === '0' || !p.startsWith('0')));
}

export function isIpv6(s: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || !s.includes(':')) return false;
  const dbl = s.split('::');
  if (dbl.length > 2) return false;
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const all = [...groups(dbl[0]!), ...(dbl.length === 2 ? groups(dbl[1]!) : [])];
  let count = all.length;
  const last = all[all.length - 1];
  if (last && last.includes('.')) {
    if (!isIpv4(last)) return false;
    count += 1;
    all.pop();
  }
  if (!all.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return dbl.length === 2 ? count < 8 : count === 8;
}

export function isHostname(s: string): boolean {
  if (s.length > 253) return false;
  const labels = s.replace(/\.$/, '').split('.');
  return labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1]!);
}

export function addressProblem(address: string): string | null {
  const a = address.replace(/^\[(.*)\]$/, '$1');
  if (a.trim() !== a || a === '') return 'must be a host name or IP address without spaces';
  if (/^[\d.]+$/.test(a)) return isIpv4(a) ? null : `"${address}" is not a valid IPv4 address (four numbers 0-255)`;
  if (a.includes(':')) return isIpv6(a) ? null : `"${address}" is not a valid IPv6 address`;
  return isHostname(a) ? null : `"${address}" is not a valid host name (letters, digits and - in dot-separated labels)`;
}

/** `user@host[:port]` as a jump hop, or null. */
export function parseHop(spec: string): { user: string; host: string; port: number } | null {
  const m = /^([^@\s]+)@(\[[^\]]+\]|[^:\s@]+)(?::(\d{1,5}))?$/.exec(spec);
  if (!m) return null;
  const host = m[2]!.replace(/^\[|\]$/g, '');
  const port = m[3] ? Number(m[3]) : 22;
  if (!USER.test(m[1]!) || addressProblem(host) || port < 1 || port > 65535) return null;
  return { user: m[1]!, host, port };
}

export function expandHome(p: string, home: string = os.homedir()): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return p;
}

/** A checked host as the store keeps it, before it gets its id and source. */
export type Normalized = Omit<SshHost, 'id' | 'source'>;

/**
 * Validates and normalizes. `knownIds` are the hosts a ProxyJump hop may
 * name; `selfId` is the host being edited (a host cannot jump through itself).
 */
export function checkHostInput(input: HostInput, knownIds: ReadonlySet<string>, selfId?: string, home?: string): { value: Normalized; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const name = input.name.trim();
  if (!NAME.test(name)) problems.push({ field: 'name', message: 'name must be 1-64 letters, digits, spaces, ".", "_" or "-", starting with a letter or digit' });
  const address = input.address.trim().replace(/^\[(.*)\]$/, '$1');
  const ap = addressProblem(address);
  if (ap) problems.push({ field: 'address', message: `address ${ap}` });
  const port = input.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push({ field: 'port', message: `port must be a whole number from 1 to 65535, got ${port}` });
  const user = input.user.trim();
  if (!USER.test(user)) problems.push({ field: 'user', message: `user "${input.user}" is not a valid login name (letters, digits, "_", ".", "-"; at most 32; not starting with a digit or "-")` });
  let identityFile: string | undefined;
  if (input.identityFile !== undefined && input.identityFile.trim() !== '') {
    const f = expandHome(input.identityFile.trim(), home);
    if (!path.isAbsolute(f) || f.includes('\0') || f.split(/[\\/]/).includes('..')) {
      problems.push({ field: 'identityFile', message: 'identity file must be an absolute path or start with ~/, without ".." segments' });
    } else identityFile = path.normalize(f);
  }
  const proxyJump: string[] = [];
  for (const hop of input.proxyJump ?? []) {
    const h = hop.trim();
    if (h === '') continue;
    if (selfId !== undefined && h === selfId) problems.push({ field: 'proxyJump', message: 'a host cannot be its own jump host' });
    else if (knownIds.has(h)) proxyJump.push(h);
    else if (parseHop(h)) proxyJump.push(h);
    else problems.push({ field: 'proxyJump', message: `jump host "${h}" is neither a known host id nor user@host[:port]` });
  }
  const group = optionalLabel(input.group, 'group', problems);
  const nodePool = optionalLabel(input.nodePool, 'nodePool', problems);
  return {
    value: { name, address, port, user, proxyJump, ...(identityFile ? { identityFile } : {}), ...(group ? { group } : {}), ...(nodePool ? { nodePool } : {}) },
    problems,
  };
}

function optionalLabel(v: string | undefined, field: string, problems: FieldProblem[]): string | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  if (!GROUP.test(v.trim())) problems.push({ field, message: `${field === 'nodePool' ? 'node pool' : field} may hold letters, digits, spaces and . _ : / @ + - (at most 64)` });
  return v.trim();
}

export function invalidHost(problems: FieldProblem[]): TesseraError {
  return new TesseraError('INVALID_REQUEST', problems.map((p) => p.message).join('; '), { problems });
}

/** Lowercase slug from a name, unique among `taken`. */
export function makeId(name: string, taken: ReadonlySet<string>): string {
  const base = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 56) || 'host';
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}-${n}`;
  return id;
}

/** A ProxyJump chain that leads back to `start` would never connect; refuse it when saving. */
export function findJumpCycle(hosts: readonly SshHost[], start: string): string[] | null {
  const byId = new Map(hosts.map((h) => [h.id, h]));
  const walk = (id: string, seen: string[]): string[] | null => {
    if (seen.includes(id)) return [...seen, id];
    const h = byId.get(id);
    if (!h) return null;
    for (const hop of h.proxyJump) {
      if (!byId.has(hop)) continue;
      const c = walk(hop, [...seen, id]);
      if (c) return c;
    }
    return null;
  };
  return walk(start, []);
}
