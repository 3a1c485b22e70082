/**
 * MIG layout checks for one GPU: validation of a hand-made layout with a plain
 * sentence per problem, automatic placement with a reason when none exists,
 * free space, and the difference between two layouts. Geometry comes from
 * mig-geometry.ts (real `-lgipp` placements, keyed by profile name).
 */
import { placeOnGpu, profileOf } from './mig-geometry.ts';
import type { MigModel, MigProfile, Placement } from './mig-geometry.ts';

/** One GPU instance as the user places it: a profile and a start on the memory-slice axis. */
export interface LayoutItem {
  profile: string;
  start: number;
}

export type LayoutProblemKind = 'unknown-profile' | 'bad-start' | 'overlap' | 'out-of-range' | 'too-many' | 'media-engine' | 'compute';

export interface LayoutProblem {
  /** Index into the placements given, when the problem belongs to one instance. */
  index?: number;
  kind: LayoutProblemKind;
  message: string;
}

export interface LayoutValidation {
  ok: boolean;
  problems: LayoutProblem[];
}

export type AutoPlaceResult = { ok: true; placements: Placement[] } | { ok: false; reason: string };

export interface FreeSpace {
  /** Memory slices no instance covers, ascending. */
  freeSlices: number[];
  /** Profiles (in the model's order) that could still be added at some allowed start. */
  fits: string[];
}

export interface LayoutDiff<T extends LayoutItem = LayoutItem> {
  kept: T[];
  removed: T[];
  added: T[];
}

/** "a", "a or b", "a, b or c". */
function orList(items: readonly (string | number)[]): string {
  if (items.length <= 1) return items.map(String).join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

function andList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function slicesWord(from: number, to: number): string {
  return from === to ? `slice ${from}` : `slices ${from}–${to}`;
}

/** "slice 0", "slices 0 or 4", "slices 0, 2 or 4". */
export function describeStarts(p: MigProfile): string {
  return p.starts.length === 1 ? `slice ${p.starts[0]}` : `slices ${orList(p.starts)}`;
}

const at = (item: LayoutItem) => `${item.profile} at slice ${item.start}`;

/** "an A100 80GB", "an H100 NVL" (read "aitch"), "an A30". */
function article(label: string): string {
  return /^[AEFHILMNORSX8]/i.test(label) ? `an ${label}` : `a ${label}`;
}

/** Checks a layout against the model's geometry. An empty layout is valid. */
export function validateLayout(model: MigModel, placements: readonly LayoutItem[]): LayoutValidation {
  const problems: LayoutProblem[] = [];
  const a = article(model.label);
  const last = model.memorySlices - 1;
  const known: { index: number; item: LayoutItem; p: MigProfile; from: number; to: number }[] = [];

  placements.forEach((item, index) => {
    const p = profileOf(model, item.profile);
    if (!p) {
      problems.push({
        index,
        kind: 'unknown-profile',
        message: `${at(item)}: ${a} has no ${item.profile} profile (it has ${andList(model.profiles.map((q) => q.name))}).`,
      });
      return;
    }
    const start = item.start;
    if (!Number.isInteger(start) || start < 0 || start + p.memorySlices > model.memorySlices) {
      const span = Number.isInteger(start) ? ` it would cover ${slicesWord(start, start + p.memorySlices - 1)}, but` : '';
      problems.push({
        index,
        kind: 'out-of-range',
        message: `${at(item)}: it takes ${p.memorySlices} memory slice${p.memorySlices === 1 ? '' : 's'};${span} ${a} has slices 0–${last} only.`,
      });
    } else if (!p.starts.includes(start)) {
      problems.push({ index, kind: 'bad-start', message: `${at(item)}: this profile may only start at ${describeStarts(p)}.` });
    }
    if (Number.isInteger(start)) {
      const from = Math.max(0, start);
      const to = Math.min(last, start + p.memorySlices - 1);
      if (from <= to) known.push({ index, item, p, from, to });
    }
  });

  for (let j = 1; j < known.length; j++) {
    const b = known[j]!;
    for (let i = 0; i < j; i++) {
      const x = known[i]!;
      const from = Math.max(x.from, b.from);
      const to = Math.min(x.to, b.to);
      if (from <= to) {
        problems.push({
          index: b.index,
          kind: 'overlap',
          message: `${at(b.item)} overlaps ${at(x.item)}: both use memory ${slicesWord(from, to)}.`,
        });
      }
    }
  }

  // Every instance of a known profile counts towards max counts, media engines and compute, wherever it sits.
  const byProfile = new Map<string, { index: number; item: LayoutItem; p: MigProfile }[]>();
  placements.forEach((item, index) => {
    const p = profileOf(model, item.profile);
    if (p) byProfile.set(p.name, [...(byProfile.get(p.name) ?? []), { index, item, p }]);
  });

  const media = [...byProfile.values()].flat().filter((k) => k.p.media).sort((x, y) => x.index - y.index);
  for (const [name, list] of byProfile) {
    const p = list[0]!.p;
    if (list.length <= p.maxCount) continue;
    if (p.media && media.length > 1) continue; // the media-engine problem below says it better
    const sorted = [...list].sort((x, y) => x.index - y.index);
    problems.push({
      index: sorted[p.maxCount]!.index,
      kind: 'too-many',
      message: `${list.length}x ${name} (${andList(sorted.map((k) => `at slice ${k.item.start}`))}): ${a} allows at most ${p.maxCount}.`,
    });
  }
  if (media.length > 1) {
    problems.push({
      index: media[1]!.index,
      kind: 'media-engine',
      message: `${andList(media.map((k) => at(k.item)))} ${media.length === 2 ? 'both' : 'all'} need the media engines; a GPU has one set, so only one +me instance fits.`,
    });
  }

  const compute = [...byProfile.values()].flat().reduce((s, k) => s + k.p.computeSlices, 0);
  if (compute > model.computeSlices) {
    problems.push({
      kind: 'compute',
      message: `These instances need ${compute} compute slices; ${a} has ${model.computeSlices}.`,
    });
  }

  return { ok: problems.length === 0, problems };
}

/** "2x 3g.40gb", "2x 3g.40gb with 1x 2g.20gb", "2x 3g.40gb, 1x 2g.20gb with 1x 1g.10gb". */
function describeCounts(entries: [string, number][]): string {
  const parts = entries.map(([n, c]) => `${c}x ${n}`);
  if (parts.length <= 1) return parts.join('');
  return `${parts.slice(0, -1).join(', ')} with ${parts[parts.length - 1]}`;
}

/**
 * Places the given instance counts on one GPU (via placeOnGpu). When no
 * placement exists, the reason says why in one sentence.
 */
export function autoPlace(model: MigModel, counts: Readonly<Record<string, number>>): AutoPlaceResult {
  const a = article(model.label);
  const wanted: [MigProfile, number][] = [];
  for (const [name, n] of Object.entries(counts)) {
    if (!Number.isInteger(n) || n < 0) return { ok: false, reason: `The count for ${name} is ${n}; counts must be whole numbers, 0 or more.` };
    if (n === 0) continue;
    const p = profileOf(model, name);
    if (!p) return { ok: false, reason: `${a} has no ${name} profile (it has ${andList(model.profiles.map((q) => q.name))}).` };
    wanted.push([p, n]);
  }
  wanted.sort(([x], [y]) => y.memorySlices - x.memorySlices || y.computeSlices - x.computeSlices || x.name.localeCompare(y.name));
  for (const [p, n] of wanted) {
    if (n > p.maxCount) return { ok: false, reason: `${n}x ${p.name}: ${a} allows at most ${p.maxCount}.` };
  }
  const mediaCount = wanted.filter(([p]) => p.media).reduce((s, [, n]) => s + n, 0);
  if (mediaCount > 1) {
    const names = wanted.filter(([p]) => p.media).map(([p, n]) => `${n}x ${p.name}`);
    return { ok: false, reason: `${andList(names)} would need ${mediaCount} sets of media engines; a GPU has one, so only one +me instance fits.` };
  }
  const compute = wanted.reduce((s, [p, n]) => s + p.computeSlices * n, 0);
  if (compute > model.computeSlices) return { ok: false, reason: `Needs ${compute} compute slices; ${a} has ${model.computeSlices}.` };
  const what = `No arrangement fits ${describeCounts(wanted.map(([p, n]) => [p.name, n]))} on ${a}`;
  const memory = wanted.reduce((s, [p, n]) => s + p.memorySlices * n, 0);
  if (memory > model.memorySlices) return { ok: false, reason: `${what}: they need ${memory} memory slices and it has ${model.memorySlices}.` };
  const placements = placeOnGpu(model, Object.fromEntries(wanted.map(([p, n]) => [p.name, n])));
  if (!placements) {
    const rules = wanted.map(([p]) => `${p.name} may only start at ${describeStarts(p)} and takes ${p.memorySlices} memory slice${p.memorySlices === 1 ? '' : 's'}`);
    return { ok: false, reason: `${what}: ${rules.join('; ')}.` };
  }
  return { ok: true, placements };
}

/**
 * Free memory slices and the profiles that could still be added (allowed
 * start free, max count, media engines and compute slices respected).
 * Instances of unknown profiles are ignored.
 */
export function freeSpace(model: MigModel, placements: readonly LayoutItem[]): FreeSpace {
  const used = new Array<boolean>(model.memorySlices).fill(false);
  const count = new Map<string, number>();
  let compute = 0;
  let media = 0;
  for (const item of placements) {
    const p = profileOf(model, item.profile);
    if (!p) continue;
    count.set(p.name, (count.get(p.name) ?? 0) + 1);
    compute += p.computeSlices;
    if (p.media) media++;
    for (let k = Math.max(0, item.start); k < Math.min(model.memorySlices, item.start + p.memorySlices); k++) used[k] = true;
  }
  const freeSlices = used.flatMap((u, i) => (u ? [] : [i]));
  const fits = model.profiles
    .filter((p) => {
      if ((count.get(p.name) ?? 0) >= p.maxCount) return false;
      if (p.media && media > 0) return false;
      if (compute + p.computeSlices > model.computeSlices) return false;
      return p.starts.some((s) => s + p.memorySlices <= model.memorySlices && used.slice(s, s + p.memorySlices).every((u) => !u));
    })
    .map((p) => p.name);
  return { freeSlices, fits };
}

/**
 * What changes between two layouts of one GPU. An instance is kept when the
 * planned layout has the same profile at the same start; duplicates are
 * matched one for one.
 */
export function layoutDiff<T extends LayoutItem>(current: readonly T[], planned: readonly T[]): LayoutDiff<T> {
  const key = (x: LayoutItem) => `${x.profile}@${x.start}`;
  const pool = new Map<string, T[]>();
  for (const c of current) pool.set(key(c), [...(pool.get(key(c)) ?? []), c]);
  const kept: T[] = [];
  const added: T[] = [];
  for (const p of planned) {
    const list = pool.get(key(p));
    if (list && list.length) kept.push(list.shift()!);
    else added.push(p);
  }
  const removed = current.filter((c) => !kept.includes(c));
  return { kept, removed, added };
}
