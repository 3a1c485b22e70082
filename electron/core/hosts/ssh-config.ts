/**
 * Reads an OpenSSH client config (ssh_config(5)) into concrete hosts. For
 * every alias named by a `Host` line without wildcards, the options of every
 * block that matches it are applied in file order, first value wins, as ssh
 * itself does; so `Host *` defaults below the specific blocks still count.
 * Include is followed (relative to ~/.ssh, with * globs, nested at most 16
 * deep); Match blocks are skipped because their conditions depend on runtime.
 */
import path from 'node:path';
import { wildcardMatch } from '../ssh/known-hosts-file.ts';
import { expandHome } from './host-validate.ts';

export interface SshConfigHost {
  alias: string;
  hostName: string;
  port?: number;
  user?: string;
  identityFile?: string;
  /** Hops as written (aliases or [user@]host[:port]), nearest first; absent or "none" means direct. */
  proxyJump: string[];
}

export interface SshConfigResult {
  hosts: SshConfigHost[];
  skipped: { name: string; reason: string }[];
  warnings: string[];
}

export interface SshConfigFiles {
  home: string;
  /** Reads a file's text, or null when it does not exist. */
  read(file: string): string | null;
  /** Names in a directory, or [] when it does not exist (for Include globs). */
  list(dir: string): string[];
}

interface Line {
  keyword: string;
  args: string[];
  where: string;
}

interface Block {
  patterns: string[];
  /** Match blocks never apply: we cannot evaluate their conditions. */
  match: boolean;
  options: Line[];
}

const MAX_INCLUDE_DEPTH = 16;

export function parseSshConfig(text: string, files: SshConfigFiles, source = 'config'): SshConfigResult {
  const warnings: string[] = [];
  const lines = expand(text, source, files, 0, warnings, new Set());
  const blocks: Block[] = [{ patterns: ['*'], match: false, options: [] }];
  for (const line of lines) {
    if (line.keyword === 'host') blocks.push({ patterns: line.args, match: false, options: [] });
    else if (line.keyword === 'match') {
      warnings.push(`${line.where}: Match block skipped (its conditions are evaluated by ssh at connect time)`);
      blocks.push({ patterns: [], match: true, options: [] });
    } else blocks[blocks.length - 1]!.options.push(line);
  }

  const aliases: string[] = [];
  const skipped: { name: string; reason: string }[] = [];
  for (const b of blocks.slice(1)) {
    for (const p of b.patterns) {
      if (/[*?!]/.test(p)) {
        if (!skipped.some((s) => s.name === p)) skipped.push({ name: p, reason: 'pattern, not a host' });
      } else if (!aliases.includes(p)) aliases.push(p);
    }
  }

  const hosts = aliases.map((alias) => {
    const opts = new Map<string, string[]>();
    for (const b of blocks) {
      if (b.match || !blockMatches(b.patterns, alias)) continue;
      for (const o of b.options) if (!opts.has(o.keyword)) opts.set(o.keyword, o.args);
    }
    const one = (k: string): string | undefined => opts.get(k)?.[0];
    const hostName = (one('hostname') ?? alias).replace(/%h/g, alias).replace(/%%/g, '%');
    const portText = one('port');
    const port = portText !== undefined ? Number(portText) : undefined;
    if (portText !== undefined && !(Number.isInteger(port) && port! >= 1 && port! <= 65535)) warnings.push(`${alias}: Port "${portText}" is not a port number`);
    const identity = one('identityfile');
    const jump = one('proxyjump');
    const h: SshConfigHost = {
      alias,
      hostName,
      ...(port !== undefined && Number.isInteger(port) ? { port } : {}),
      ...(one('user') ? { user: one('user')! } : {}),
      ...(identity && identity.toLowerCase() !== 'none' ? { identityFile: expandTokens(identity, files.home, alias, hostName, one('user')) } : {}),
      proxyJump: jump && jump.toLowerCase() !== 'none' ? jump.split(',').map((s) => s.trim()).filter(Boolean) : [],
    };
    if (opts.has('proxycommand')) warnings.push(`${alias}: ProxyCommand is not supported; use ProxyJump`);
    return h;
  });
  return { hosts, skipped, warnings };
}

function blockMatches(patterns: readonly string[], alias: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (wildcardMatch(alias, p.slice(1))) return false;
    } else if (wildcardMatch(alias, p)) matched = true;
  }
  return matched;
}

function expandTokens(p: string, home: string, alias: string, hostName: string, user: string | undefined): string {
  const withTokens = p.replace(/%(.)/g, (m, c: string) => {
    if (c === 'd') return home;
    if (c === 'h') return hostName;
    if (c === 'n') return alias;
    if (c === 'r' && user) return user;
    if (c === '%') return '%';
    return m;
  });
  const expanded = expandHome(withTokens, home);
  return path.isAbsolute(expanded) ? expanded : path.join(home, '.ssh', expanded);
}

function expand(text: string, where: string, files: SshConfigFiles, depth: number, warnings: string[], seen: Set<string>): Line[] {
  const out: Line[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const words = tokenize(raw);
    if (words.length === 0) return;
    let keyword = words[0]!;
    let args = words.slice(1);
    // "Keyword=value" and "Keyword = value" are both allowed.
    const eq = keyword.indexOf('=');
    if (eq > 0) {
      args = [keyword.slice(eq + 1), ...args].filter((a) => a !== '');
      keyword = keyword.slice(0, eq);
    } else if (args[0] === '=') args = args.slice(1);
    else if (args[0]?.startsWith('=')) args[0] = args[0].slice(1);
    const kw = keyword.toLowerCase();
    const at = `${where}:${i + 1}`;
    if (kw !== 'include') return void out.push({ keyword: kw, args, where: at });
    if (depth >= MAX_INCLUDE_DEPTH) return void warnings.push(`${at}: Include nested too deeply; ignored`);
    for (const pattern of args) {
      for (const file of resolveInclude(pattern, files)) {
        if (seen.has(file)) {
          warnings.push(`${at}: Include of ${file} would loop; ignored`);
          continue;
        }
        const body = files.read(file);
        if (body === null) continue;
        out.push(...expand(body, file, files, depth + 1, warnings, new Set([...seen, file])));
      }
    }
  });
  return out;
}

function resolveInclude(pattern: string, files: SshConfigFiles): string[] {
  const expanded = expandHome(pattern, files.home);
  const full = path.isAbsolute(expanded) ? expanded : path.join(files.home, '.ssh', expanded);
  const dir = path.dirname(full);
  const base = path.basename(full);
  if (!/[*?]/.test(base)) return [full];
  return files
    .list(dir)
    .filter((n) => wildcardMatch(n, base))
    .sort()
    .map((n) => path.join(dir, n));
}

/** Words of one line: whitespace-separated, double quotes group, # starts a comment outside quotes. */
function tokenize(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inQuote = false;
  let has = false;
  for (const ch of line) {
    if (inQuote) {
      if (ch === '"') inQuote = false;
      else cur += ch;
    } else if (ch === '"') {
      inQuote = true;
      has = true;
    } else if (ch === '#' && !has && cur === '') {
      break;
    } else if (/\s/.test(ch)) {
      if (has || cur) words.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (has || cur) words.push(cur);
  return words;
}
