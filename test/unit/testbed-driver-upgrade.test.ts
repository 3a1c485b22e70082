// The pure parts of the simulated driver upgrade controller: policy defaults,
// maxUnavailable scaling, pod selectors, and reading/writing driver versions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fleetSpec } from '../testbed/fleet/catalog.ts';
import { currentVersion, matchesSelector, normalizePolicy, scaledMaxUnavailable } from '../testbed/fleet/driver-upgrade.ts';
import { DRIVER_VERSION_RE, installedDriver, parseDriverVersion } from '../testbed/fleet/gpus.ts';
import { gfdLabels } from '../testbed/fleet/labels.ts';

test('upgrade policy: Helm and API defaults when fields are missing', () => {
  const p = normalizePolicy({ autoUpgrade: true });
  assert.equal(p.autoUpgrade, true);
  assert.equal(p.maxParallelUpgrades, 1);
  assert.equal(p.maxUnavailable, undefined);
  assert.deepEqual(p.podDeletion, { force: false, timeoutSeconds: 300 });
  assert.equal(p.drain.enable, false);
  assert.equal(p.waitForCompletion.timeoutSeconds, 0);
  // No policy at all: auto-upgrade is off, so the controller leaves nodes alone.
  assert.equal(normalizePolicy(undefined).autoUpgrade, false);
  assert.equal(normalizePolicy({ autoUpgrade: 'true' }).autoUpgrade, false, 'a string is not a bool');
  assert.equal(normalizePolicy({ maxParallelUpgrades: 0 }).maxParallelUpgrades, 0, '0 means unlimited, kept as 0');
});

test('maxUnavailable: percentages round up against the managed node count, like intstr with roundUp', () => {
  assert.equal(scaledMaxUnavailable('25%', 19), 5);
  assert.equal(scaledMaxUnavailable('25%', 200), 50);
  assert.equal(scaledMaxUnavailable('1%', 3), 1);
  assert.equal(scaledMaxUnavailable('100%', 7), 7);
  assert.equal(scaledMaxUnavailable(2, 100), 2);
  assert.equal(scaledMaxUnavailable('3', 100), 3);
  assert.equal(scaledMaxUnavailable(undefined, 12), 12, 'absent: every node');
});

test('pod selectors: equality, inequality, existence', () => {
  const labels = { app: 'train', tier: 'gpu' };
  assert.equal(matchesSelector('', labels), true);
  assert.equal(matchesSelector('app=train', labels), true);
  assert.equal(matchesSelector('app==train,tier=gpu', labels), true);
  assert.equal(matchesSelector('app=serve', labels), false);
  assert.equal(matchesSelector('app!=train', labels), false);
  assert.equal(matchesSelector('tier', labels), true);
  assert.equal(matchesSelector('!tier', labels), false);
  assert.equal(matchesSelector('missing', labels), false);
  assert.equal(matchesSelector('nvidia.com/gpu-driver-upgrade-drain.skip!=true', undefined), true);
});

test('driver versions: any version an upgrade installs gets labels in both GFD generations and its CUDA', () => {
  assert.equal(parseDriverVersion('550.127.05').cuda.join('.'), '12.4');
  const v = parseDriverVersion('580.95.05');
  assert.deepEqual([v.major, v.minor, v.revision, v.cuda.join('.')], ['580', '95', '05', '13.0']);
  assert.ok(DRIVER_VERSION_RE.test('595.91.07'));
  assert.ok(!DRIVER_VERSION_RE.test('latest'));
  assert.ok(!DRIVER_VERSION_RE.test('550.127.05; rm -rf /'));

  const spec = fleetSpec(24).find((s) => s.gpu?.labels === 'both')!;
  spec.gpu!.driverVersion = '580.95.05';
  const labels = gfdLabels(spec);
  assert.equal(labels['nvidia.com/cuda.driver-version.full'], '580.95.05');
  assert.equal(labels['nvidia.com/cuda.driver.major'], '580');
  assert.equal(labels['nvidia.com/cuda.runtime-version.full'], '13.0');
  assert.equal(currentVersion(labels), '580.95.05');
  // Only the deprecated generation (old GFD): the version is read back from major/minor/rev.
  assert.equal(currentVersion({ 'nvidia.com/cuda.driver.major': '535', 'nvidia.com/cuda.driver.minor': '183', 'nvidia.com/cuda.driver.rev': '01' }), '535.183.01');
  assert.equal(currentVersion({}), undefined);
});

test('fleetSpec: each node owns its GPU record, and --driver-version puts every GPU node on one version', () => {
  const specs = fleetSpec(48);
  const a = specs[0]!;
  const b = specs[24]!; // same archetype, next repetition
  assert.equal(a.gpu!.model, b.gpu!.model);
  a.gpu!.driverVersion = '580.95.05';
  assert.notEqual(installedDriver(b.gpu!).full, '580.95.05', 'upgrading one node leaves its twin alone');
  const forced = fleetSpec(24, { driverVersion: '575.57.08' }).filter((s) => s.gpu);
  assert.ok(forced.length > 0 && forced.every((s) => installedDriver(s.gpu!).full === '575.57.08'));
  const mixed = new Set(fleetSpec(24).filter((s) => s.gpu).map((s) => installedDriver(s.gpu!).full));
  assert.ok(mixed.size >= 3, 'without it, the catalog mixes branches');
});
