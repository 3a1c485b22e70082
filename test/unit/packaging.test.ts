/**
 * What can be verified about the installers without Electron's binaries
 * (they cannot be downloaded here): the electron-builder configuration is
 * valid by electron-builder's own schema, names every installer a site
 * without internet needs, has no update provider, and packs only the built
 * app (dist/ and package.json), never sources, tests or the test bed.
 * Needs `npm run build` first, like the e2e tests.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const configFile = path.join(root, 'build/electron-builder.yml');
const config = yaml.load(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, Record<string, string> | string | undefined>;

type TargetEntry = string | { target: string };
function targets(platform: string): string[] {
  const t = (config[platform] as { target?: TargetEntry | TargetEntry[] } | undefined)?.target;
  return (Array.isArray(t) ? t : t ? [t] : []).map((x) => (typeof x === 'string' ? x : x.target).toLowerCase());
}

/** electron-builder's file patterns are minimatch globs relative to the app folder; these are the forms it allows. */
function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Every file in the repository (not node_modules, .git or outputs), relative, with / separators. */
function repoFiles(): string[] {
  const out: string[] = [];
  const skip = new Set(['node_modules', '.git', 'release', 'test-results']);
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (skip.has(e.name)) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(path.relative(root, p).split(path.sep).join('/'));
    }
  };
  walk(root);
  return out;
}

const patterns = (config.files ?? []) as string[];
function packed(files: string[]): string[] {
  const include = patterns.filter((p) => !p.startsWith('!')).map(globToRegExp);
  const exclude = patterns.filter((p) => p.startsWith('!')).map((p) => globToRegExp(p.slice(1)));
  return files.filter((f) => include.some((r) => r.test(f)) && !exclude.some((r) => r.test(f)));
}

test('the configuration is valid by electron-builder’s own schema (which does catch mistakes)', async () => {
  const require = createRequire(import.meta.url);
  const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as { validateConfiguration: (c: unknown, log: unknown) => Promise<void> };
  const log = { isEnabled: false, add: () => undefined };
  await validateConfiguration(structuredClone(config), log);
  await assert.rejects(validateConfiguration({ ...structuredClone(config), linux: { target: 'AppImage', bogusOption: 1 } }, log), /Invalid configuration object[\s\S]*configuration\.linux/);
});

test('installers for Linux (AppImage, deb, rpm), Windows (NSIS) and macOS (dmg), packed in an asar archive', () => {
  for (const t of ['appimage', 'deb', 'rpm']) assert.ok(targets('linux').includes(t), `linux builds ${t} (has ${targets('linux').join(', ')})`);
  assert.ok(targets('win').includes('nsis'), 'windows builds an NSIS installer');
  assert.ok(targets('mac').includes('dmg'), 'macOS builds a dmg');
  assert.equal(config.asar, true);
  assert.equal(typeof config.appId, 'string');
  assert.equal(config.electronVersion, (pkg.devDependencies as Record<string, string>).electron, 'the Electron it packs is the one the app was tested with');
});

test('no publish or auto-update provider anywhere, and no electron-updater', () => {
  assert.ok('publish' in config && config.publish === null, 'publish: null (no update feed is generated or checked)');
  for (const section of ['linux', 'win', 'mac', 'nsis', 'dmg', 'appImage', 'deb', 'rpm']) {
    const sub = config[section] as Record<string, unknown> | undefined;
    assert.equal(sub?.publish, undefined, `${section} has no publish of its own`);
  }
  assert.equal(config.electronUpdaterCompatibility, undefined);
  assert.match(pkg.scripts && typeof pkg.scripts === 'object' ? pkg.scripts.package ?? '' : '', /electron-builder .*--publish never/, 'npm run package never publishes');
  assert.equal((pkg as Record<string, unknown>).build, undefined, 'no second builder config hidden in package.json');
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) {
    const deps = (pkg[field] ?? {}) as Record<string, string>;
    assert.equal(deps['electron-updater'], undefined, `${field} has no electron-updater`);
  }
  const lock = path.join(root, 'package-lock.json');
  if (fs.existsSync(lock)) assert.doesNotMatch(fs.readFileSync(lock, 'utf8'), /"node_modules\/electron-updater"/, 'nothing pulls electron-updater in');
  const built = packed(repoFiles()).filter((f) => f.endsWith('.js') || f.endsWith('.cjs'));
  for (const f of built) assert.doesNotMatch(fs.readFileSync(path.join(root, f), 'utf8'), /electron-updater|autoUpdater\.check/, `${f} checks for no updates`);
});

test('files: only the built app and package.json; every pattern matches something after npm run build', () => {
  assert.ok(fs.existsSync(path.join(root, 'dist')), 'dist/ exists: run `npm run build` first');
  assert.ok(patterns.length > 0);
  for (const p of patterns) assert.ok(p === 'package.json' || /^!?dist\//.test(p), `pattern ${p} stays inside dist/ or is package.json`);
  for (const key of ['extraFiles', 'extraResources']) assert.equal(config[key], undefined, `no ${key}: they would bypass the files list`);
  const all = repoFiles();
  for (const p of patterns.filter((x) => !x.startsWith('!'))) {
    const re = globToRegExp(p);
    assert.ok(all.some((f) => re.test(f)), `${p} matches a file`);
  }
  const files = packed(all);
  // What the app starts from is inside the package.
  for (const needed of ['package.json', pkg.main as string, 'dist/electron/preload.cjs', 'dist/renderer/index.html']) assert.ok(files.includes(needed), `${needed} is packed`);
  const bad = files.filter((f) => /^(test|electron|renderer|shared|scripts|build|bin)\//.test(f) || /\.(ts|tsx|map)$/.test(f) || /(^|\/)(fixtures?|testbed|sshbed|__tests__)(\/|$)/.test(f) || /\.test\./.test(f));
  assert.deepEqual(bad, [], 'no sources, source maps, tests, fixtures or test bed');
  assert.ok(files.every((f) => f === 'package.json' || f.startsWith('dist/')));
  // The matcher itself: the exclusion of maps is real, so the check above can fail.
  assert.ok(all.some((f) => f.startsWith('dist/') && f.endsWith('.map')), 'the build writes source maps, which the config leaves out');
});
