// The test bed's MIG manager pieces that need no API server: the generated
// default-mig-parted-config against the real config-default.yaml, and GFD's
// labels for layouts that differ per GPU.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import yaml from 'js-yaml';
import { MIG_MODELS, migModelFor } from '../../shared/gpu/mig-geometry.ts';
import { configCountsFor, fromMigParted } from '../../shared/gpu/mig-parted.ts';
import { fleetSpec, type NodeSpec } from '../testbed/fleet/catalog.ts';
import { buildGpus, type Gpu } from '../testbed/fleet/devices.ts';
import { gpuModel } from '../testbed/fleet/gpus.ts';
import { FLEET_DEVICE_IDS, gfdMigLabels } from '../testbed/fleet/mig-manager.ts';
import { allConfigName, clusterPolicy, defaultMigConfigYaml, startingDriverVersion } from '../testbed/fleet/operator-crds.ts';

const REAL = '/work/shared/fixtures/gpu/mig-parted-config-default.yaml';

test('the generated default config parses cleanly and names every profile as config-default.yaml does', () => {
  const { configs, problems } = fromMigParted(yaml.load(defaultMigConfigYaml()));
  assert.deepEqual(problems, []);
  for (const m of MIG_MODELS) for (const p of m.profiles) assert.ok(configs[allConfigName(p.name)], `${allConfigName(p.name)} for ${m.key}`);
  assert.equal(allConfigName('1g.10gb+me'), 'all-1g.10gb.me');
  assert.ok(configs['all-disabled'] && configs['all-enabled'] && configs['all-balanced']);
});

test('for the fleet GPUs, every config the real config-default.yaml also has gives the same layout', { skip: !fs.existsSync(REAL) && 'no shared fixture' }, () => {
  const ours = fromMigParted(yaml.load(defaultMigConfigYaml())).configs;
  const real = fromMigParted(yaml.load(fs.readFileSync(REAL, 'utf8'))).configs;
  let compared = 0;
  for (const [key, id] of Object.entries(FLEET_DEVICE_IDS)) {
    const model = migModelFor(gpuModel(key as keyof typeof FLEET_DEVICE_IDS).product)!;
    for (const [name, entries] of Object.entries(ours)) {
      const theirs = real[name];
      const mine = configCountsFor(entries, model, 0, id);
      if (!theirs || !mine) continue;
      const want = configCountsFor(theirs, model, 0, id);
      assert.ok(want, `${name} applies to ${key} in the real file too`);
      assert.deepEqual({ enabled: mine.enabled, counts: mine.counts }, { enabled: want.enabled, counts: want.counts }, `${name} on ${key}`);
      compared++;
    }
  }
  assert.ok(compared >= 20, `compared ${compared}`);
});

test('the ClusterPolicy names the MIG ConfigMap, the fleet driver and an upgrade policy', () => {
  const specs = fleetSpec(24);
  const version = startingDriverVersion(specs);
  assert.match(version, /^\d+\.\d+\.\d+$/);
  const cp = clusterPolicy(version) as { spec: any };
  assert.equal(cp.spec.migManager.config.name, 'default-mig-parted-config');
  assert.equal(cp.spec.driver.version, version);
  assert.deepEqual(Object.keys(cp.spec.driver.upgradePolicy).sort(), ['autoUpgrade', 'drain', 'maxParallelUpgrades', 'maxUnavailable', 'podDeletion', 'waitForCompletion']);
});

function a100Node(strategy: 'single' | 'mixed'): { spec: NodeSpec; gpus: Gpu[] } {
  const base = fleetSpec(24).find((s) => s.gpu?.model === 'a100_80' && !s.gpu.mig)!;
  const spec: NodeSpec = { ...base, gpu: { ...base.gpu!, mig: { strategy, config: 'custom', perGpu: { '3g.40gb': 2 } } } };
  const gpus = buildGpus(spec);
  // GPU 1 gets a different layout, as a per-index custom config would leave it.
  gpus[1] = { ...gpus[1]!, migDevices: gpus[1]!.migDevices.slice(0, 1).map((d) => ({ ...d, profile: '7g.80gb', start: 0, size: 8 })) };
  return { spec, gpus };
}

test('GFD labels count MIG devices over GPUs that differ; single strategy with mixed profiles is MIG-INVALID', () => {
  const mixed = a100Node('mixed');
  const l = gfdMigLabels(mixed.spec, mixed.gpus);
  assert.equal(l['nvidia.com/mig-3g.40gb.count'], String(2 * 7));
  assert.equal(l['nvidia.com/mig-7g.80gb.count'], '1');
  assert.equal(l['nvidia.com/mig-7g.80gb.memory'], '80896', 'a profile the catalog does not list gets the geometry numbers');
  assert.equal(l['nvidia.com/gpu.count'], '8');
  assert.equal(l['nvidia.com/gpu.product'], 'NVIDIA-A100-SXM4-80GB');

  const single = a100Node('single');
  const s = gfdMigLabels(single.spec, single.gpus);
  assert.equal(s['nvidia.com/gpu.product'], 'NVIDIA-A100-SXM4-80GB-MIG-INVALID');
  assert.equal(s['nvidia.com/gpu.count'], '0');

  const uniform = a100Node('single');
  uniform.gpus = buildGpus(uniform.spec);
  const u = gfdMigLabels(uniform.spec, uniform.gpus);
  assert.equal(u['nvidia.com/gpu.product'], 'NVIDIA-A100-SXM4-80GB-MIG-3g.40gb');
  assert.equal(u['nvidia.com/gpu.count'], '16');
  assert.equal(u['nvidia.com/gpu.memory'], '40192');
});
