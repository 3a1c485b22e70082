/**
 * Keeps one stream subscription per connected cluster: starts the missing
 * ones, ends the ones whose cluster went away. Shared by every per-cluster store.
 */
export function syncPerCluster(active: Map<string, () => void>, wanted: Iterable<string>, start: (id: string) => () => void, removed: (id: string) => void): void {
  const want = new Set(wanted);
  for (const [id, off] of active) {
    if (want.has(id)) continue;
    off();
    active.delete(id);
    removed(id);
  }
  for (const id of want) if (!active.has(id)) active.set(id, start(id));
}

/** A copy of a record without one key, for store updates. */
export function without<T>(rec: Record<string, T>, key: string): Record<string, T> {
  const copy = { ...rec };
  delete copy[key];
  return copy;
}
