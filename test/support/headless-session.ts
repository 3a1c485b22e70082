// A core behind the real headless host, called the way the renderer and scripts call it:
// JSON over HTTP with the token. For tests that must go through the contract end to end.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCore, type Core } from '../../electron/core/core.ts';
import { startHeadless, type HeadlessServer } from '../../electron/host/http.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CallError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export type CallReply<T = unknown> = { ok: true; result: T } | { ok: false; error: CallError };

export interface HeadlessSession {
  core: Core;
  server: HeadlessServer;
  dataDir: string;
  call<T = unknown>(method: string, params: unknown): Promise<CallReply<T>>;
  /** Like call, but throws on an error reply. */
  must<T = unknown>(method: string, params: unknown): Promise<T>;
  close(): Promise<void>;
}

export async function headlessSession(kubeconfigFiles: string[], name = 'session'): Promise<HeadlessSession> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `tessera-${name}-`));
  const core = await createCore({ host: 'headless', version: name, dataDir, kubeconfigFiles });
  const server = await startHeadless({ core, staticDir: path.join(root, 'dist/renderer') });
  const call = async <T>(method: string, params: unknown): Promise<CallReply<T>> => {
    const res = await fetch(`${server.origin}/api/call`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Tessera-Token': server.token },
      body: JSON.stringify({ method, params }),
    });
    return (await res.json()) as CallReply<T>;
  };
  return {
    core,
    server,
    dataDir,
    call,
    async must<T>(method: string, params: unknown): Promise<T> {
      const r = await call<T>(method, params);
      if (!r.ok) throw new Error(`${method} failed: ${r.error.code}: ${r.error.message}`);
      return r.result;
    },
    async close() {
      await server.close();
      await core.dispose();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
