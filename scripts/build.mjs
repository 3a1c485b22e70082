// Builds everything the app and the CLI run: main, preload and CLI with esbuild, the renderer with Vite.
import { build as esbuild } from 'esbuild';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as vite } from 'vite';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const quiet = process.argv.includes('--quiet');

const node = { bundle: true, platform: 'node', target: 'node22', sourcemap: true, logLevel: 'warning', absWorkingDir: root };
// Packages stay external: electron-builder ships node_modules, and client-node is ESM with its own deps.
const banner = { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" };

const started = Date.now();
await rm(dist, { recursive: true, force: true });
await Promise.all([
  esbuild({ ...node, entryPoints: ['electron/main.ts'], outfile: 'dist/electron/main.js', format: 'esm', packages: 'external', banner }),
  // Sandboxed preloads are CommonJS and may only require('electron'): bundle the contract in.
  esbuild({ ...node, entryPoints: ['electron/preload.ts'], outfile: 'dist/electron/preload.cjs', format: 'cjs', external: ['electron'] }),
  esbuild({ ...node, entryPoints: ['electron/cli/tessera.ts'], outfile: 'dist/cli/tessera.js', format: 'esm', packages: 'external', banner }),
  vite({
    root: path.join(root, 'renderer'),
    base: './',
    logLevel: quiet ? 'error' : 'warn',
    configFile: false,
    esbuild: { jsx: 'automatic' },
    build: { outDir: path.join(dist, 'renderer'), emptyOutDir: true, sourcemap: true, target: 'chrome120', modulePreload: { polyfill: false } },
  }),
]);
if (!quiet) console.log(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)}s`);
