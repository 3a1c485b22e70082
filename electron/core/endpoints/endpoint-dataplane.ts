// Talking to an endpoint's data plane: readiness probes, one request in a
// protocol, and a bounded load test. Requests go only to the InferenceService's
// own status.url or one of its traffic URLs (chosen here from the object, never
// taken from the renderer). Routes: shared/reference/kserve.md §4.
import { performance } from 'node:perf_hooks';
import { Agent, request, type Dispatcher } from 'undici';
import { TesseraError } from '../../../shared/contract/errors.ts';
import type { LoadTestProgress, LoadTestResult, ProbeResult, TestProtocol, TestResult } from '../../../shared/model/endpoints.ts';
import { sampleBody } from '../../../shared/model/endpoints.ts';
import type { KubeObject } from './endpoint-objects.ts';
import { errorKind, summarizeLoad, type Sample } from './load-stats.ts';

/** The header Tessera's test bed names the serving revision in. Knative itself sends none, so real runs count "unknown". */
export const REVISION_HEADER = 'x-tessera-revision';
const INTERESTING = [REVISION_HEADER, 'content-type', 'content-length', 'server', 'x-request-id', 'x-envoy-upstream-service-time', 'date'];
const BODY_CAP = 64 * 1024;

export const LOAD_LIMITS = { requests: 10_000, concurrency: 64 } as const;

export interface Target {
  baseUrl: string;
  /** What was addressed: "the endpoint URL" or "revision x (tag prev)". */
  label: string;
}

function checkUrl(u: string, what: string): string {
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    throw new TesseraError('CONFLICT', `${what} "${u}" is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TesseraError('CONFLICT', `${what} "${u}" is not http(s)`);
  return u.replace(/\/+$/, '');
}

/** The URL to send to: the endpoint's status.url, or a traffic target's own URL by tag or revision name. */
export function resolveTarget(obj: KubeObject, target?: string): Target {
  const name = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
  if (!target) {
    const url = obj.status?.url;
    if (typeof url !== 'string' || !url) throw new TesseraError('CONFLICT', `endpoint ${name} has no URL yet (status.url is empty): it is not ready to take requests`);
    return { baseUrl: checkUrl(url, `status.url of ${name}`), label: 'the endpoint URL' };
  }
  const traffic: KubeObject[] = obj.status?.components?.predictor?.traffic ?? [];
  const t = traffic.find((x) => x.tag === target) ?? traffic.find((x) => x.revisionName === target);
  if (!t) throw new TesseraError('NOT_FOUND', `endpoint ${name} has no traffic target "${target}" (targets: ${traffic.map((x) => x.tag ?? x.revisionName).join(', ') || 'none'})`);
  if (typeof t.url !== 'string' || !t.url) throw new TesseraError('CONFLICT', `revision ${t.revisionName ?? target} of ${name} has no URL of its own; KServe gives traffic targets URLs with the annotation serving.kserve.io/enable-tag-routing: "true"`);
  return { baseUrl: checkUrl(t.url, `the URL of ${target}`), label: `revision ${t.revisionName ?? target}${t.tag ? ` (tag ${t.tag})` : ''}` };
}

/** Path and default body of a protocol's request; the model name is the InferenceService's name. */
export function requestFor(protocol: TestProtocol, model: string, openaiPrefix: string | undefined, body?: string): { path: string; body: string } {
  const m = encodeURIComponent(model);
  const prefix = openaiPrefix ?? '/openai/v1';
  const path = protocol === 'v1' ? `/v1/models/${m}:predict` : protocol === 'v2' ? `/v2/models/${m}/infer` : protocol === 'openai-completions' ? `${prefix}/completions` : `${prefix}/chat/completions`;
  const text = body ?? sampleBody(protocol, model);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new TesseraError('INVALID_REQUEST', `the request body is not JSON: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TesseraError('INVALID_REQUEST', 'the request body must be a JSON object');
  return { path, body: text };
}

/** The readiness probes each protocol has. */
export function probesFor(protocols: TestProtocol[], model: string, openaiPrefix: string | undefined): { name: string; path: string }[] {
  const m = encodeURIComponent(model);
  const out: { name: string; path: string }[] = [];
  if (protocols.includes('v1')) out.push({ name: 'v1 model ready', path: `/v1/models/${m}` });
  if (protocols.includes('v2')) out.push({ name: 'v2 server ready', path: '/v2/health/ready' }, { name: 'v2 model ready', path: `/v2/models/${m}/ready` });
  if (protocols.some((p) => p.startsWith('openai'))) out.push({ name: 'OpenAI models', path: `${openaiPrefix ?? '/openai/v1'}/models` });
  return out;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  truncated: boolean;
  latencyMs: number;
}

async function send(dispatcher: Dispatcher, method: 'GET' | 'POST', url: string, body: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<Answer> {
  const t0 = performance.now();
  const timeout = AbortSignal.timeout(timeoutMs);
  const res = await request(url, {
    method,
    dispatcher,
    headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body } : {}),
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  });
  let text = '';
  let truncated = false;
  for await (const chunk of res.body) {
    if (text.length < BODY_CAP) text += chunk.toString('utf8');
    else truncated = true;
  }
  if (text.length > BODY_CAP) {
    text = text.slice(0, BODY_CAP);
    truncated = true;
  }
  const latencyMs = performance.now() - t0;
  const headers: Record<string, string> = {};
  for (const h of INTERESTING) {
    const v = res.headers[h];
    if (v !== undefined) headers[h] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return { status: res.statusCode, headers, body: text, truncated, latencyMs };
}

function transportError(err: unknown, url: string): TesseraError {
  const kind = errorKind(err);
  return new TesseraError(kind === 'timeout' ? 'TIMEOUT' : 'UNREACHABLE', `${url}: ${kind}${err instanceof Error && err.message && !kind.includes(err.message) ? ` (${err.message})` : ''}`);
}

export async function probe(target: Target, probes: { name: string; path: string }[], timeoutMs = 5000): Promise<ProbeResult[]> {
  const agent = new Agent({ connections: 4 });
  try {
    return await Promise.all(
      probes.map(async (p): Promise<ProbeResult> => {
        try {
          const a = await send(agent, 'GET', target.baseUrl + p.path, undefined, timeoutMs);
          return { name: p.name, method: 'GET', path: p.path, ok: a.status >= 200 && a.status < 300, status: a.status, latencyMs: Math.round(a.latencyMs * 100) / 100, body: a.body.slice(0, 4096) };
        } catch (err) {
          return { name: p.name, method: 'GET', path: p.path, ok: false, error: errorKind(err) };
        }
      }),
    );
  } finally {
    await agent.close();
  }
}

export async function testOnce(target: Target, protocol: TestProtocol, path: string, body: string, timeoutMs = 30_000): Promise<TestResult> {
  const agent = new Agent({ connections: 1 });
  const url = target.baseUrl + path;
  try {
    const a = await send(agent, 'POST', url, body, timeoutMs);
    return {
      protocol,
      method: 'POST',
      url,
      status: a.status,
      ok: a.status >= 200 && a.status < 300,
      latencyMs: Math.round(a.latencyMs * 100) / 100,
      ...(a.headers[REVISION_HEADER] ? { revision: a.headers[REVISION_HEADER] } : {}),
      headers: a.headers,
      body: a.body,
      truncated: a.truncated,
    };
  } catch (err) {
    throw transportError(err, url);
  } finally {
    await agent.close();
  }
}

export interface LoadOptions {
  target: Target;
  protocol: TestProtocol;
  path: string;
  body: string;
  requests: number;
  concurrency: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (p: LoadTestProgress) => void;
  progressEveryMs?: number;
}

/**
 * N requests with at most C in flight over one connection pool. Stops early
 * (with what it has) when the signal aborts. Bounded: N ≤ 10000, C ≤ 64.
 */
export async function loadTest(o: LoadOptions): Promise<LoadTestResult> {
  if (!Number.isInteger(o.requests) || o.requests < 1 || o.requests > LOAD_LIMITS.requests) throw new TesseraError('INVALID_REQUEST', `requests must be 1-${LOAD_LIMITS.requests}`);
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1 || o.concurrency > LOAD_LIMITS.concurrency) throw new TesseraError('INVALID_REQUEST', `concurrency must be 1-${LOAD_LIMITS.concurrency}`);
  const concurrency = Math.min(o.concurrency, o.requests);
  const agent = new Agent({ connections: concurrency, pipelining: 1 });
  const url = o.target.baseUrl + o.path;
  const samples: Sample[] = [];
  let next = 0;
  let errors = 0;
  let lastProgress = 0;
  const t0 = performance.now();
  const progress = (force = false) => {
    const now = performance.now();
    if (!o.onProgress || (!force && now - lastProgress < (o.progressEveryMs ?? 250))) return;
    lastProgress = now;
    o.onProgress({ done: samples.length, total: o.requests, errors });
  };
  const worker = async () => {
    while (next < o.requests && !o.signal?.aborted) {
      next++;
      const s0 = performance.now();
      try {
        const a = await send(agent, 'POST', url, o.body, o.timeoutMs ?? 30_000, o.signal);
        const ok = a.status >= 200 && a.status < 300;
        if (!ok) errors++;
        samples.push({ latencyMs: a.latencyMs, status: a.status, ...(ok ? {} : { error: `HTTP ${a.status}` }), ...(a.headers[REVISION_HEADER] ? { revision: a.headers[REVISION_HEADER] } : {}) });
      } catch (err) {
        if (o.signal?.aborted) break;
        errors++;
        samples.push({ latencyMs: performance.now() - s0, error: errorKind(err) });
      }
      progress();
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await agent.close().catch(() => undefined);
  }
  progress(true);
  return summarizeLoad(o.protocol, o.requests, o.concurrency, samples, performance.now() - t0);
}
