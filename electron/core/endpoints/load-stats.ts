// The arithmetic of a load test: latency percentiles (nearest rank, as most
// load tools report them), errors by kind, and responses per revision. Pure.
import type { LoadTestResult, TestProtocol } from '../../../shared/model/endpoints.ts';

/** Nearest-rank percentile of ascending-sorted values: the smallest value with at least p% of values ≤ it. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  if (p <= 0) return sorted[0]!;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

/** One request's outcome as the load test keeps it. */
export interface Sample {
  latencyMs: number;
  /** HTTP status when a response came back. */
  status?: number;
  /** Why no (good) response: "HTTP 503", "timeout", "connection refused"... */
  error?: string;
  revision?: string;
}

const round = (v: number) => Math.round(v * 100) / 100;

/**
 * The summary of a run. Latency percentiles are over successful responses only:
 * a fast 503 or a refused connection would otherwise make a failing endpoint
 * look quick. Errors are counted by kind instead.
 */
export function summarizeLoad(protocol: TestProtocol, requests: number, concurrency: number, samples: readonly Sample[], durationMs: number): LoadTestResult {
  const good = samples.filter((s) => !s.error);
  const lat = good.map((s) => s.latencyMs).sort((a, b) => a - b);
  const errors = new Map<string, number>();
  for (const s of samples) if (s.error) errors.set(s.error, (errors.get(s.error) ?? 0) + 1);
  const perRev = new Map<string, number>();
  for (const s of good) perRev.set(s.revision ?? 'unknown', (perRev.get(s.revision ?? 'unknown') ?? 0) + 1);
  return {
    protocol,
    requests,
    concurrency,
    completed: samples.length,
    succeeded: good.length,
    errors: [...errors].map(([kind, count]) => ({ kind, count })).sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind)),
    latencyMs: {
      min: round(lat[0] ?? 0),
      mean: round(lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : 0),
      p50: round(percentile(lat, 50)),
      p95: round(percentile(lat, 95)),
      p99: round(percentile(lat, 99)),
      max: round(lat[lat.length - 1] ?? 0),
    },
    perRevision: [...perRev]
      .map(([revision, count]) => ({ revision, count, percent: good.length ? round((count / good.length) * 100) : 0 }))
      .sort((a, b) => b.count - a.count || a.revision.localeCompare(b.revision)),
    durationMs: Math.round(durationMs),
    requestsPerSecond: durationMs > 0 ? round((samples.length / durationMs) * 1000) : 0,
  };
}

/** A transport error in a few words, by its Node error code. */
export function errorKind(err: unknown): string {
  const code = (err as { code?: string; name?: string })?.code ?? (err as { name?: string })?.name;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'TimeoutError':
    case 'AbortError':
      return 'timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    default:
      return code ? `error ${code}` : 'error';
  }
}
