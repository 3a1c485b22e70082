import type { SshHost } from '../../../shared/model/host.ts';
import type { HostService } from '../hosts/host-service.ts';
import type { TerminalSsh } from './terminal-service.ts';

/**
 * SSH terminals use the hosts service's pool, so a shell and a fan-out to the
 * same host share one connection, one host-key decision and one passphrase.
 * An address typed in is treated as an unsaved host: default keys, agent and
 * the same prompts.
 */
export function terminalSshFromHosts(hosts: HostService): TerminalSsh {
  return {
    pool: hosts.pool,
    async resolveHost(hostId) {
      const host = await hosts.store.get(hostId);
      return { target: await hosts.target(host), name: host.name };
    },
    async resolveAddress(t) {
      const adhoc: SshHost = { id: 'terminal-address', name: t.address, address: t.address, port: t.port ?? 22, user: t.user, proxyJump: [], source: { kind: 'manual' } };
      return { target: await hosts.target(adhoc), name: t.address };
    },
  };
}
