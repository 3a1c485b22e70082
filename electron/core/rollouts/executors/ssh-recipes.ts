// Site recipes for driver installs over SSH. A site says, per node pool, which
// named operation installs a driver, whether the host reboots after it, and
// which operation reads the version back. The operations themselves are
// defined here in code: the recipe file only names them, and their one
// parameter (the driver version) is validated before anything runs, so
// neither the file nor the renderer can make Tessera run other shell text.
import fs from 'node:fs';
import path from 'node:path';
import { TesseraError } from '../../../../shared/contract/errors.ts';
import { createCommandRegistry, type CommandRegistry, type OperationSpec } from '../../ssh/command-registry.ts';

export const RECIPES_FILE = 'rollout-recipes.json';
export const DRIVER_VERSION = /^\d+\.\d+(\.\d+)?$/;

const VERSION = { version: { description: 'driver version, e.g. 550.54.15', pattern: DRIVER_VERSION } } as const;
/** Ubuntu/Debian name the package by branch (the major version): nvidia-driver-550. */
const branch = (v: string) => v.split('.')[0]!;

/** Operations a recipe may name, by role. Installs take the version; verify prints one version per GPU. */
export const RECIPE_OPERATIONS: Readonly<Record<string, OperationSpec & { role: 'install' | 'verify' | 'reboot' | 'probe' | 'xids' }>> = {
  'driver.install.sim': {
    role: 'install',
    description: 'test bed installer (tessera-sim-driver-install <version>)',
    params: VERSION,
    argv: (a) => ['tessera-sim-driver-install', a.version!],
    sudo: 'allowed',
    timeoutMs: 15 * 60_000,
  },
  'driver.install.apt': {
    role: 'install',
    description: 'apt-get install -y --allow-downgrades nvidia-driver-<branch>=<version>-* (Debian/Ubuntu)',
    params: VERSION,
    argv: (a) => ['apt-get', 'install', '-y', '--allow-downgrades', `nvidia-driver-${branch(a.version!)}=${a.version!}-*`],
    sudo: 'allowed',
    timeoutMs: 30 * 60_000,
  },
  'driver.install.dnf': {
    role: 'install',
    description: 'dnf install -y --allowerasing nvidia-driver-<version> (RHEL/Rocky)',
    params: VERSION,
    argv: (a) => ['dnf', 'install', '-y', '--allowerasing', `nvidia-driver-${a.version!}`],
    sudo: 'allowed',
    timeoutMs: 30 * 60_000,
  },
  'driver.version': {
    role: 'verify',
    description: 'driver version per GPU (nvidia-smi --query-gpu=driver_version --format=csv,noheader)',
    argv: () => ['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'],
    sudo: 'never',
    timeoutMs: 30_000,
  },
  'host.reboot': {
    role: 'reboot',
    description: 'reboot the host (systemctl reboot); the connection drops',
    argv: () => ['systemctl', 'reboot'],
    sudo: 'allowed',
    timeoutMs: 30_000,
  },
  'gpu.xids.journal': {
    role: 'xids',
    description: "the kernel log of this boot from the journal (journalctl -k -b 0 --no-pager -o cat), for the NVRM: Xid lines",
    argv: () => ['journalctl', '-k', '-b', '0', '--no-pager', '-o', 'cat'],
    sudo: 'allowed',
    timeoutMs: 30_000,
  },
  'gpu.xids.dmesg': {
    role: 'xids',
    description: 'the kernel ring buffer (dmesg), for hosts without a journal; it starts afresh at each boot too',
    argv: () => ['dmesg'],
    sudo: 'allowed',
    timeoutMs: 30_000,
  },
  'gpu.bus-ids': {
    role: 'probe',
    description: 'each GPU with its PCI address (nvidia-smi --query-gpu=index,pci.bus_id --format=csv,noheader), to put kernel-log XIDs on GPUs',
    argv: () => ['nvidia-smi', '--query-gpu=index,pci.bus_id', '--format=csv,noheader'],
    sudo: 'never',
    timeoutMs: 30_000,
  },
  'host.boot-time': {
    role: 'probe',
    description: 'when the host last booted (uptime -s): a changed answer tells a rebooted host from one not yet gone down',
    argv: () => ['uptime', '-s'],
    sudo: 'never',
    timeoutMs: 15_000,
  },
};

export const recipeRegistry: CommandRegistry = createCommandRegistry(RECIPE_OPERATIONS);

export interface Recipe {
  install: string;
  reboot: boolean;
  verify: string;
  /** Where the xid gate reads XIDs (a kernel-log operation), or false for nowhere; gpu.xids.journal when not given. */
  xids: string | false;
}

export const DEFAULT_XIDS = 'gpu.xids.journal';

export interface RecipeBook {
  file: string;
  pools: ReadonlyMap<string, Recipe>;
}

function bad(file: string, msg: string): TesseraError {
  return new TesseraError('INVALID_REQUEST', `${file}: ${msg}`, { file });
}

function operationOf(file: string, where: string, name: unknown, role: 'install' | 'verify' | 'xids'): string {
  const known = Object.entries(RECIPE_OPERATIONS).filter(([, s]) => s.role === role).map(([n]) => n);
  if (typeof name !== 'string' || !known.includes(name)) throw bad(file, `${where}: "${String(name)}" is not an ${role} operation (known: ${known.join(', ')})`);
  return name;
}

/** Parses and checks the recipe file's text; every problem is named with its pool. */
export function parseRecipes(text: string, file: string): RecipeBook {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw bad(file, `not valid JSON (${(err as Error).message})`);
  }
  const pools = (raw as { pools?: unknown } | null)?.pools;
  if (!pools || typeof pools !== 'object' || Array.isArray(pools)) throw bad(file, 'expected { "pools": { "<pool or *>": { "install": ..., "verify": ... } } }');
  const out = new Map<string, Recipe>();
  for (const [pool, r] of Object.entries(pools as Record<string, unknown>)) {
    const where = `pools["${pool}"]`;
    if (!r || typeof r !== 'object') throw bad(file, `${where} is not an object`);
    const { install, reboot, verify, xids, ...rest } = r as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) throw bad(file, `${where}: unknown field(s) ${extra.join(', ')}`);
    if (reboot !== undefined && typeof reboot !== 'boolean') throw bad(file, `${where}.reboot must be true or false`);
    out.set(pool, {
      install: operationOf(file, `${where}.install`, install, 'install'),
      reboot: reboot === true,
      verify: operationOf(file, `${where}.verify`, verify, 'verify'),
      xids: xids === false ? false : xids === undefined ? DEFAULT_XIDS : operationOf(file, `${where}.xids`, xids, 'xids'),
    });
  }
  if (out.size === 0) throw bad(file, 'no pools defined');
  return { file, pools: out };
}

/** Reads `rollout-recipes.json` from the data folder; a missing file is a clear error, not an empty book. */
export function loadRecipes(dataDir: string): RecipeBook {
  const file = path.join(dataDir, RECIPES_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new TesseraError('INVALID_REQUEST', `the SSH executor needs site recipes: create ${file} with { "pools": { "*": { "install": "driver.install.apt", "verify": "driver.version" } } }`, { file });
  }
  return parseRecipes(text, file);
}

export function recipeFor(book: RecipeBook, pool: string | undefined): Recipe {
  const r = (pool !== undefined ? book.pools.get(pool) : undefined) ?? book.pools.get('*');
  if (!r) throw new TesseraError('INVALID_REQUEST', `${book.file} has no recipe for node pool "${pool ?? '(none)'}" and no "*" recipe`, { pool });
  return r;
}
