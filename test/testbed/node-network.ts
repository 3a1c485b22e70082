// Each test bed's nodes live on their own 127.<K>.0.0/16 (their dcgm-exporters
// bind there on :9400, later their sshds), so two test beds on one machine must
// not share K. A claim is a directory in the temp dir naming the owning state
// dir; a claim whose owner is gone (state dir removed, processes dead) is reused.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_NODE_NET } from './fleet/catalog.ts';
import { isAlive } from './processes.ts';
import { readInfo, type TestbedInfo } from './state.ts';

const CLAIMS = path.join(os.tmpdir(), 'tessera-testbed-nets');
// 127.20.x.y belongs to the SSH test bed (test/sshbed); ten test beds at once is plenty.
const LAST_NET = 19;
/** A claim younger than this is live while its claimant runs, even before state.json exists. */
const STARTING_GRACE_MS = 10 * 60_000;

export const nodeNetworkCidr = (net: number) => `127.${net}.0.0/16`;

/** K of a test bed's 127.K.0.0/16 (test beds from before node networks used 127.10). */
export const nodeNetOf = (info: Pick<TestbedInfo, 'nodeNetwork'>): number => Number(info.nodeNetwork?.split('.')[1] ?? DEFAULT_NODE_NET);

interface Claim {
  stateDir: string;
  pid: number;
  at: number;
}

function live(net: number, c: Claim): boolean {
  const info = readInfo(c.stateDir);
  if (info?.nodeNetwork === nodeNetworkCidr(net) && Object.values(info.processes).some(isAlive)) return true;
  return Date.now() - c.at < STARTING_GRACE_MS && isAlive(c.pid);
}

function read(dir: string): Claim | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'claim.json'), 'utf8')) as Claim;
  } catch {
    return undefined;
  }
}

/** The node network for a test bed starting in stateDir: its old one, else the lowest free. */
export function claimNodeNetwork(stateDir: string): number {
  fs.mkdirSync(CLAIMS, { recursive: true });
  const mine: Claim = { stateDir, pid: process.pid, at: Date.now() };
  for (let net = DEFAULT_NODE_NET; net <= LAST_NET; net++) {
    const dir = path.join(CLAIMS, String(net));
    try {
      fs.mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const c = read(dir);
      // A claim being written right now reads as empty: leave it to its writer, unless it is old.
      if (!c && Date.now() - fs.statSync(dir).mtimeMs < 60_000) continue;
      if (c && c.stateDir !== stateDir && live(net, c)) continue;
    }
    fs.writeFileSync(path.join(dir, 'claim.json'), JSON.stringify(mine));
    return net;
  }
  throw new Error(`no free node network 127.${DEFAULT_NODE_NET}-${LAST_NET}.0.0/16 (claims in ${CLAIMS})`);
}

export function releaseNodeNetwork(stateDir: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(CLAIMS);
  } catch {
    return;
  }
  for (const e of entries) {
    const dir = path.join(CLAIMS, e);
    if (read(dir)?.stateDir === stateDir) fs.rmSync(dir, { recursive: true, force: true });
  }
}
