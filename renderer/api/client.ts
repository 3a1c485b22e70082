import type { TesseraApi } from '../../shared/contract/index.ts';
import { electronTransport } from './electron-transport.ts';
import { httpTransport } from './http-transport.ts';
import type { ElectronBridge } from './types.ts';

const TOKEN_KEY = 'tessera.token';

/** The headless host hands the token in the URL once; keep it for reloads and take it out of the address bar. */
function headlessToken(): string {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

function pick(): TesseraApi {
  const bridge = (window as unknown as { tessera?: ElectronBridge }).tessera;
  return bridge ? electronTransport(bridge) : httpTransport(headlessToken());
}

/** The only object in the renderer that talks to a host. Store actions use it; components never do. */
export const api: TesseraApi = pick();
