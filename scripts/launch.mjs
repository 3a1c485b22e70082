// `npm start` (the user's kubeconfig) and `npm run demo` (a test-bed fleet).
// Runs the Electron app when its binary is installed; otherwise says so in
// one line and serves the same console through the headless host.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2];
const passthrough = process.argv.slice(3);
const node = process.execPath;

function electronBinary() {
  try {
    const p = createRequire(import.meta.url)('electron');
    return typeof p === 'string' && fs.existsSync(p) ? p : null;
  } catch {
    return null;
  }
}

if (!fs.existsSync(path.join(root, 'dist/cli/tessera.js')) || !fs.existsSync(path.join(root, 'dist/renderer/index.html'))) {
  spawnSync(node, ['scripts/build.mjs', '--quiet'], { cwd: root, stdio: 'inherit' });
}

let kubeconfigArgs = [];
let stopTestbed = () => {};
if (mode === 'demo') {
  const nodes = process.env.TESSERA_DEMO_NODES ?? '36';
  const stateDir = process.env.TESSERA_TESTBED_DIR ?? path.join(root, '.testbed', 'demo');
  process.stderr.write(`Starting the demo test bed (${nodes} simulated GPU nodes; the first run builds Kubernetes, about 10 minutes)…\n`);
  const up = spawnSync(node, ['--import', 'tsx', 'test/testbed/cli.ts', 'up', '--nodes', nodes, '--state', stateDir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (up.status !== 0) {
    process.stderr.write('tessera: the demo test bed did not start (see above)\n');
    process.exit(1);
  }
  const info = JSON.parse(up.stdout);
  kubeconfigArgs = ['--kubeconfig', info.kubeconfigs.admin];
  stopTestbed = () => spawnSync(node, ['--import', 'tsx', 'test/testbed/cli.ts', 'down', '--state', stateDir], { cwd: root, stdio: 'inherit' });
}

const binary = electronBinary();
const child = binary
  ? spawn(binary, [path.join(root, 'dist/electron/main.js'), ...kubeconfigArgs, ...passthrough], { cwd: root, stdio: 'inherit' })
  : (process.stderr.write('No Electron binary is installed here, so the console is served through the headless host; open the URL below in a browser.\n'),
    spawn(node, [path.join(root, 'dist/cli/tessera.js'), 'serve', ...kubeconfigArgs, ...passthrough], { cwd: root, stdio: 'inherit' }));

const shutdown = () => child.kill('SIGTERM');
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
child.on('exit', (code) => {
  stopTestbed();
  process.exit(code ?? 0);
});
