import { app, BrowserWindow, protocol, shell, type WebFrameMain } from 'electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCore } from './core/core.ts';
import { contentSecurityPolicy } from './host/csp.ts';
import { bindIpc } from './host/ipc.ts';
import { readStatic } from './host/static-files.ts';
import { safeStorageSecrets } from './safe-storage-secrets.ts';
import { APP_ORIGIN, createMainWindow, denyAllPermissions, lockDown, preloadPath } from './window.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const rendererDir = path.join(here, '..', 'renderer');

protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function isAppFrame(frame: WebFrameMain | null): boolean {
  return !!frame && frame.parent === null && frame.url.startsWith(`${APP_ORIGIN}/`);
}

app.on('web-contents-created', (_e, contents) => lockDown(contents));

void app.whenReady().then(async () => {
  denyAllPermissions();
  protocol.handle('app', async (req) => {
    const url = new URL(req.url);
    if (url.host !== 'tessera') return new Response('not found', { status: 404 });
    const file = await readStatic(rendererDir, url.pathname);
    if (!file) return new Response('not found', { status: 404 });
    return new Response(new Uint8Array(file.body), {
      headers: { 'Content-Type': file.type, 'Content-Security-Policy': contentSecurityPolicy(), 'X-Content-Type-Options': 'nosniff' },
    });
  });
  const kubeconfig = argValue('--kubeconfig');
  const core = await createCore({
    host: 'electron',
    version: app.getVersion(),
    dataDir: app.getPath('userData'),
    secretStore: safeStorageSecrets(path.join(app.getPath('userData'), 'secrets')),
    kubeconfigFiles: kubeconfig ? [kubeconfig] : undefined,
    // IDE forwards open in the user's browser (only core's own loopback URLs reach this); the idle policy runs while the console does.
    workstations: { openExternal: (url) => shell.openExternal(url), idle: {} },
  });
  bindIpc(core, isAppFrame);
  createMainWindow(preloadPath(here));
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createMainWindow(preloadPath(here));
  });
  let disposed = false;
  app.on('before-quit', (event) => {
    if (disposed) return;
    // Quit once the audit trail has what was still being written (the close of open terminals among it).
    event.preventDefault();
    disposed = true;
    void core.dispose().finally(() => app.quit());
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
