// What the simulated containers "wrote", and the kubelet's
// GET /containerLogs/{namespace}/{pod}/{container} that serves it. The API
// server answers pods/log by calling exactly this on the node's kubelet
// (passing follow, previous, timestamps, sinceSeconds, sinceTime, tailLines,
// limitBytes) and relays the kubelet's status and body, so a 404 here is the
// 404 the client sees.
//
// Two sources of lines:
// - a log file under <state>/pod-logs/ that another simulator appends to
//   (the KServe simulator writes its model servers' start-up and every request
//   the data plane served); `<file>.previous` is the container's previous
//   instance (a crash-looping model server);
// - otherwise lines made up from the pod's start time: a start-up banner and a
//   heartbeat every HEARTBEAT_S seconds, the same on every call, so `follow`
//   and `sinceSeconds` behave as they would on a real container.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { Pod } from './pod-informer.ts';

export const HEARTBEAT_S = 30;
/** How often a follower looks for new lines. */
const FOLLOW_POLL_MS = 250;

export const podLogDir = (stateDir: string) => path.join(stateDir, 'pod-logs');
/** As the kubelet keeps them (/var/log/pods/<ns>_<pod>_<uid>/<container>/): a pod made again with the same name starts a new log. */
export const podLogFile = (stateDir: string, namespace: string, pod: string, uid: string, container: string) => path.join(podLogDir(stateDir), `${namespace}_${pod}_${uid}`, `${container}.log`);

/** One stored line: RFC 3339 time with nanoseconds, a space, the text (as the CRI log format keeps them). */
export interface LogLine {
  time: Date;
  text: string;
}

const rfc3339Nano = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');

/** Appends lines to a container's log file (what the KServe simulator calls). */
export function appendPodLog(stateDir: string, namespace: string, pod: string, uid: string, container: string, lines: string[], at = new Date()): void {
  if (lines.length === 0) return;
  const file = podLogFile(stateDir, namespace, pod, uid, container);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, lines.map((l) => `${rfc3339Nano(at)} ${l.replace(/\n/g, ' ')}\n`).join(''));
}

/** Moves the current log to `.previous` (the container restarted) and starts an empty one. */
export function rotatePodLog(stateDir: string, namespace: string, pod: string, uid: string, container: string): void {
  const file = podLogFile(stateDir, namespace, pod, uid, container);
  if (fs.existsSync(file)) fs.renameSync(file, `${file}.previous`);
}

export function parseLogFile(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    const sp = raw.indexOf(' ');
    const time = new Date(sp > 0 ? raw.slice(0, sp) : NaN);
    if (Number.isNaN(time.getTime())) continue;
    out.push({ time, text: raw.slice(sp + 1) });
  }
  return out;
}

/** Lines made up for a container nobody writes a log file for. */
export function syntheticLines(pod: Pod, container: string, now: Date): LogLine[] {
  const start = new Date(pod.status?.startTime ?? now.toISOString());
  const image = pod.spec.containers.find((c) => c.name === container)?.image ?? 'unknown';
  const gpus = pod.spec.containers.find((c) => c.name === container)?.resources?.limits?.['nvidia.com/gpu'];
  const at = (s: number) => new Date(start.getTime() + s * 1000);
  const lines: LogLine[] = [
    { time: start, text: `starting ${container} (image ${image}) in pod ${pod.metadata.namespace}/${pod.metadata.name}` },
    { time: at(1), text: gpus ? `found ${gpus} CUDA device(s); CUDA_VISIBLE_DEVICES set by the device plugin` : 'no GPU requested; running on CPU' },
    { time: at(2), text: 'ready' },
  ];
  const elapsed = Math.floor((now.getTime() - start.getTime()) / 1000);
  // The last ~2,000 heartbeats at most: a long-running pod does not build a huge array.
  for (let s = Math.max(HEARTBEAT_S, elapsed - elapsed % HEARTBEAT_S - 2000 * HEARTBEAT_S); s <= elapsed; s += HEARTBEAT_S) {
    lines.push({ time: at(s), text: `heartbeat: up ${s}s, ${Math.round(1000 + (s / HEARTBEAT_S) * 7) % 4096} MiB resident` });
  }
  return lines;
}

export interface LogQuery {
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  sinceSeconds?: number;
  sinceTime?: Date;
  tailLines?: number;
  limitBytes?: number;
}

/** Reads the kubelet's query string; a bad value is an error text (the kubelet answers 400). */
export function parseLogQuery(q: URLSearchParams): LogQuery | string {
  const bool = (k: string) => q.get(k) === 'true' || q.get(k) === '1';
  const int = (k: string, min: number): number | undefined | string => {
    const v = q.get(k);
    if (v === null || v === '') return undefined;
    const n = Number(v);
    return Number.isInteger(n) && n >= min ? n : `${k}: must be an integer >= ${min}, got ${JSON.stringify(v)}`;
  };
  const since = int('sinceSeconds', 1);
  const tail = int('tailLines', 0);
  const limit = int('limitBytes', 1);
  for (const v of [since, tail, limit]) if (typeof v === 'string') return v;
  const st = q.get('sinceTime');
  const sinceTime = st ? new Date(st) : undefined;
  if (sinceTime && Number.isNaN(sinceTime.getTime())) return `sinceTime: not an RFC 3339 time: ${JSON.stringify(st)}`;
  if (since !== undefined && sinceTime) return 'at most one of sinceTime or sinceSeconds may be specified';
  return {
    follow: bool('follow'),
    previous: bool('previous'),
    timestamps: bool('timestamps'),
    sinceSeconds: since as number | undefined,
    sinceTime,
    tailLines: tail as number | undefined,
    limitBytes: limit as number | undefined,
  };
}

/** Applies since/tail to the lines, in the kubelet's order (since first, then the tail of what is left). */
export function selectLines(lines: LogLine[], q: LogQuery, now: Date): LogLine[] {
  const from = q.sinceTime ?? (q.sinceSeconds !== undefined ? new Date(now.getTime() - q.sinceSeconds * 1000) : undefined);
  let out = from ? lines.filter((l) => l.time >= from) : lines;
  if (q.tailLines !== undefined) out = q.tailLines === 0 ? [] : out.slice(-q.tailLines);
  return out;
}

export const formatLine = (l: LogLine, timestamps: boolean) => `${timestamps ? `${rfc3339Nano(l.time)} ` : ''}${l.text}\n`;

/**
 * Serves one containerLogs request. `pod` looks a pod up by namespace/name
 * (undefined: the kubelet does not run it).
 */
export function serveContainerLogs(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  stateDir: string,
  pod: (namespace: string, name: string) => Pod | undefined,
): void {
  const url = new URL(req.url ?? '/', 'https://kubelet');
  const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
  const fail = (status: number, message: string) => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(message);
  };
  if (!m) return fail(404, 'not found');
  if (req.method !== 'GET') return fail(405, 'method not allowed');
  const [namespace, name, container] = [m[1]!, m[2]!, m[3]!].map(decodeURIComponent) as [string, string, string];
  const q = parseLogQuery(url.searchParams);
  if (typeof q === 'string') return fail(400, q);
  const p = pod(namespace, name);
  // The kubelet's own wording (pkg/kubelet/server/server.go getContainerLogs).
  if (!p) return fail(404, `pod "${name}/${namespace}" does not exist`);
  if (![...p.spec.containers, ...(p.spec.initContainers ?? [])].some((c) => c.name === container)) return fail(404, `container "${container}" not found in pod "${name}/${namespace}"`);
  if (p.status?.phase === 'Pending' || !p.status?.startTime) return fail(400, `container "${container}" in pod "${name}" is waiting to start: ContainerCreating`);
  const file = podLogFile(stateDir, namespace, name, p.metadata.uid, container);
  if (q.previous) {
    if (!fs.existsSync(`${file}.previous`)) return fail(400, `previous terminated container "${container}" in pod "${name}" not found`);
  }
  /** The lines now, and whether they come from a file (appended to) or are made up (one per distinct time). */
  const read = (): { lines: LogLine[]; fromFile: boolean } => {
    const f = q.previous ? `${file}.previous` : file;
    try {
      return { lines: parseLogFile(fs.readFileSync(f, 'utf8')), fromFile: true };
    } catch {
      return { lines: q.previous ? [] : syntheticLines(p, container, new Date()), fromFile: false };
    }
  };
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', ...(q.follow ? { 'Transfer-Encoding': 'chunked' } : {}) });
  let budget = q.limitBytes ?? Infinity;
  /** Writes lines within limitBytes; false once the limit is reached (the stream ends). */
  const write = (lines: LogLine[]): boolean => {
    for (const l of lines) {
      const buf = Buffer.from(formatLine(l, q.timestamps));
      if (buf.length >= budget) {
        res.write(buf.subarray(0, budget));
        budget = 0;
        return false;
      }
      budget -= buf.length;
      res.write(buf);
    }
    return true;
  };
  const start = read();
  const first = selectLines(start.lines, q, new Date());
  if (!write(first) || !q.follow || q.previous) {
    res.end();
    return;
  }
  // Follow: new lines as they are written, until the client leaves or the pod goes. A file only
  // grows (so what is past the count already seen is new; a shorter file is a restarted
  // container, all new); made-up lines are new when they are later than the last one sent.
  let seen = start.lines.length;
  let last = start.lines.length ? start.lines[start.lines.length - 1]!.time.getTime() : Date.now();
  const timer = setInterval(() => {
    const still = pod(namespace, name);
    if (!still || still.metadata.uid !== p.metadata.uid) {
      clearInterval(timer);
      res.end();
      return;
    }
    const now = read();
    let fresh: LogLine[];
    if (now.fromFile) {
      fresh = now.lines.length >= seen ? now.lines.slice(seen) : now.lines;
      seen = now.lines.length;
    } else {
      fresh = now.lines.filter((l) => l.time.getTime() > last);
      seen = 0;
    }
    if (fresh.length === 0) return;
    last = fresh[fresh.length - 1]!.time.getTime();
    if (!write(fresh)) {
      clearInterval(timer);
      res.end();
    }
  }, FOLLOW_POLL_MS);
  res.on('close', () => clearInterval(timer));
}
