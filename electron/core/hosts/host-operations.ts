/**
 * The operations the Hosts page, `tessera ssh exec` and the support bundle
 * may run: the SSH core's registry plus a few read-only probes of our own.
 * Adding a capability still means adding an entry, never accepting text.
 */
import { createCommandRegistry } from '../ssh/command-registry.ts';
import type { CommandRegistry, OperationSpec } from '../ssh/command-registry.ts';
import type { OperationInfo } from '../../../shared/model/host.ts';

export const HOST_OPERATIONS: Readonly<Record<string, OperationSpec>> = {
  'uname.all': { description: 'kernel, host name and architecture (uname -a)', argv: () => ['uname', '-a'], sudo: 'never', timeoutMs: 15_000 },
  'driver.version': {
    description: 'loaded NVIDIA kernel driver (/proc/driver/nvidia/version)',
    argv: () => ['cat', '/proc/driver/nvidia/version'],
    sudo: 'never',
    timeoutMs: 15_000,
  },
  'journal-gpu': {
    description: 'kernel journal lines from the NVIDIA driver (journalctl -k, NVRM and Xid)',
    argv: () => [['journalctl', '-k', '--no-pager', '-n', '5000', '-o', 'short-iso'], ['grep', '-E', 'NVRM|Xid']],
    sudo: 'allowed',
    okExitCodes: [0, 1],
  },
};

export const hostRegistry: CommandRegistry = createCommandRegistry(HOST_OPERATIONS);

export function operationInfos(registry: CommandRegistry = hostRegistry): OperationInfo[] {
  return [...registry.entries()]
    .map(([name, spec]) => ({
      name,
      description: spec.description,
      params: Object.entries(spec.params ?? {}).map(([p, ps]) => ({ name: p, description: ps.description, optional: ps.optional === true })),
      sudo: spec.sudo === 'allowed',
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
