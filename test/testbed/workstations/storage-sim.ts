// A simulated CSI driver with its sidecars, for the storage class and the
// snapshot classes of apis.ts: the external-provisioner (a PVC of the class
// gets a PV, which kube-controller-manager's PV controller then binds; a PVC
// whose dataSource is a VolumeSnapshot or a PVC waits until that source is
// usable, as the real one does), the snapshot-controller plus csi-snapshotter
// (a VolumeSnapshot gets a VolumeSnapshotContent and, after a short delay,
// readyToUse with restoreSize; pre-provisioned contents are bound too), and
// the deletions both sides make (Released PVs, contents whose snapshot is gone).
// It polls: the objects are few, and a tick of five small lists is cheap.
import { Kube, KubeError } from '../kube.ts';
import { SIM_DRIVER } from './apis.ts';

const SNAP = '/apis/snapshot.storage.k8s.io/v1';
const GI = 2 ** 30;
/** How long a snapshot takes to be cut, by default. */
export const SNAPSHOT_READY_MS = 1500;

interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
}
interface Pvc {
  metadata: Meta;
  spec: { storageClassName?: string; volumeName?: string; accessModes?: string[]; resources?: { requests?: { storage?: string } }; dataSource?: { apiGroup?: string; kind: string; name: string }; volumeMode?: string };
  status?: { phase?: string; capacity?: { storage?: string } };
}
interface Pv {
  metadata: Meta;
  spec: { csi?: { driver: string; volumeHandle: string }; capacity?: { storage?: string }; persistentVolumeReclaimPolicy?: string; claimRef?: { namespace: string; name: string; uid?: string } };
  status?: { phase?: string };
}
interface Snapshot {
  metadata: Meta;
  spec: { volumeSnapshotClassName?: string; source: { persistentVolumeClaimName?: string; volumeSnapshotContentName?: string } };
  status?: { boundVolumeSnapshotContentName?: string; readyToUse?: boolean; restoreSize?: string; creationTime?: string; error?: { message?: string; time?: string } };
}
interface Content {
  metadata: Meta;
  spec: { deletionPolicy: string; driver: string; source: { volumeHandle?: string; snapshotHandle?: string }; volumeSnapshotClassName?: string; volumeSnapshotRef: { name: string; namespace: string; uid?: string } };
  status?: { snapshotHandle?: string; readyToUse?: boolean; restoreSize?: number; creationTime?: number; error?: { message?: string } };
}
interface Klass {
  metadata: Meta;
  driver?: string;
  provisioner?: string;
  deletionPolicy?: string;
  reclaimPolicy?: string;
}

/** Bytes of a storage quantity (the forms PVCs use: Ki..Ei, k..E, plain). */
export function storageBytes(q: string | undefined): number {
  if (!q) return 0;
  const m = /^(\d+(?:\.\d+)?)([KMGTPE]i?|k)?$/.exec(q.trim());
  if (!m) return 0;
  const unit = m[2] ?? '';
  const pow: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: GI, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  return Math.round(Number(m[1]) * (pow[unit] ?? 1));
}

/** A byte count as the quantity a CSI sidecar writes (Gi when whole). */
export function bytesQuantity(b: number): string {
  if (b % GI === 0) return `${b / GI}Gi`;
  if (b % 2 ** 20 === 0) return `${b / 2 ** 20}Mi`;
  return String(b);
}

export class StorageSim {
  /** When each snapshot was first seen: it turns ready SNAPSHOT_READY_MS later. */
  private readonly seen = new Map<string, number>();
  private readonly warned = new Set<string>();

  constructor(
    private readonly kube: Kube,
    private readonly log: (m: string) => void,
    private readonly readyMs = SNAPSHOT_READY_MS,
  ) {}

  async tick(): Promise<void> {
    const [scs, vscs, pvcs, pvs, snaps, contents] = await Promise.all([
      this.kube.get<{ items: Klass[] }>('/apis/storage.k8s.io/v1/storageclasses'),
      this.kube.get<{ items: Klass[] }>(`${SNAP}/volumesnapshotclasses`),
      this.kube.get<{ items: Pvc[] }>('/api/v1/persistentvolumeclaims'),
      this.kube.get<{ items: Pv[] }>('/api/v1/persistentvolumes'),
      this.kube.get<{ items: Snapshot[] }>(`${SNAP}/volumesnapshots`),
      this.kube.get<{ items: Content[] }>(`${SNAP}/volumesnapshotcontents`),
    ]);
    const ourClasses = new Map(scs.items.filter((c) => c.provisioner === SIM_DRIVER).map((c) => [c.metadata.name, c]));
    const snapClasses = new Map(vscs.items.filter((c) => c.driver === SIM_DRIVER).map((c) => [c.metadata.name, c]));
    const pvByName = new Map(pvs.items.map((p) => [p.metadata.name, p]));
    const pvcByKey = new Map(pvcs.items.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
    const snapByKey = new Map(snaps.items.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
    const contentByName = new Map(contents.items.map((c) => [c.metadata.name, c]));

    for (const pvc of pvcs.items) {
      const cls = pvc.spec.storageClassName ? ourClasses.get(pvc.spec.storageClassName) : undefined;
      if (!cls || pvc.spec.volumeName || pvc.metadata.deletionTimestamp) continue;
      const pvName = `pvc-${pvc.metadata.uid}`;
      if (pvByName.has(pvName)) continue;
      await this.provision(pvc, cls, pvName, pvcByKey, pvByName, snapByKey).catch((err) => this.log(`provision ${pvc.metadata.namespace}/${pvc.metadata.name}: ${msg(err)}`));
    }
    for (const pv of pvs.items) {
      if (pv.spec.csi?.driver !== SIM_DRIVER || pv.status?.phase !== 'Released' || pv.spec.persistentVolumeReclaimPolicy !== 'Delete') continue;
      await this.kube.delete(`/api/v1/persistentvolumes/${pv.metadata.name}`).then(
        () => this.log(`deleted released volume ${pv.metadata.name}`),
        (err) => this.log(`delete ${pv.metadata.name}: ${msg(err)}`),
      );
    }
    for (const snap of snaps.items) {
      if (snap.metadata.deletionTimestamp || snap.status?.readyToUse) continue;
      await this.snapshot(snap, snapClasses, pvcByKey, pvByName, contentByName, contents.items).catch((err) => this.log(`snapshot ${snap.metadata.namespace}/${snap.metadata.name}: ${msg(err)}`));
    }
    for (const c of contents.items) {
      if (c.spec.driver !== SIM_DRIVER || c.metadata.deletionTimestamp) continue;
      const ref = c.spec.volumeSnapshotRef;
      const snap = snapByKey.get(`${ref.namespace}/${ref.name}`);
      // Bound once (uid set) and that snapshot is gone (or replaced by another of the same name).
      if (ref.uid && (!snap || snap.metadata.uid !== ref.uid)) {
        if (c.spec.deletionPolicy === 'Delete') {
          await this.kube.delete(`${SNAP}/volumesnapshotcontents/${c.metadata.name}`).then(
            () => this.log(`deleted snapshot content ${c.metadata.name}`),
            (err) => this.log(`delete ${c.metadata.name}: ${msg(err)}`),
          );
        }
      }
    }
    for (const key of this.seen.keys()) if (!snapByKey.has(key.slice(key.indexOf('|') + 1))) this.seen.delete(key);
  }

  private async provision(pvc: Pvc, cls: Klass, pvName: string, pvcs: Map<string, Pvc>, pvs: Map<string, Pv>, snaps: Map<string, Snapshot>): Promise<void> {
    const ns = pvc.metadata.namespace!;
    const want = storageBytes(pvc.spec.resources?.requests?.storage);
    const ds = pvc.spec.dataSource;
    let origin = 'empty';
    if (ds) {
      if (ds.kind === 'VolumeSnapshot' && ds.apiGroup === 'snapshot.storage.k8s.io') {
        const snap = snaps.get(`${ns}/${ds.name}`);
        if (!snap?.status?.readyToUse) return this.wait(pvc, `snapshot ${ns}/${ds.name} is ${snap ? 'not ready yet' : 'not found'}`);
        const size = storageBytes(snap.status.restoreSize);
        if (want < size) return this.wait(pvc, `requested ${bytesQuantity(want)} is smaller than the snapshot's restore size ${snap.status.restoreSize}`);
        origin = `snapshot ${ds.name}`;
      } else if (ds.kind === 'PersistentVolumeClaim' && !ds.apiGroup) {
        const src = pvcs.get(`${ns}/${ds.name}`);
        if (!src || src.status?.phase !== 'Bound') return this.wait(pvc, `source claim ${ns}/${ds.name} is ${src ? 'not bound' : 'not found'}`);
        if (src.spec.storageClassName !== pvc.spec.storageClassName) return this.wait(pvc, `source claim ${ds.name} is of another storage class`);
        const size = storageBytes(pvs.get(src.spec.volumeName ?? '')?.spec.capacity?.storage ?? src.status?.capacity?.storage);
        if (want < size) return this.wait(pvc, `requested ${bytesQuantity(want)} is smaller than the source claim (${bytesQuantity(size)})`);
        origin = `clone of ${ds.name}`;
      } else {
        return this.wait(pvc, `unsupported dataSource ${ds.kind}`);
      }
    }
    await this.kube.create('/api/v1/persistentvolumes', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pvName, annotations: { 'pv.kubernetes.io/provisioned-by': SIM_DRIVER, 'tessera.dev/sim-origin': origin } },
      spec: {
        capacity: { storage: bytesQuantity(want) },
        accessModes: pvc.spec.accessModes?.length ? pvc.spec.accessModes : ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: cls.reclaimPolicy ?? 'Delete',
        storageClassName: cls.metadata.name,
        volumeMode: pvc.spec.volumeMode ?? 'Filesystem',
        claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name: pvc.metadata.name, uid: pvc.metadata.uid },
        csi: { driver: SIM_DRIVER, volumeHandle: `vol-${pvc.metadata.uid}`, fsType: 'ext4' },
      },
    });
    this.log(`provisioned ${pvName} for ${ns}/${pvc.metadata.name} (${origin})`);
  }

  private wait(pvc: Pvc, why: string): void {
    const key = `${pvc.metadata.uid}:${why}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log(`waiting to provision ${pvc.metadata.namespace}/${pvc.metadata.name}: ${why}`);
  }

  private async snapshot(snap: Snapshot, classes: Map<string, Klass>, pvcs: Map<string, Pvc>, pvs: Map<string, Pv>, contents: Map<string, Content>, all: Content[]): Promise<void> {
    const ns = snap.metadata.namespace!;
    const path = `${SNAP}/namespaces/${ns}/volumesnapshots/${snap.metadata.name}`;
    const src = snap.spec.source ?? {};
    const seenKey = `${snap.metadata.uid}|${ns}/${snap.metadata.name}`;
    if (!this.seen.has(seenKey)) this.seen.set(seenKey, Date.now());
    const due = Date.now() - this.seen.get(seenKey)! >= this.readyMs;

    if (src.volumeSnapshotContentName && !src.persistentVolumeClaimName) {
      // Pre-provisioned: bind to the named content if it points back here.
      const c = contents.get(src.volumeSnapshotContentName);
      if (!c) return this.fail(snap, path, `VolumeSnapshotContent ${src.volumeSnapshotContentName} not found`);
      if (c.spec.volumeSnapshotRef.namespace !== ns || c.spec.volumeSnapshotRef.name !== snap.metadata.name) return this.fail(snap, path, `VolumeSnapshotContent ${c.metadata.name} is bound to ${c.spec.volumeSnapshotRef.namespace}/${c.spec.volumeSnapshotRef.name}`);
      const handle = c.spec.source.snapshotHandle ?? c.status?.snapshotHandle;
      const size = all.find((o) => o.status?.snapshotHandle === handle && o.status?.restoreSize)?.status?.restoreSize;
      if (!handle || !size) return this.fail(snap, path, `no snapshot ${handle ?? '(no handle)'} on driver ${SIM_DRIVER}`);
      if (!c.spec.volumeSnapshotRef.uid) await this.kube.patch(`${SNAP}/volumesnapshotcontents/${c.metadata.name}`, { spec: { volumeSnapshotRef: { uid: snap.metadata.uid } } });
      await this.kube.patch(`${SNAP}/volumesnapshotcontents/${c.metadata.name}/status`, { status: { snapshotHandle: handle, readyToUse: true, restoreSize: size, creationTime: Date.now() * 1e6 } });
      await this.kube.patch(`${path}/status`, { status: { boundVolumeSnapshotContentName: c.metadata.name, readyToUse: true, restoreSize: bytesQuantity(size), creationTime: new Date().toISOString(), error: null } });
      this.log(`bound pre-provisioned snapshot ${ns}/${snap.metadata.name} to ${c.metadata.name}`);
      return;
    }
    if (!src.persistentVolumeClaimName || src.volumeSnapshotContentName) return this.fail(snap, path, 'exactly one of source.persistentVolumeClaimName and source.volumeSnapshotContentName must be set');
    const defaultClass = [...classes.values()].find((c) => c.metadata.annotations?.['snapshot.storage.kubernetes.io/is-default-class'] === 'true');
    const className = snap.spec.volumeSnapshotClassName ?? defaultClass?.metadata.name;
    const cls = className ? classes.get(className) : undefined;
    if (!cls) return; // another driver's snapshot, or no class: not ours
    if (!snap.spec.volumeSnapshotClassName) await this.kube.patch(path, { spec: { volumeSnapshotClassName: cls.metadata.name } });
    const pvc = pvcs.get(`${ns}/${src.persistentVolumeClaimName}`);
    const pv = pvc?.spec.volumeName ? pvs.get(pvc.spec.volumeName) : undefined;
    if (!pvc || pvc.status?.phase !== 'Bound' || !pv?.spec.csi) return this.fail(snap, path, `claim ${ns}/${src.persistentVolumeClaimName} is ${pvc ? 'not bound' : 'not found'}`);
    const contentName = `snapcontent-${snap.metadata.uid}`;
    if (!contents.has(contentName)) {
      await this.kube.create(`${SNAP}/volumesnapshotcontents`, {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshotContent',
        metadata: { name: contentName },
        spec: { deletionPolicy: cls.deletionPolicy ?? 'Delete', driver: SIM_DRIVER, source: { volumeHandle: pv.spec.csi.volumeHandle }, volumeSnapshotClassName: cls.metadata.name, volumeSnapshotRef: { name: snap.metadata.name, namespace: ns, uid: snap.metadata.uid } },
      });
      await this.kube.patch(`${path}/status`, { status: { boundVolumeSnapshotContentName: contentName, readyToUse: false } });
      this.log(`cutting snapshot ${ns}/${snap.metadata.name} of ${pvc.metadata.name} (${contentName})`);
    }
    if (!due) return;
    const size = storageBytes(pv.spec.capacity?.storage);
    const handle = `snap-${snap.metadata.uid}`;
    await this.kube.patch(`${SNAP}/volumesnapshotcontents/${contentName}/status`, { status: { snapshotHandle: handle, readyToUse: true, restoreSize: size, creationTime: Date.now() * 1e6 } });
    await this.kube.patch(`${path}/status`, { status: { boundVolumeSnapshotContentName: contentName, readyToUse: true, restoreSize: bytesQuantity(size), creationTime: new Date().toISOString(), error: null } });
    this.log(`snapshot ${ns}/${snap.metadata.name} ready (${bytesQuantity(size)})`);
  }

  private async fail(snap: Snapshot, path: string, message: string): Promise<void> {
    if (snap.status?.error?.message === message) return;
    await this.kube.patch(`${path}/status`, { status: { readyToUse: false, error: { message, time: new Date().toISOString() } } });
    this.log(`snapshot ${snap.metadata.namespace}/${snap.metadata.name}: ${message}`);
  }
}

function msg(err: unknown): string {
  if (err instanceof KubeError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
