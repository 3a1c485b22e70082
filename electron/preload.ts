import { contextBridge, ipcRenderer } from 'electron';
import { methodNames, streamNames } from '../shared/contract/index.ts';

// Channel names are repeated from host/ipc.ts on purpose: the sandboxed preload must not pull in main-process code.
const CALL = 'tessera:call';
const SUB = 'tessera:sub';
const UNSUB = 'tessera:unsub';
const EVENT = 'tessera:event';

type Listener = { onEvent: (e: unknown) => void; onError?: (e: unknown) => void };
const listeners = new Map<string, Listener>();
let nextId = 0;

ipcRenderer.on(EVENT, (_e, id: string, event: unknown, error: unknown) => {
  const l = listeners.get(id);
  if (!l) return;
  if (error) l.onError?.(error);
  else l.onEvent(event);
});

/** One function per contract method and per stream, and nothing else: no raw ipcRenderer. */
const methods = Object.fromEntries(methodNames.map((m) => [m, (params: unknown) => ipcRenderer.invoke(CALL, m, params)]));
const streams = Object.fromEntries(
  streamNames.map((s) => [
    s,
    (params: unknown, onEvent: (e: unknown) => void, onError?: (e: unknown) => void) => {
      const id = `s${++nextId}`;
      listeners.set(id, { onEvent, onError });
      ipcRenderer.send(SUB, id, s, params);
      return () => {
        listeners.delete(id);
        ipcRenderer.send(UNSUB, id);
      };
    },
  ]),
);

contextBridge.exposeInMainWorld('tessera', { methods, streams });
