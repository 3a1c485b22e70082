import type { TesseraApi } from '../../shared/contract/index.ts';

/** What the Electron preload exposes on window.tessera: one function per method and per stream. */
export interface ElectronBridge {
  methods: Record<string, (params: unknown) => Promise<{ ok: boolean; result?: unknown; error?: unknown }>>;
  streams: Record<string, (params: unknown, onEvent: (e: unknown) => void, onError?: (e: unknown) => void) => () => void>;
}

export type { TesseraApi };
