// npm 11 blocks dependency install scripts unless allowed, and Electron's own
// script downloads its binary from the internet. Run it ourselves and tolerate
// failure: where the download is impossible (an air-gapped or CI machine) the
// console still runs through the headless host.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let installJs;
try {
  installJs = require.resolve('electron/install.js');
} catch {
  process.exit(0);
}
if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) {
  console.log('tessera: ELECTRON_SKIP_BINARY_DOWNLOAD is set; the console will run through the headless host.');
  process.exit(0);
}
const r = spawnSync(process.execPath, [installJs], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
let hasBinary = false;
try {
  hasBinary = existsSync(require('electron'));
} catch {
  hasBinary = false;
}
if (r.status === 0 && hasBinary) console.log('tessera: Electron binary installed.');
else console.log('tessera: Electron binary could not be downloaded; `npm start` and `npm run demo` will serve the console through the headless host instead.');
