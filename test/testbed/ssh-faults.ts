// Faults on the test bed's SSH hosts (`up --ssh-hosts M`, issue 6 item 8 and
// issue 5 item 9). The supervisor that holds the hosts applies them
// (ssh-hosts.ts, sshControl) and answers once they are in effect, so a test
// can assert right after the command returns. They need no cluster.
import { registerFault, type FaultContext } from './faults.ts';
import { sshControl, type SshControlRequest } from './ssh-hosts.ts';

type BedContext = Pick<FaultContext, 'stateDir' | 'log'>;

function oneHost(name: string, args: string[]): string {
  if (args.length !== 1 || !args[0] || args[0].startsWith('-')) throw new Error(`${name} takes one SSH host (host-1 ... host-M), got ${args.length ? args.join(' ') : 'none'}`);
  return args[0];
}

function hostFault(name: string, description: string, request: (host: string) => SshControlRequest): void {
  const run = (ctx: BedContext, args: string[]) => sshControl(ctx.stateDir, request(oneHost(name, args)));
  registerFault({ name, description, usage: `${name} <host>`, apply: run, applyWithoutCluster: run });
}

hostFault('hostkey-change', 'the SSH host is reinstalled with a new host key on the same address and port (known_hosts keeps the old one)', (host) => ({ op: 'hostkey-change', host }));
hostFault('ssh-drop', "every open SSH connection to the host is cut at once, commands killed mid-run; the host keeps accepting new connections", (host) => ({ op: 'ssh-drop', host }));
hostFault('ssh-install-fail', "the host's tessera-sim-driver-install fails like nvidia-installer (driver unchanged) until ssh-install-clear", (host) => ({ op: 'install-fail', host, fail: true }));
hostFault('ssh-install-clear', "recover: the host's tessera-sim-driver-install works again", (host) => ({ op: 'install-fail', host, fail: false }));
hostFault('ssh-install-needs-reboot', "the host's driver installs take effect only after a reboot (nvidia-smi reports a driver/library version mismatch until then) until ssh-install-reboot-clear", (host) => ({ op: 'install-needs-reboot', host, on: true }));
hostFault('ssh-install-xid', "the next driver that loads on the host (at once, or at the reboot after an install) raises XID 119 on GPU 0 in the host's kernel log, once", (host) => ({ op: 'install-xid', host, on: true }));
hostFault('ssh-install-reboot-clear', "recover: the host's driver installs take effect at once again", (host) => ({ op: 'install-needs-reboot', host, on: false }));
