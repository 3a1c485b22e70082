/**
 * One list over the connected clusters, sorted by cluster, namespace and name.
 * Asked for one cluster, its failure is the answer; asked for all, one
 * unreachable cluster must not hide the others' objects.
 */
export async function listAcross<T extends { clusterId: string; namespace: string; name: string }>(
  id: string | undefined,
  connectedIds: () => string[],
  listCluster: (id: string) => Promise<T[]>,
): Promise<T[]> {
  const ids = id ? [id] : connectedIds();
  const per = await Promise.all(
    ids.map((cid) =>
      listCluster(cid).catch((err) => {
        if (id) throw err;
        return [] as T[];
      }),
    ),
  );
  return per.flat().sort((a, b) => a.clusterId.localeCompare(b.clusterId) || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}
