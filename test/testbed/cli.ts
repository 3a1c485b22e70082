// npm run testbed -- <up|status|down|fault> ...
// Machine-readable results go to stdout as JSON; progress goes to stderr.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { injectFault, listFaults } from './faults.ts';
import './gpu-faults.ts';
import './mig-faults.ts';
import './rollout-faults.ts';
import './ssh-faults.ts';
import './kserve/faults.ts';
import { checkSshHosts, ensureSshHosts, sshBedStatus } from './ssh-hosts.ts';
import { testbedStatus } from './status.ts';
import { stderrLog, stopTestbed } from './supervise.ts';
import { ensureTestbed } from './up.ts';
import { defaultStateDir } from './state.ts';

const USAGE = `usage: npm run testbed -- <command> [options]
  up     [--nodes N] [--state DIR] [--no-workloads] [--driver-version V] [--upgrade-ms MS]
                                     start a test bed (or print the running one); GPU workloads on by default;
                                     --driver-version puts every GPU node on V, --upgrade-ms is the simulated
                                     driver pod restart per node (default $TESSERA_SIM_DRIVER_UPGRADE_MS or 3000)
         [--ssh-hosts M]             also start M real sshd hosts (host-1 is the jump host to host-M) and write
                                     <state>/ssh/config for ssh -F; with --nodes 0 only the SSH hosts start
  status [--state DIR]               what runs, whether it is ready, node counts
  down   [--state DIR] [--keep]      stop the test bed's processes, remove the state dir
  fault  --list | <name> <target...> [--state DIR]
state dir default: $TESSERA_TESTBED_DIR or <tmpdir>/tessera-testbed`;

// `up ... 2>&1 | head` must not kill us half-way through starting processes.
process.stderr.on('error', () => {});
process.stdout.on('error', () => {});

const print = (v: unknown) => process.stdout.write(JSON.stringify(v, null, 2) + '\n');

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'up': {
      const { values } = parseArgs({
        args: rest,
        allowNegative: true,
        options: {
          nodes: { type: 'string' },
          state: { type: 'string' },
          workloads: { type: 'boolean', default: true },
          'driver-version': { type: 'string' },
          'upgrade-ms': { type: 'string' },
          'ssh-hosts': { type: 'string' },
        },
      });
      const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
      if (nodes !== undefined && (!Number.isInteger(nodes) || nodes < 0)) throw new Error(`--nodes must be a whole number, got ${values.nodes}`);
      const upgradeMs = values['upgrade-ms'] === undefined ? undefined : Number(values['upgrade-ms']);
      if (upgradeMs !== undefined && (!Number.isInteger(upgradeMs) || upgradeMs < 0)) throw new Error(`--upgrade-ms must be a whole number, got ${values['upgrade-ms']}`);
      const sshHosts = values['ssh-hosts'] === undefined ? undefined : Number(values['ssh-hosts']);
      if (values['ssh-hosts'] !== undefined && !/^\d+$/.test(values['ssh-hosts'])) throw new Error(`--ssh-hosts must be a whole number, got ${values['ssh-hosts']}`);
      if (sshHosts !== undefined) checkSshHosts(sshHosts);
      const stateDir = path.resolve(values.state ?? defaultStateDir());
      // --nodes 0 with --ssh-hosts: an SSH-only bed, no control plane at all.
      const sshOnly = sshHosts !== undefined && nodes === 0;
      const info = sshOnly ? { stateDir } : (await ensureTestbed({ nodes, stateDir, workloads: values.workloads, driverVersion: values['driver-version'], upgradeMs })).info;
      const ssh = sshHosts === undefined ? undefined : (await ensureSshHosts(stateDir, sshHosts, stderrLog)).record;
      print(ssh ? { ...info, ssh } : info);
      return 0;
    }
    case 'status': {
      const { values } = parseArgs({ args: rest, options: { state: { type: 'string' } } });
      const status = await testbedStatus(values.state ?? defaultStateDir());
      const ssh = await sshBedStatus(status.stateDir);
      // An SSH-only bed has no cluster (no server): then the SSH hosts alone say whether it runs.
      const running = ssh ? ssh.running && (status.server === undefined || status.running) : status.running;
      print(ssh ? { ...status, running, ssh } : status);
      return running ? 0 : 1;
    }
    case 'down': {
      const { values } = parseArgs({ args: rest, options: { state: { type: 'string' }, keep: { type: 'boolean' } } });
      await stopTestbed(values.state ?? defaultStateDir(), { keep: values.keep });
      return 0;
    }
    case 'fault': {
      // Fault-specific options pass through to the fault; only --state and --list are ours.
      const args = [...rest];
      let stateDir = defaultStateDir();
      const s = args.indexOf('--state');
      if (s >= 0) {
        stateDir = args[s + 1] ?? stateDir;
        args.splice(s, 2);
      }
      if (args.length === 0 || args[0] === '--list') {
        for (const f of listFaults()) process.stdout.write(`${f.name.padEnd(20)} ${f.description}\n${''.padEnd(20)} usage: ${f.usage}\n`);
        return 0;
      }
      const [name, ...targets] = args as [string, ...string[]];
      const summary = await injectFault(stateDir, name, targets, stderrLog);
      print({ fault: name, targets, result: summary });
      return 0;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    stderrLog(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
