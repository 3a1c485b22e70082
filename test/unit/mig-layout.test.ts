import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIG_MODELS } from '../../shared/gpu/mig-geometry.ts';
import { autoPlace, freeSpace, layoutDiff, validateLayout } from '../../shared/gpu/mig-layout.ts';
import type { LayoutProblemKind } from '../../shared/gpu/mig-layout.ts';

const model = (key: string) => MIG_MODELS.find((m) => m.key === key)!;
const a100 = model('A100-80GB');
const a30 = model('A30');
const kinds = (r: { problems: { kind: LayoutProblemKind }[] }) => r.problems.map((p) => p.kind).sort();

test('a valid layout has no problems; the empty layout is valid', () => {
  const r = validateLayout(a100, [
    { profile: '3g.40gb', start: 4 },
    { profile: '2g.20gb', start: 2 },
    { profile: '1g.10gb', start: 0 },
    { profile: '1g.10gb', start: 1 },
  ]);
  assert.deepEqual(r, { ok: true, problems: [] });
  assert.deepEqual(validateLayout(a100, []), { ok: true, problems: [] });
  assert.equal(validateLayout(a100, [{ profile: '7g.80gb', start: 0 }]).ok, true);
});

test('bad start names the instance and the allowed starts', () => {
  const r = validateLayout(a100, [{ profile: '3g.40gb', start: 2 }]);
  assert.equal(r.ok, false);
  assert.deepEqual(r.problems, [{ index: 0, kind: 'bad-start', message: '3g.40gb at slice 2: this profile may only start at slices 0 or 4.' }]);
  const two = validateLayout(a100, [{ profile: '2g.20gb', start: 1 }]);
  assert.equal(two.problems[0]?.message, '2g.20gb at slice 1: this profile may only start at slices 0, 2 or 4.');
  const seven = validateLayout(a100, [{ profile: '4g.40gb', start: 4 }]);
  assert.equal(seven.problems[0]?.message, '4g.40gb at slice 4: this profile may only start at slice 0.');
});

test('unknown profile for the model', () => {
  const r = validateLayout(a100, [{ profile: '3g.20gb', start: 0 }]);
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0]!.kind, 'unknown-profile');
  assert.equal(r.problems[0]!.index, 0);
  assert.match(r.problems[0]!.message, /^3g\.20gb at slice 0: an A100 80GB has no 3g\.20gb profile/);
  assert.match(r.problems[0]!.message, /3g\.40gb/);
});

test('overlap on the memory-slice axis names both instances and the shared slices', () => {
  const r = validateLayout(a100, [
    { profile: '3g.40gb', start: 0 },
    { profile: '2g.20gb', start: 2 },
  ]);
  assert.deepEqual(kinds(r), ['overlap']);
  assert.equal(r.problems[0]!.index, 1);
  assert.equal(r.problems[0]!.message, '2g.20gb at slice 2 overlaps 3g.40gb at slice 0: both use memory slices 2–3.');
  const same = validateLayout(a100, [
    { profile: '1g.10gb', start: 3 },
    { profile: '1g.10gb', start: 3 },
  ]);
  assert.equal(same.problems[0]?.message, '1g.10gb at slice 3 overlaps 1g.10gb at slice 3: both use memory slice 3.');
});

test('past the last slice is out of range', () => {
  const r = validateLayout(a100, [{ profile: '1g.20gb', start: 7 }]);
  assert.deepEqual(kinds(r), ['out-of-range']);
  assert.match(r.problems[0]!.message, /^1g\.20gb at slice 7: it takes 2 memory slices; it would cover slices 7–8, but an A100 80GB has slices 0–7 only\.$/);
  assert.deepEqual(kinds(validateLayout(a100, [{ profile: '1g.10gb', start: 8 }])), ['out-of-range']);
  assert.deepEqual(kinds(validateLayout(a100, [{ profile: '1g.10gb', start: -1 }])), ['out-of-range']);
  assert.deepEqual(kinds(validateLayout(a30, [{ profile: '1g.6gb', start: 4 }])), ['out-of-range']);
});

test('per-profile max count', () => {
  const r = validateLayout(a100, [
    { profile: '3g.40gb', start: 0 },
    { profile: '3g.40gb', start: 4 },
    { profile: '3g.40gb', start: 4 },
  ]);
  assert.ok(kinds(r).includes('too-many'));
  const tm = r.problems.find((p) => p.kind === 'too-many')!;
  assert.equal(tm.index, 2);
  assert.match(tm.message, /^3x 3g\.40gb .*: an A100 80GB allows at most 2\.$/);
});

test('only one +me instance per GPU (media engines), also across profiles on the A30', () => {
  const r = validateLayout(a30, [
    { profile: '1g.6gb+me', start: 0 },
    { profile: '2g.12gb+me', start: 2 },
  ]);
  assert.deepEqual(kinds(r), ['media-engine']);
  assert.equal(r.problems[0]!.index, 1);
  assert.equal(r.problems[0]!.message, '1g.6gb+me at slice 0 and 2g.12gb+me at slice 2 both need the media engines; a GPU has one set, so only one +me instance fits.');
  const twice = validateLayout(a100, [
    { profile: '1g.10gb+me', start: 0 },
    { profile: '1g.10gb+me', start: 1 },
  ]);
  assert.deepEqual(kinds(twice), ['media-engine'], 'said once, not also as too-many');
  assert.equal(validateLayout(a100, [{ profile: '1g.10gb+me', start: 0 }, { profile: '1g.10gb', start: 1 }]).ok, true);
});

test('total compute slices over the model', () => {
  // On 8-slice GPUs 8 compute slices cannot avoid another problem (1g may not start at 7), so look for the compute one among them.
  const layout = [0, 1, 2, 3, 4, 5, 6].map((s) => ({ profile: '1g.10gb', start: s }));
  const r = validateLayout(a100, [...layout, { profile: '1g.10gb+me', start: 7 }]);
  assert.deepEqual(kinds(r), ['bad-start', 'compute']);
  assert.equal(r.problems.find((p) => p.kind === 'compute')!.message, 'These instances need 8 compute slices; an A100 80GB has 7.');
});

test('autoPlace places what fits, largest first', () => {
  const r = autoPlace(a100, a100.balanced);
  assert.equal(r.ok, true);
  if (!r.ok) return;
  assert.equal(r.placements.length, 4);
  assert.equal(validateLayout(a100, r.placements).ok, true);
  assert.deepEqual(
    r.placements.map((p) => p.profile).sort(),
    ['1g.10gb', '1g.10gb', '2g.20gb', '3g.40gb'],
  );
  const zero = autoPlace(a100, { '7g.80gb': 1, '1g.10gb': 0 });
  assert.deepEqual(zero, { ok: true, placements: [{ profile: '7g.80gb', start: 0, size: 8 }] });
  assert.deepEqual(autoPlace(a100, {}), { ok: true, placements: [] });
});

test('autoPlace gives a reason when nothing fits', () => {
  assert.deepEqual(autoPlace(a100, { '1g.10gb': 7, '1g.10gb+me': 1 }), { ok: false, reason: 'Needs 8 compute slices; an A100 80GB has 7.' });
  assert.deepEqual(autoPlace(a100, { '3g.40gb': 2, '2g.20gb': 1 }), { ok: false, reason: 'Needs 8 compute slices; an A100 80GB has 7.' });
  const no = autoPlace(a100, { '1g.20gb': 3, '3g.40gb': 1 });
  assert.equal(no.ok, false);
  if (no.ok) return;
  assert.equal(no.reason, 'No arrangement fits 1x 3g.40gb with 3x 1g.20gb on an A100 80GB: they need 10 memory slices and it has 8.');
  // Real A100 placements leave no purely geometric failure once memory and compute add up,
  // so take a model whose 3g.40gb may only start at 0, like the 4g.40gb.
  const narrow = { ...a100, profiles: a100.profiles.map((p) => (p.name === '3g.40gb' ? { ...p, starts: [0] } : p)) };
  const geo = autoPlace(narrow, { '3g.40gb': 1, '4g.40gb': 1 });
  assert.deepEqual(geo, {
    ok: false,
    reason:
      'No arrangement fits 1x 4g.40gb with 1x 3g.40gb on an A100 80GB: 4g.40gb may only start at slice 0 and takes 4 memory slices; 3g.40gb may only start at slice 0 and takes 4 memory slices.',
  });
  assert.equal(autoPlace(a100, { '3g.40gb': 1, '4g.40gb': 1 }).ok, true);
  const unk = autoPlace(a100, { '5g.50gb': 1 });
  assert.equal(unk.ok, false);
  if (!unk.ok) assert.match(unk.reason, /no 5g\.50gb profile/);
  const many = autoPlace(a100, { '3g.40gb': 3 });
  if (!many.ok) assert.equal(many.reason, '3x 3g.40gb: an A100 80GB allows at most 2.');
  else assert.fail('3x 3g.40gb must not place');
  const me = autoPlace(a30, { '1g.6gb+me': 1, '2g.12gb+me': 1 });
  assert.equal(me.ok, false);
  if (!me.ok) assert.match(me.reason, /media engines/);
  const neg = autoPlace(a100, { '1g.10gb': -1 });
  assert.equal(neg.ok, false);
});

test('freeSpace lists free slices and what could still be added', () => {
  const empty = freeSpace(a100, []);
  assert.deepEqual(empty.freeSlices, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(empty.fits, a100.profiles.map((p) => p.name));
  const half = freeSpace(a100, [{ profile: '3g.40gb', start: 0 }]);
  assert.deepEqual(half.freeSlices, [4, 5, 6, 7]);
  assert.deepEqual(half.fits, ['1g.10gb', '1g.10gb+me', '1g.20gb', '2g.20gb', '3g.40gb']);
  const full = freeSpace(a100, [{ profile: '7g.80gb', start: 0 }]);
  assert.deepEqual(full, { freeSlices: [], fits: [] });
  // Slice 7 is free but 7 compute slices are used: nothing more fits.
  const seven = freeSpace(a100, [0, 1, 2, 3, 4, 5, 6].map((s) => ({ profile: '1g.10gb', start: s })));
  assert.deepEqual(seven, { freeSlices: [7], fits: [] });
  const withMe = freeSpace(a100, [{ profile: '1g.10gb+me', start: 0 }]);
  assert.ok(!withMe.fits.includes('1g.10gb+me'));
  assert.ok(withMe.fits.includes('3g.40gb'));
  assert.ok(!withMe.fits.includes('4g.40gb'), '4g.40gb only starts at 0');
});

test('layoutDiff splits kept, removed and added, matching duplicates one for one', () => {
  const current = [
    { profile: '3g.40gb', start: 0 },
    { profile: '1g.10gb', start: 4 },
    { profile: '1g.10gb', start: 5 },
  ];
  const planned = [
    { profile: '3g.40gb', start: 0 },
    { profile: '1g.10gb', start: 5 },
    { profile: '2g.20gb', start: 6 - 2 },
  ];
  assert.deepEqual(layoutDiff(current, planned), {
    kept: [{ profile: '3g.40gb', start: 0 }, { profile: '1g.10gb', start: 5 }],
    removed: [{ profile: '1g.10gb', start: 4 }],
    added: [{ profile: '2g.20gb', start: 4 }],
  });
  const dup = layoutDiff([{ profile: '1g.10gb', start: 0 }], [{ profile: '1g.10gb', start: 0 }, { profile: '1g.10gb', start: 0 }]);
  assert.equal(dup.kept.length, 1);
  assert.equal(dup.added.length, 1);
  assert.deepEqual(layoutDiff([], []), { kept: [], removed: [], added: [] });
});
