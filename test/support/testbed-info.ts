import net from 'node:net';
import type { TestbedInfo } from '../testbed/index.ts';

export type TesseraStateInfo = TestbedInfo;

/** A loopback port with nothing listening on it. */
export function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls fn until it returns something truthy (errors count as not yet) and returns that; throws with the last error at the deadline. */
export async function eventually<T>(what: string, fn: () => T | undefined | false | null | Promise<T | undefined | false | null>, timeoutMs = 30_000, everyMs = 200): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/**
 * Waits until a new namespace is usable the way a user meets it: its default
 * ServiceAccount exists (pods are refused before that) and every named quota
 * has been counted by the quota controller (before that, admission may let a
 * pod past a quota it has not seen yet).
 */
export async function namespaceSettled(client: { get<T>(path: string): Promise<T> }, ns: string, quotas: string[] = []): Promise<void> {
  await eventually(`${ns}/default ServiceAccount`, () => client.get(`/api/v1/namespaces/${ns}/serviceaccounts/default`).then(() => true), 60_000, 200);
  for (const q of quotas)
    await eventually(`quota ${ns}/${q} counted`, async () => Object.keys((await client.get<{ status?: { hard?: Record<string, string> } }>(`/api/v1/namespaces/${ns}/resourcequotas/${q}`)).status?.hard ?? {}).length > 0, 60_000, 200);
}
