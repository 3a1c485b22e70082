/**
 * A network namespace with only a loopback interface. sshd processes started
 * inside it listen on addresses nothing outside can reach, so a test can
 * prove that a connection got there through a jump host.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { killEach, processTree } from './processes.ts';

export class PrivateNetwork {
  private constructor(private readonly holder: ChildProcess) {}

  static async create(): Promise<PrivateNetwork> {
    // The sleeping holder keeps the namespace alive; hosts join it with nsenter.
    const holder = spawn('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up && echo ready && exec sleep 86400'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    holder.stderr!.on('data', (d) => (err += d));
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`cannot create a network namespace (exit ${code}): ${err}`)));
      holder.once('error', reject);
    });
    return new PrivateNetwork(holder);
  }

  get pid(): number {
    return this.holder.pid!;
  }

  /** Prefix for a command that should run inside the namespace. */
  enter(): string[] {
    return ['nsenter', `--net=/proc/${this.pid}/ns/net`, '--'];
  }

  stop(): void {
    killEach(processTree(this.pid));
  }
}
