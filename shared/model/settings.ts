/**
 * Tessera's own preferences. Plain numbers and names only: secrets (SSH
 * passphrases, tokens) go to the OS keychain through a SecretStore, never here.
 */
export interface GpuHourPrice {
  /** GPU model as GPU Feature Discovery names it, e.g. "NVIDIA-H100-80GB-HBM3", or "*" for any. */
  model: string;
  /** A MIG profile ("1g.10gb"); absent for a whole GPU. */
  profile?: string;
  /** Price of one GPU-hour (or one slice-hour for a profile), in `currency`. */
  price: number;
}

export interface Settings {
  idle: {
    /** A GPU below this utilization (%) counts as idle... */
    utilizationPercent: number;
    /** ...once it has stayed there this many minutes. */
    minutes: number;
  };
  metrics: { intervalSeconds: number };
  mig: { defaultMaxParallel: number };
  /**
   * gzip: ask API servers to compress large answers (they do for bodies over 128 KiB), for clusters behind slow
   * links such as an edge site's uplink. Off by default: on a LAN it costs the API server more CPU than it saves.
   * A cluster whose kubeconfig says `disable-compression: true` is never asked.
   */
  connection: { gzip: boolean };
  /** mirrorEvents: each audit entry about a cluster object also becomes a Kubernetes Event on it (off by default). */
  audit: { mirrorEvents: boolean };
  showback: {
    currency: string;
    prices: GpuHourPrice[];
    /** A Prometheus (kube-state-metrics and dcgm-exporter series) for showback; absent: Tessera's own, partial observations. */
    prometheusUrl?: string;
  };
}

export const DEFAULT_SETTINGS: Settings = {
  idle: { utilizationPercent: 5, minutes: 30 },
  metrics: { intervalSeconds: 15 },
  mig: { defaultMaxParallel: 1 },
  connection: { gzip: false },
  audit: { mirrorEvents: false },
  showback: { currency: 'USD', prices: [] },
};

/** Field names that suggest a secret; settings refuse them wherever they appear. */
export const SECRET_FIELD = /pass(word|phrase)?|passwd|token|secret|private.?key|credential|api.?key|bearer/i;
