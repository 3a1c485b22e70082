// How often simulated kubelets write, scaled so the total request rate stays
// bounded however many nodes there are. `up` uses the same plan to set the
// controller manager's node-monitor grace period, so both sides always agree.

/** Real kubelet: lease every 10 s (duration 40 s), full status every 5 min. */
const KUBELET_LEASE_INTERVAL_S = 10;
const KUBELET_LEASE_DURATION_S = 40;
const MIN_STATUS_INTERVAL_S = 60;
/** Budget for a 2-core machine that also runs etcd and the API server. */
const MAX_LEASE_RPS = 25;
const MAX_STATUS_RPS = 5;

export interface HeartbeatPlan {
  leaseIntervalS: number;
  leaseDurationS: number;
  statusIntervalS: number;
  nodeMonitorGracePeriodS: number;
}

export function heartbeatPlan(nodes: number): HeartbeatPlan {
  const leaseIntervalS = Math.max(KUBELET_LEASE_INTERVAL_S, Math.ceil(nodes / MAX_LEASE_RPS));
  // Four missed renewals before the controller marks a node Unknown, like the 10 s / 40 s defaults.
  const leaseDurationS = Math.max(KUBELET_LEASE_DURATION_S, leaseIntervalS * 4);
  return {
    leaseIntervalS,
    leaseDurationS,
    statusIntervalS: Math.max(MIN_STATUS_INTERVAL_S, Math.ceil(nodes / MAX_STATUS_RPS)),
    nodeMonitorGracePeriodS: leaseDurationS,
  };
}
