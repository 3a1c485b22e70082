/**
 * `tessera-sim-driver-install <version> [--duration-ms N]`: the sshbed
 * hosts' stand-in for running a driver installer. While it runs the driver is
 * half-installed (nvidia-smi fails the way it does without a driver); at the
 * end every GPU reports the new version. With the host's driver-install.fail
 * file present it fails like nvidia-installer does and leaves the old driver.
 * A killed install leaves the driver half-installed, as a real one would.
 * With the host's driver-install.reboot file present (a kernel module in use
 * that cannot be swapped live) the new driver is left for the next boot:
 * nvidia-smi reports a driver/library version mismatch until the host reboots.
 */
import fs from 'node:fs';
import path from 'node:path';
import { driverLoaded, FILES, readHardware, sleepSync, withStateLock, writeHardware } from './sim-state.ts';

const USAGE = 'usage: tessera-sim-driver-install <version> [--duration-ms N]\n';

export function install(dir: string, argv: readonly string[], log: (s: string) => void): number {
  const [version, ...rest] = argv;
  let durationMs = 0;
  for (let k = 0; k < rest.length; k++) {
    if (rest[k] === '--duration-ms' && /^\d{1,7}$/.test(rest[k + 1] ?? '')) durationMs = Number(rest[++k]);
    else {
      log(USAGE);
      return 2;
    }
  }
  if (version === undefined || !/^\d{2,4}\.\d{1,3}(\.\d{1,3})?$/.test(version)) {
    log(`ERROR: "${version ?? ''}" is not a driver version (expected e.g. 550.54.15)\n${USAGE}`);
    return 2;
  }
  if (readHardware(dir).length === 0) {
    log('ERROR: Unable to find a supported NVIDIA GPU.\n');
    return 1;
  }
  log(`Verifying archive integrity... OK\nUncompressing NVIDIA Accelerated Graphics Driver for Linux-x86_64 ${version}\n`);
  const marker = path.join(dir, FILES.installing);
  fs.writeFileSync(marker, version + '\n');
  if (durationMs > 0) sleepSync(durationMs);
  if (fs.existsSync(path.join(dir, FILES.installFault))) {
    fs.rmSync(marker, { force: true });
    log('ERROR: An error occurred while performing the step: "Building kernel modules". See /var/log/nvidia-installer.log for details.\n');
    return 1;
  }
  if (fs.existsSync(path.join(dir, FILES.installNeedsReboot))) {
    // The running kernel keeps the old module; the new one loads at the next boot (SshdHost.reboot applies it).
    fs.writeFileSync(path.join(dir, FILES.driverPending), version + '\n');
    fs.rmSync(marker, { force: true });
    log(`Installation of the NVIDIA Accelerated Graphics Driver for Linux-x86_64 (version: ${version}) is now complete. Please reboot your system to load the new kernel module.\n`);
    return 0;
  }
  withStateLock(dir, () => writeHardware(dir, readHardware(dir).map((g) => ({ ...g, driver: version }))));
  driverLoaded(dir, version);
  fs.rmSync(path.join(dir, FILES.driverPending), { force: true });
  fs.rmSync(marker, { force: true });
  log(`Installation of the NVIDIA Accelerated Graphics Driver for Linux-x86_64 (version: ${version}) is now complete.\n`);
  return 0;
}

function main(): void {
  const dir = process.env.TESSERA_SIM_DIR;
  if (!dir) {
    process.stderr.write('tessera-sim-driver-install: TESSERA_SIM_DIR is not set\n');
    process.exit(1);
  }
  const code = install(dir, process.argv.slice(2), (s) => process.stdout.write(s));
  process.stdout.write('', () => process.exit(code));
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) main();
