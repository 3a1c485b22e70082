import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { builtinModules } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODE = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...files(rel));
    else if (/\.(ts|tsx)$/.test(e.name)) out.push(rel);
  }
  return out;
}

/** Every module specifier in a file: static imports, re-exports, dynamic import() and require(). */
export function importsOf(source: string): string[] {
  const specs: string[] = [];
  const re = /(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of source.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3])!);
  return specs;
}

function violations(dir: string, forbidden: (spec: string, file: string) => string | null): string[] {
  const out: string[] = [];
  for (const f of files(dir)) {
    for (const spec of importsOf(fs.readFileSync(path.join(root, f), 'utf8'))) {
      const why = forbidden(spec, f);
      if (why) out.push(`${f}: imports "${spec}" (${why})`);
    }
  }
  return out;
}

const resolvesInto = (spec: string, file: string, dir: string) => spec.startsWith('.') && path.resolve(root, path.dirname(file), spec).startsWith(path.join(root, dir) + path.sep);
const PRIVILEGED = /^(electron|@kubernetes\/client-node|ssh2|undici|ws|js-yaml)(\/|$)/;

test('the import scanner sees every form of import', () => {
  const src = `import a from 'x1';\nimport type { B } from "x2";\nexport * from './x3.ts';\nconst c = await import('x4');\nconst d = require('x5');\nimport 'x6';\nimport {\n  e,\n  f,\n} from 'x7';`;
  assert.deepEqual(importsOf(src), ['x1', 'x2', './x3.ts', 'x4', 'x5', 'x6', 'x7']);
});

test('renderer/ imports no Node, Electron, client-node or ssh2', () => {
  const bad = violations('renderer', (spec, file) => {
    if (NODE.has(spec)) return 'Node built-in';
    if (PRIVILEGED.test(spec)) return 'privileged library';
    if (resolvesInto(spec, file, 'electron')) return 'main-process code';
    return null;
  });
  assert.deepEqual(bad, []);
});

test('electron/core/ never imports electron or the renderer', () => {
  const bad = violations('electron/core', (spec, file) => {
    if (/^electron(\/|$)/.test(spec)) return 'electron';
    if (resolvesInto(spec, file, 'renderer')) return 'renderer';
    if (resolvesInto(spec, file, 'electron/host')) return 'host';
    return null;
  });
  assert.deepEqual(bad, []);
});

test('shared/ imports nothing but itself', () => {
  const bad = violations('shared', (spec, file) => (!spec.startsWith('.') || !resolvesInto(spec, file, 'shared') ? 'outside shared/' : null));
  assert.deepEqual(bad, []);
});

test('product code never imports test code', () => {
  for (const dir of ['shared', 'electron', 'renderer']) {
    assert.deepEqual(violations(dir, (spec, file) => (resolvesInto(spec, file, 'test') ? 'test code' : null)), []);
  }
});
