/**
 * The only commands Tessera runs over SSH. Each operation names a fixed
 * program and builds its argv from validated parameters; the words are
 * shell-quoted when the command line is assembled, so a parameter can never
 * become shell syntax. Adding a capability means adding an entry here.
 */
import { TesseraError } from '../../../shared/contract/errors.ts';

export interface ParamSpec {
  description: string;
  /** Whole-value pattern; values are quoted anyway, this is about meaning. */
  pattern?: RegExp;
  optional?: boolean;
}

export interface OperationSpec {
  description: string;
  params?: Readonly<Record<string, ParamSpec>>;
  /** One simple command, or several joined by pipes. */
  argv: (args: Readonly<Record<string, string>>) => string[] | string[][];
  /** Whether the caller may run it through sudo. */
  sudo: 'never' | 'allowed';
  timeoutMs?: number;
  /** Exit statuses that mean success (grep says 1 for "no match"). */
  okExitCodes?: readonly number[];
}

export type CommandRegistry = ReadonlyMap<string, OperationSpec>;

/** Fields for 'nvidia-smi.csv'; parseSmiCsv needs them because the output has no header. */
export const SMI_CSV_FIELDS = [
  'index',
  'uuid',
  'name',
  'memory.total',
  'memory.used',
  'utilization.gpu',
  'temperature.gpu',
  'power.draw',
  'driver_version',
] as const;

const GPU_INDEX: ParamSpec = { description: 'GPU index', pattern: /^\d{1,3}$/, optional: true };
const GPU_INDEX_REQUIRED: ParamSpec = { description: 'GPU index', pattern: /^\d{1,3}$/ };

/** Fields for 'nvidia-smi.mig-mode-query' (no header in its output). */
export const MIG_MODE_FIELDS = ['index', 'uuid', 'name', 'pci.bus_id', 'mig.mode.current', 'mig.mode.pending'] as const;
const withGpu = (args: Readonly<Record<string, string>>): string[] => (args.gpu !== undefined ? ['-i', args.gpu] : []);

export const DEFAULT_OPERATIONS: Readonly<Record<string, OperationSpec>> = {
  'nvidia-smi.list': { description: 'GPUs and MIG devices (nvidia-smi -L)', argv: () => ['nvidia-smi', '-L'], sudo: 'never' },
  'nvidia-smi.query': {
    description: 'full GPU state as XML (nvidia-smi -q -x)',
    params: { gpu: GPU_INDEX },
    argv: (a) => ['nvidia-smi', '-q', '-x', ...withGpu(a)],
    sudo: 'never',
  },
  'nvidia-smi.csv': {
    description: 'per-GPU summary as CSV',
    argv: () => ['nvidia-smi', `--query-gpu=${SMI_CSV_FIELDS.join(',')}`, '--format=csv,noheader,nounits'],
    sudo: 'never',
  },
  'nvidia-smi.mig-lgip': { description: 'MIG GPU instance profiles', params: { gpu: GPU_INDEX }, argv: (a) => ['nvidia-smi', 'mig', '-lgip', ...withGpu(a)], sudo: 'allowed' },
  'nvidia-smi.mig-lgi': { description: 'MIG GPU instances', params: { gpu: GPU_INDEX }, argv: (a) => ['nvidia-smi', 'mig', '-lgi', ...withGpu(a)], sudo: 'allowed' },
  // MIG over SSH (electron/core/mig/mig-ssh-apply.ts). Mutating operations take a GPU index, never "all GPUs".
  'nvidia-smi.mig-lgipp': { description: 'MIG GPU instance placements', params: { gpu: GPU_INDEX }, argv: (a) => ['nvidia-smi', 'mig', '-lgipp', ...withGpu(a)], sudo: 'allowed' },
  'nvidia-smi.mig-lci': { description: 'MIG compute instances', params: { gpu: GPU_INDEX }, argv: (a) => ['nvidia-smi', 'mig', '-lci', ...withGpu(a)], sudo: 'allowed' },
  'nvidia-smi.mig-mode-query': {
    description: 'per-GPU MIG mode, current and pending, as CSV',
    argv: () => ['nvidia-smi', `--query-gpu=${MIG_MODE_FIELDS.join(',')}`, '--format=csv,noheader'],
    sudo: 'never',
  },
  'nvidia-smi.compute-apps': {
    description: 'processes using a GPU, as CSV',
    argv: () => ['nvidia-smi', '--query-compute-apps=pid,gpu_uuid,used_memory', '--format=csv'],
    sudo: 'allowed',
  },
  'nvidia-smi.mig-mode': {
    description: 'enable (1) or disable (0) MIG mode on one GPU',
    params: { gpu: GPU_INDEX_REQUIRED, mode: { description: '1 (enable) or 0 (disable)', pattern: /^[01]$/ } },
    argv: (a) => ['nvidia-smi', '-i', a.gpu!, '-mig', a.mode!],
    sudo: 'allowed',
    timeoutMs: 120_000,
  },
  'nvidia-smi.gpu-reset': { description: 'reset one GPU (makes a pending MIG mode effective)', params: { gpu: GPU_INDEX_REQUIRED }, argv: (a) => ['nvidia-smi', '-i', a.gpu!, '-r'], sudo: 'allowed', timeoutMs: 180_000 },
  'nvidia-smi.mig-dci': { description: 'destroy every MIG compute instance on one GPU', params: { gpu: GPU_INDEX_REQUIRED }, argv: (a) => ['nvidia-smi', 'mig', '-dci', '-i', a.gpu!], sudo: 'allowed', timeoutMs: 60_000 },
  'nvidia-smi.mig-dgi': { description: 'destroy every MIG GPU instance on one GPU', params: { gpu: GPU_INDEX_REQUIRED }, argv: (a) => ['nvidia-smi', 'mig', '-dgi', '-i', a.gpu!], sudo: 'allowed', timeoutMs: 60_000 },
  'nvidia-smi.mig-cgi': {
    description: 'create MIG GPU instances at given placements, each with its default compute instance',
    params: { gpu: GPU_INDEX_REQUIRED, placements: { description: 'profile-id:start pairs, comma-separated (e.g. 9:0,14:4)', pattern: /^\d{1,2}:\d{1,2}(,\d{1,2}:\d{1,2}){0,15}$/ } },
    argv: (a) => ['nvidia-smi', 'mig', '-cgi', a.placements!, '-i', a.gpu!, '-C'],
    sudo: 'allowed',
    timeoutMs: 120_000,
  },
  uname: { description: 'kernel and architecture', argv: () => ['uname', '-srvmo'], sudo: 'never' },
  'dmesg-gpu': {
    description: 'kernel messages from the NVIDIA driver (NVRM, Xid)',
    argv: () => [['dmesg'], ['grep', '-E', 'NVRM|Xid|nvidia']],
    sudo: 'allowed',
    okExitCodes: [0, 1],
  },
  'file.stat': {
    description: 'metadata of one path, e.g. a /dev/nvidia* device node',
    params: { path: { description: 'absolute path', pattern: /^\/[^\0]*$/ } },
    argv: (a) => ['stat', '--', a.path!],
    sudo: 'allowed',
  },
};

export function createCommandRegistry(extra: Readonly<Record<string, OperationSpec>> = {}): CommandRegistry {
  return new Map(Object.entries({ ...DEFAULT_OPERATIONS, ...extra }));
}

export const defaultRegistry: CommandRegistry = createCommandRegistry();

export function lookupOperation(registry: CommandRegistry, name: string): OperationSpec {
  const spec = registry.get(name);
  if (!spec) throw new TesseraError('INVALID_REQUEST', `unknown remote operation "${name}"`, { operation: name, known: [...registry.keys()] });
  return spec;
}

/** Checks args against the operation's declared parameters: unknown, missing and malformed ones are refused. */
export function operationArgv(name: string, spec: OperationSpec, args: Readonly<Record<string, string>> = {}): string[][] {
  const params = spec.params ?? {};
  for (const key of Object.keys(args)) {
    if (!(key in params)) throw new TesseraError('INVALID_REQUEST', `operation "${name}" takes no parameter "${key}"`, { operation: name });
  }
  for (const [key, p] of Object.entries(params)) {
    const v = args[key];
    if (v === undefined) {
      if (!p.optional) throw new TesseraError('INVALID_REQUEST', `operation "${name}" needs "${key}" (${p.description})`, { operation: name });
      continue;
    }
    if (typeof v !== 'string' || (p.pattern && !p.pattern.test(v))) {
      throw new TesseraError('INVALID_REQUEST', `"${key}" for operation "${name}" must be ${p.description}`, { operation: name });
    }
  }
  const argv = spec.argv(args);
  return (Array.isArray(argv[0]) ? argv : [argv]) as string[][];
}
