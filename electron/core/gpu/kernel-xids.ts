// XID errors as the NVIDIA kernel module logs them, one line each:
//   NVRM: Xid (PCI:0000:3b:00): 119, pid=2843, name=nvidia-smi, Timeout after 6s of waiting for RPC response from GPU0 GSP! ...
// The address is domain:bus:device; nvidia-smi names the same GPU 00000000:3B:00.0.

const XID_LINE = /NVRM: Xid \(PCI:([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})(?:\.[0-7])?\): (\d+)/i;

/** One form for both spellings of a GPU's PCI address: `0000:3b:00`. */
export function pciKey(address: string): string | undefined {
  const m = /^(?:PCI:)?([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})(?:\.[0-7])?$/i.exec(address.trim());
  return m ? `${m[1]!.slice(-4)}:${m[2]}:${m[3]}`.toLowerCase() : undefined;
}

/** The last XID per PCI address in a kernel log, in log order. */
export function lastXidByPci(log: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of log.split('\n')) {
    const m = XID_LINE.exec(line);
    if (m) out.set(`${m[1]!.slice(-4)}:${m[2]}:${m[3]}`.toLowerCase(), Number(m[4]));
  }
  return out;
}

/** `nvidia-smi --query-gpu=index,pci.bus_id --format=csv,noheader` → PCI key per GPU index. */
export function gpuIndexByPci(csv: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of csv.split('\n')) {
    const [index, bus] = line.split(',').map((c) => c.trim());
    const key = bus ? pciKey(bus) : undefined;
    if (index && /^\d+$/.test(index) && key) out.set(key, index);
  }
  return out;
}

/**
 * The last XID per GPU index (0 where none), for the xid gate. An XID on an address no GPU answers on (a GPU that
 * fell off the bus is missing from nvidia-smi) is kept under its address, so it is never lost.
 */
export function xidsByGpu(kernelLog: string, busIds: string): Record<string, number> {
  const index = gpuIndexByPci(busIds);
  const out: Record<string, number> = Object.fromEntries([...index.values()].map((i) => [i, 0]));
  for (const [pci, xid] of lastXidByPci(kernelLog)) out[index.get(pci) ?? `PCI:${pci}`] = xid;
  return out;
}
