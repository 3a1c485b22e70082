// Whether a snapshot cut on one cluster can be restored on another, pure.
// The standard CSI path: the target cluster gets a pre-provisioned
// VolumeSnapshotContent naming the same snapshotHandle (and a VolumeSnapshot
// bound to it), and a claim restores from that. It only works where the same
// CSI driver on the target reaches the storage the handle lives on (one Ceph
// or NetApp backend serving both clusters): Kubernetes cannot tell, so
// Tessera requires a VolumeSnapshotClass and a StorageClass of the same driver
// on the target and says so when one is missing. A driver of the same name
// pointed at another backend would fail at restore, with the driver's error
// on the claim.

export interface CrossClusterSource {
  /** The CSI driver of the snapshot's content, and its handle (status.snapshotHandle). */
  driver: string;
  handle?: string;
  className?: string;
  storageClass?: string;
}

export interface CrossClusterTarget {
  clusterId: string;
  snapshotApi: boolean;
  snapshotClasses: { name: string; driver: string; default: boolean }[];
  storageClasses: { name: string; provisioner: string; default: boolean }[];
}

export type CrossClusterPlan = { ok: true; snapshotClass: string; storageClass: string } | { ok: false; reason: string };

export type { CloneTarget } from '../../../shared/contract/workstations.ts';

const pick = <T extends { name: string; default: boolean }>(list: T[], preferred?: string): T | undefined => list.find((c) => c.name === preferred) ?? list.find((c) => c.default) ?? list[0];

export function crossClusterPlan(src: CrossClusterSource, tgt: CrossClusterTarget): CrossClusterPlan {
  if (!tgt.snapshotApi) return { ok: false, reason: `cluster ${tgt.clusterId} has no VolumeSnapshot API (snapshot.storage.k8s.io/v1), so it cannot take a pre-provisioned snapshot` };
  if (!src.handle) return { ok: false, reason: 'the snapshot has no snapshot handle yet (its content is not ready)' };
  const classes = tgt.snapshotClasses.filter((c) => c.driver === src.driver);
  const cls = pick(classes, src.className);
  if (!cls) {
    const has = [...new Set(tgt.snapshotClasses.map((c) => c.driver))];
    return { ok: false, reason: `cluster ${tgt.clusterId} has no VolumeSnapshotClass for driver ${src.driver}${has.length ? ` (only ${has.join(', ')})` : ''}, so the snapshot's storage cannot be reached from there` };
  }
  const sc = pick(tgt.storageClasses.filter((c) => c.provisioner === src.driver), src.storageClass);
  if (!sc) return { ok: false, reason: `cluster ${tgt.clusterId} has no StorageClass provisioned by ${src.driver} to restore the volume into` };
  return { ok: true, snapshotClass: cls.name, storageClass: sc.name };
}
