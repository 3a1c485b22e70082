import { ipcMain, type IpcMainEvent, type IpcMainInvokeEvent, type WebFrameMain } from 'electron';
import type { Core } from '../core/core.ts';
import { Router } from './router.ts';

export const CHANNELS = { call: 'tessera:call', sub: 'tessera:sub', unsub: 'tessera:unsub', event: 'tessera:event' } as const;

/**
 * Binds the contract to Electron IPC. Only the app's own top-level frame may
 * call: a frame from any other origin (or a subframe) is refused.
 */
export function bindIpc(core: Pick<Core, 'methods' | 'streams'>, isTrusted: (frame: WebFrameMain | null) => boolean): () => void {
  const router = new Router(core);
  const subsByContents = new Map<number, Map<string, () => void>>();

  const refuse = { ok: false, error: { code: 'HOST_UNAUTHENTICATED', message: 'this frame may not use the Tessera API' } } as const;

  ipcMain.handle(CHANNELS.call, async (e: IpcMainInvokeEvent, method: unknown, params: unknown) => {
    if (!isTrusted(e.senderFrame)) return refuse;
    return router.call(method, params);
  });

  ipcMain.on(CHANNELS.sub, (e: IpcMainEvent, id: unknown, stream: unknown, params: unknown) => {
    if (typeof id !== 'string') return;
    if (!isTrusted(e.senderFrame)) return e.sender.send(CHANNELS.event, id, null, refuse.error);
    const contents = e.sender;
    let subs = subsByContents.get(contents.id);
    if (!subs) {
      const created = new Map<string, () => void>();
      subsByContents.set(contents.id, created);
      contents.once('destroyed', () => {
        for (const off of created.values()) off();
        subsByContents.delete(contents.id);
      });
      // A reload starts a new page that knows nothing of the old subscriptions.
      contents.on('did-start-navigation', (_ev, _url, _inPlace, isMainFrame) => {
        if (!isMainFrame) return;
        for (const off of created.values()) off();
        created.clear();
      });
      subs = created;
    }
    const r = router.subscribe(stream, params, (event) => {
      if (!contents.isDestroyed()) contents.send(CHANNELS.event, id, event, null);
    });
    if (r.ok) subs.set(id, r.unsubscribe);
    else contents.send(CHANNELS.event, id, null, r.error);
  });

  ipcMain.on(CHANNELS.unsub, (e: IpcMainEvent, id: unknown) => {
    const subs = subsByContents.get(e.sender.id);
    if (typeof id !== 'string' || !subs) return;
    subs.get(id)?.();
    subs.delete(id);
  });

  return () => {
    ipcMain.removeHandler(CHANNELS.call);
    ipcMain.removeAllListeners(CHANNELS.sub);
    ipcMain.removeAllListeners(CHANNELS.unsub);
    for (const subs of subsByContents.values()) for (const off of subs.values()) off();
  };
}
