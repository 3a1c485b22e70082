/**
 * Files behind one sshbed host's simulated GPUs, in the host's directory:
 *   gpus.state          the hardware, one GPU per line (index|name|uuid|mem_total|mem_used|util|temp|power|driver|bus_id)
 *   mig.json            MIG mode, GPU and compute instances, GPU processes (SimState)
 *   driver-installing   present while tessera-sim-driver-install runs: the driver is half-installed
 *   driver-install.fail present: the next driver install fails (a fault tests arm)
 *   nvidia-smi.calls    one line per nvidia-smi invocation (its arguments), for tests that check what ran
 *   driver-install.reboot present: an install leaves the new driver pending until the next reboot (a setting tests arm)
 *   driver-pending      the version an install left for the next boot (nvidia-smi reports a version mismatch meanwhile)
 *   reboot.request      written by the systemctl stand-in (bin/systemctl); the host's owner (SshdHost) then reboots it
 *   booted-at           when the host last booted, ms since the epoch (what bin/uptime -s reports)
 * Several nvidia-smi processes may run at once (fan-out, parallel sessions),
 * so read-modify-write of mig.json happens under a lock directory and the
 * file is replaced by rename, never rewritten in place.
 */
import fs from 'node:fs';
import path from 'node:path';
import { emptySimState } from './mig-sim.ts';
import type { HwGpu, SimState } from './mig-sim.ts';

export const FILES = {
  hardware: 'gpus.state',
  mig: 'mig.json',
  installing: 'driver-installing',
  installFault: 'driver-install.fail',
  calls: 'nvidia-smi.calls',
  installNeedsReboot: 'driver-install.reboot',
  driverPending: 'driver-pending',
  rebootRequest: 'reboot.request',
  bootedAt: 'booted-at',
  lock: 'sim.lock',
} as const;

export function readHardware(dir: string): HwGpu[] {
  let text = '';
  try {
    text = fs.readFileSync(path.join(dir, FILES.hardware), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const c = l.split('|');
      return {
        index: Number(c[0]),
        name: c[1] ?? '',
        uuid: c[2] ?? '',
        memTotalMiB: Number(c[3]),
        memUsedMiB: Number(c[4]),
        utilization: Number(c[5]),
        temperatureC: Number(c[6]),
        powerW: Number(c[7]),
        driver: c[8] ?? '',
        busId: c[9] ?? '',
      };
    });
}

export function writeHardware(dir: string, gpus: readonly HwGpu[]): void {
  const rows = gpus.map((g) => [g.index, g.name, g.uuid, g.memTotalMiB, g.memUsedMiB, g.utilization, g.temperatureC, g.powerW, g.driver, g.busId].join('|'));
  replaceFile(path.join(dir, FILES.hardware), rows.length ? rows.join('\n') + '\n' : '');
}

export function readSimState(dir: string): SimState {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(dir, FILES.mig), 'utf8')) as SimState;
    return s.version === 1 ? s : emptySimState();
  } catch {
    return emptySimState();
  }
}

export function writeSimState(dir: string, state: SimState): void {
  replaceFile(path.join(dir, FILES.mig), JSON.stringify(state, null, 1) + '\n');
}

function replaceFile(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Runs fn holding the host's state lock (a directory: mkdir is atomic). A lock older than 10 s is a crashed holder's and is broken. */
export function withStateLock<T>(dir: string, fn: () => T): T {
  const lock = path.join(dir, FILES.lock);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 10_000) fs.rmSync(lock, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline) throw new Error(`state lock ${lock} held for too long`);
      sleepSync(10);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}
