import { streams, TesseraError, type TesseraApi } from '../../shared/contract/index.ts';
import type { ErrorShape } from '../../shared/contract/errors.ts';

const isOnce = (stream: string) => (streams as Record<string, { once?: true }>)[stream]?.once === true;

type Sub = { stream: string; params: unknown; onEvent: (e: unknown) => void; onError?: (e: ErrorShape) => void };

/**
 * The headless host's transport: POST per call, one WebSocket for all
 * streams. The socket reconnects with backoff and re-subscribes, so a host
 * restart or a dropped connection heals without a page reload; streams that
 * do something (contract `once`) end with an error instead.
 */
export function httpTransport(token: string, base = window.location.origin): TesseraApi {
  const subs = new Map<string, Sub>();
  let ws: WebSocket | null = null;
  let open = false;
  let retry = 0;
  let nextId = 0;

  const send = (msg: unknown) => {
    if (ws && open) ws.send(JSON.stringify(msg));
  };

  const connect = () => {
    const url = `${base.replace(/^http/, 'ws')}/api/stream?token=${encodeURIComponent(token)}`;
    ws = new WebSocket(url);
    ws.onopen = () => {
      open = true;
      retry = 0;
      for (const [id, s] of subs) send({ op: 'sub', id, stream: s.stream, params: s.params });
    };
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as { id?: string; event?: unknown; error?: ErrorShape };
      const s = msg.id ? subs.get(msg.id) : undefined;
      if (!s) return;
      if (msg.error) s.onError?.(msg.error);
      else s.onEvent(msg.event);
    };
    ws.onclose = () => {
      open = false;
      ws = null;
      for (const [id, s] of subs) {
        if (isOnce(s.stream)) {
          // It may have done its work already on the host: running it again is never this transport's call.
          subs.delete(id);
          s.onError?.({ code: 'UNREACHABLE', message: 'lost the connection to the Tessera host while this ran; it is not started again (what it already did stays done)' });
        } else s.onError?.({ code: 'UNREACHABLE', message: 'lost the connection to the Tessera host; reconnecting' });
      }
      setTimeout(connect, Math.min(10_000, 500 * 2 ** retry++));
    };
  };
  connect();

  return {
    async call(method, params) {
      let res: Response;
      try {
        res = await fetch(`${base}/api/call`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Tessera-Token': token },
          body: JSON.stringify({ method, params }),
        });
      } catch {
        throw new TesseraError('UNREACHABLE', 'cannot reach the Tessera host');
      }
      const body = (await res.json()) as { ok: boolean; result?: unknown; error?: ErrorShape };
      if (!body.ok) throw new TesseraError(body.error?.code ?? 'INTERNAL', body.error?.message ?? `host answered ${res.status}`, body.error?.details);
      return body.result as never;
    },
    subscribe(stream, params, onEvent, onError) {
      const id = `s${++nextId}`;
      subs.set(id, { stream, params, onEvent: onEvent as (e: unknown) => void, onError });
      send({ op: 'sub', id, stream, params });
      return () => {
        subs.delete(id);
        send({ op: 'unsub', id });
      };
    },
  };
}
