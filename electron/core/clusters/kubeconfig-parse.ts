import path from 'node:path';
import yaml from 'js-yaml';
import { TesseraError } from '../../../shared/contract/errors.ts';

export interface KcCluster {
  server: string;
  caData?: string;
  caFile?: string;
  skipTLSVerify: boolean;
  proxyUrl?: string;
  tlsServerName?: string;
  /** `disable-compression: true`: never ask this server for gzip (kubectl 1.26+ reads the same field). */
  disableCompression?: boolean;
}

export interface KcExec {
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  apiVersion?: string;
  installHint?: string;
}

export interface KcUser {
  token?: string;
  tokenFile?: string;
  certData?: string;
  certFile?: string;
  keyData?: string;
  keyFile?: string;
  username?: string;
  password?: string;
  exec?: KcExec;
  authProvider?: { name: string; config: Record<string, string> };
}

export interface KcContext {
  cluster: string;
  user: string;
  namespace?: string;
}

/** One kubeconfig file, normalised, with file-relative paths made absolute (as kubectl does). */
export interface ParsedKubeconfig {
  file: string;
  clusters: Map<string, KcCluster>;
  users: Map<string, KcUser>;
  contexts: Map<string, KcContext>;
  currentContext?: string;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function invalid(file: string, message: string, where?: string): TesseraError {
  return new TesseraError('KUBECONFIG_INVALID', `${path.basename(file)}: ${message}`, { file, ...(where ? { where } : {}) });
}

function namedList(doc: Obj, key: string, inner: string, file: string): [string, Obj][] {
  const raw = doc[key];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalid(file, `"${key}" must be a list`, key);
  return raw.map((item, i) => {
    if (!isObj(item)) throw invalid(file, `${key}[${i}] must be a mapping`, `${key}[${i}]`);
    const name = str(item.name);
    if (!name) throw invalid(file, `${key}[${i}] has no name`, `${key}[${i}]`);
    const body = item[inner] ?? {};
    if (!isObj(body)) throw invalid(file, `${key}[${i}] (${name}): "${inner}" must be a mapping`, `${key}[${i}]`);
    return [name, body] as [string, Obj];
  });
}

function resolvePath(file: string, p: string | undefined): string | undefined {
  if (!p) return undefined;
  if (p.startsWith('~/')) return path.join(process.env.HOME ?? '', p.slice(2));
  return path.isAbsolute(p) ? p : path.resolve(path.dirname(file), p);
}

function readCluster(name: string, c: Obj, file: string): KcCluster {
  const server = str(c.server);
  if (!server) throw invalid(file, `cluster "${name}" has no server`, `clusters.${name}`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw invalid(file, `cluster "${name}" has an invalid server URL "${server}"`, `clusters.${name}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw invalid(file, `cluster "${name}" server must be http(s), got "${url.protocol}"`, `clusters.${name}`);
  return {
    server,
    caData: str(c['certificate-authority-data']),
    caFile: resolvePath(file, str(c['certificate-authority'])),
    skipTLSVerify: c['insecure-skip-tls-verify'] === true,
    proxyUrl: str(c['proxy-url']),
    tlsServerName: str(c['tls-server-name']),
    ...(c['disable-compression'] === true ? { disableCompression: true } : {}),
  };
}

function readExec(name: string, e: Obj, file: string): KcExec {
  const command = str(e.command);
  if (!command) throw invalid(file, `user "${name}" has an exec section without a command`, `users.${name}.exec`);
  const args = Array.isArray(e.args) ? e.args.map(String) : [];
  const env = Array.isArray(e.env)
    ? e.env.filter(isObj).map((v) => ({ name: String(v.name ?? ''), value: String(v.value ?? '') }))
    : [];
  // kubectl resolves a command with a path separator relative to the kubeconfig's folder.
  const resolved = command.includes('/') ? (resolvePath(file, command) ?? command) : command;
  return { command: resolved, args, env, apiVersion: str(e.apiVersion), installHint: str(e.installHint) };
}

function readUser(name: string, u: Obj, file: string): KcUser {
  const user: KcUser = {
    token: str(u.token),
    tokenFile: resolvePath(file, str(u.tokenFile)),
    certData: str(u['client-certificate-data']),
    certFile: resolvePath(file, str(u['client-certificate'])),
    keyData: str(u['client-key-data']),
    keyFile: resolvePath(file, str(u['client-key'])),
    username: str(u.username),
    password: str(u.password),
  };
  if (isObj(u.exec)) user.exec = readExec(name, u.exec, file);
  if (isObj(u['auth-provider'])) {
    const ap = u['auth-provider'];
    const config = isObj(ap.config) ? Object.fromEntries(Object.entries(ap.config).map(([k, v]) => [k, String(v)])) : {};
    user.authProvider = { name: String(ap.name ?? ''), config };
  }
  return user;
}

export function parseKubeconfig(text: string, file: string): ParsedKubeconfig {
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: file });
  } catch (err) {
    const e = err as { reason?: string; mark?: { line: number; column: number }; message?: string };
    const line = e.mark ? e.mark.line + 1 : undefined;
    const where = line ? ` at line ${line}, column ${(e.mark?.column ?? 0) + 1}` : '';
    throw new TesseraError('KUBECONFIG_PARSE', `${path.basename(file)} is not valid YAML${where}: ${e.reason ?? e.message}`, {
      file,
      ...(line ? { line } : {}),
    });
  }
  if (doc === undefined || doc === null) throw invalid(file, 'the file is empty');
  if (!isObj(doc)) throw invalid(file, 'a kubeconfig must be a YAML mapping');
  if (doc.kind !== undefined && doc.kind !== 'Config') throw invalid(file, `kind is "${String(doc.kind)}", expected "Config"`);

  const parsed: ParsedKubeconfig = {
    file,
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
    currentContext: str(doc['current-context']),
  };
  for (const [name, body] of namedList(doc, 'clusters', 'cluster', file)) parsed.clusters.set(name, readCluster(name, body, file));
  for (const [name, body] of namedList(doc, 'users', 'user', file)) parsed.users.set(name, readUser(name, body, file));
  for (const [name, body] of namedList(doc, 'contexts', 'context', file)) {
    const cluster = str(body.cluster);
    if (!cluster) throw invalid(file, `context "${name}" names no cluster`, `contexts.${name}`);
    parsed.contexts.set(name, { cluster, user: str(body.user) ?? '', namespace: str(body.namespace) });
  }
  return parsed;
}

/** kubectl's merge: the first file to define a name wins, and the first current-context wins. */
export function mergeKubeconfigs(files: ParsedKubeconfig[]): ParsedKubeconfig {
  const merged: ParsedKubeconfig = {
    file: files.map((f) => f.file).join(path.delimiter),
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
  };
  for (const f of files) {
    for (const [k, v] of f.clusters) if (!merged.clusters.has(k)) merged.clusters.set(k, v);
    for (const [k, v] of f.users) if (!merged.users.has(k)) merged.users.set(k, v);
    for (const [k, v] of f.contexts) if (!merged.contexts.has(k)) merged.contexts.set(k, v);
    merged.currentContext ??= f.currentContext;
  }
  return merged;
}
