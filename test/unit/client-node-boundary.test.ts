// @kubernetes/client-node costs the main process about 85 MiB as soon as it is
// imported (KubeConfig pulls in the whole generated API), which alone took the
// console past its 300 MB budget at 2,000 nodes. So one module may use it, and
// only through a dynamic import() for the users who need it (auth providers,
// SOCKS proxies). Everyone else reaches clusters through kube-http.ts
// (kubeJson, kubeText, kubeWatch, listPages) with the KubeAccess that
// `clusters.connection(id).kubeConfig()` returns.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ALLOWED = 'electron/core/kube/client-node-fallback.ts';
const CLIENT_NODE = /^@kubernetes\/client-node(\/|$)/;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...files(rel));
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(e.name)) out.push(rel);
  }
  return out;
}

/** Any import of client-node: static, type-only, re-export, dynamic or require. */
function mentionsClientNode(source: string): boolean {
  return /(?:from\s+|import\s*\(\s*|require\(\s*|import\s+)['"]@kubernetes\/client-node(?:\/[^'"]*)?['"]/.test(source);
}

/** Static imports and re-exports of client-node (type-only ones included: the types no longer match what core passes around). */
export function staticClientNodeImports(source: string): string[] {
  const dynamic = new Set<string>();
  for (const m of source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) dynamic.add(m[0]);
  const bad: string[] = [];
  const re = /(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\sfrom\s+)?['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of source.matchAll(re)) {
    const spec = (m[1] ?? m[2])!;
    if (CLIENT_NODE.test(spec) && !/^import\s+type\s/.test(m[0])) bad.push(m[0].replace(/\s+/g, ' '));
  }
  return bad;
}

test('the scanner tells static from dynamic and type-only imports of client-node', () => {
  const src = [
    "import { KubeConfig } from '@kubernetes/client-node';",
    "import type { User } from '@kubernetes/client-node';",
    "export { Watch } from '@kubernetes/client-node/dist/watch.js';",
    "const k = await import('@kubernetes/client-node');",
    "const r = require('@kubernetes/client-node');",
    "import x from '@kubernetes/client-node-extra';",
  ].join('\n');
  assert.deepEqual(staticClientNodeImports(src), [
    "import { KubeConfig } from '@kubernetes/client-node'",
    "export { Watch } from '@kubernetes/client-node/dist/watch.js'",
    "require('@kubernetes/client-node')",
  ]);
});

test(`product code imports @kubernetes/client-node only in ${ALLOWED}`, () => {
  const bad: string[] = [];
  for (const dir of ['electron', 'shared', 'renderer', 'scripts']) {
    for (const f of files(dir)) {
      if (f === ALLOWED) continue;
      if (mentionsClientNode(fs.readFileSync(path.join(root, f), 'utf8'))) bad.push(f);
    }
  }
  assert.deepEqual(bad, [], 'use kube-http.ts (kubeJson, kubeText, kubeWatch, listPages) with the KubeAccess from clusters.connection(id).kubeConfig()');
});

test(`${ALLOWED} loads client-node only through a dynamic import()`, () => {
  const src = fs.readFileSync(path.join(root, ALLOWED), 'utf8');
  assert.deepEqual(staticClientNodeImports(src), []);
  assert.match(src, /await import\('@kubernetes\/client-node'\)/);
});

/** What the product bundles import eagerly, built as scripts/build.mjs builds them (packages external). */
async function eagerExternals(entry: string): Promise<{ eager: string[]; dynamic: string[]; inputs: string[] }> {
  const res = await build({
    entryPoints: [path.join(root, entry)],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    packages: 'external',
    write: false,
    metafile: true,
    logLevel: 'silent',
    outdir: path.join(root, 'dist/boundary-check'),
  });
  const eager = new Set<string>();
  const dynamic = new Set<string>();
  for (const out of Object.values(res.metafile.outputs)) {
    for (const imp of out.imports) {
      if (!imp.external) continue;
      (imp.kind === 'dynamic-import' ? dynamic : eager).add(imp.path);
    }
  }
  return { eager: [...eager], dynamic: [...dynamic], inputs: Object.keys(res.metafile.inputs) };
}

for (const entry of ['electron/main.ts', 'electron/cli/tessera.ts']) {
  test(`the ${entry} bundle does not load client-node at start-up`, async () => {
    const { eager, dynamic, inputs } = await eagerExternals(entry);
    assert.ok(inputs.includes('electron/core/kube/kube-http.ts'), 'the bundle holds the Kubernetes request path');
    assert.deepEqual(eager.filter((p) => CLIENT_NODE.test(p)), []);
    assert.ok(dynamic.includes('@kubernetes/client-node'), 'the auth-provider fallback is still bundled, lazily');
  });
}
