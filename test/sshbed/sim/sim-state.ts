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
 *   kernel.log          the kernel's messages since that boot (bin/journalctl, bin/dmesg): driver loads, NVRM: Xid lines
 *   driver-install.xid  present: the next driver that loads raises this XID on GPU 0, once (fault ssh-install-xid)
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
  kernelLog: 'kernel.log',
  installXid: 'driver-install.xid',
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

/** The line the kernel module prints when it loads. */
export function logModuleLoad(dir: string, version: string): void {
  fs.appendFileSync(path.join(dir, FILES.kernelLog), `NVRM: loading NVIDIA UNIX x86_64 Kernel Module  ${version}  Release Build  (dvs-builder@U16-I3-B03-4-3)\n`);
}

/**
 * A driver version was loaded (an install that took effect at once, or a boot with one pending): the kernel logs it,
 * and with the ssh-install-xid fault armed the new driver's GSP firmware stops answering on GPU 0, which the module
 * reports as XID 119 in the form the real one uses. The fault fires once.
 */
export function driverLoaded(dir: string, version: string): void {
  logModuleLoad(dir, version);
  const armed = path.join(dir, FILES.installXid);
  let xid: string;
  try {
    xid = fs.readFileSync(armed, 'utf8').trim() || '119';
  } catch {
    return;
  }
  fs.rmSync(armed, { force: true });
  logXid(dir, Number(xid), 0, `pid=${process.pid}, name=nvidia-smi, Timeout after 6s of waiting for RPC response from GPU0 GSP! Expected function 76 (GSP_RM_CONTROL) (0x2080205b 0x4).`);
}

/** An XID on one GPU in the kernel log, addressed as the module addresses it (domain:bus:device of the GPU's bus id). */
export function logXid(dir: string, xid: number, gpu: number, text: string): boolean {
  const m = /^([0-9A-F]{8}):([0-9A-F]{2}):([0-9A-F]{2})/i.exec(readHardware(dir)[gpu]?.busId ?? '');
  if (!m) return false;
  const pci = `${m[1]!.slice(-4)}:${m[2]}:${m[3]}`.toLowerCase();
  fs.appendFileSync(path.join(dir, FILES.kernelLog), `NVRM: Xid (PCI:${pci}): ${xid}, ${text}\n`);
  return true;
}
