import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { MIG_MODELS } from '../../shared/gpu/mig-geometry.ts';
import { autoPlace, validateLayout } from '../../shared/gpu/mig-layout.ts';
import { configCountsFor, fromMigParted, normalizeDeviceId, toMigParted, toMigPartedFile } from '../../shared/gpu/mig-parted.ts';
import type { MigPartedEntry } from '../../shared/gpu/mig-parted.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const defaultConfig = path.resolve(here, '../../../shared/fixtures/gpu/mig-parted-config-default.yaml');
const model = (key: string) => MIG_MODELS.find((m) => m.key === key)!;
const a100 = model('A100-80GB');

const entry = (e: Partial<MigPartedEntry>): MigPartedEntry => ({ devices: 'all', enabled: true, counts: {}, ...e });

test('toMigParted writes the mig-parted shape', () => {
  const obj = toMigParted('tessera-mixed', [
    entry({ devices: [0, 1], counts: { '3g.40gb': 2 }, deviceFilter: ['0x20B210DE'] }),
    entry({ devices: [2], enabled: false }),
    entry({ devices: [3] }),
  ]);
  assert.deepEqual(obj, {
    version: 'v1',
    'mig-configs': {
      'tessera-mixed': [
        { devices: [0, 1], 'mig-enabled': true, 'mig-devices': { '3g.40gb': 2 }, 'device-filter': ['0x20B210DE'] },
        { devices: [2], 'mig-enabled': false },
        { devices: [3], 'mig-enabled': true, 'mig-devices': {} },
      ],
    },
  });
  const back = fromMigParted(obj);
  assert.deepEqual(back.problems, []);
  assert.deepEqual(back.configs['tessera-mixed'], [
    { devices: [0, 1], enabled: true, counts: { '3g.40gb': 2 }, deviceFilter: ['0x20B210DE'] },
    { devices: [2], enabled: false, counts: {} },
    { devices: [3], enabled: true, counts: {} },
  ]);
});

test('garbage configs give specific problems', () => {
  assert.deepEqual(fromMigParted('hello').problems, ['A mig-parted config must be a mapping with version and mig-configs, not "hello".']);
  assert.deepEqual(fromMigParted({ 'mig-configs': {} }).problems, ['version is missing; it must be "v1".']);
  assert.deepEqual(fromMigParted({ version: 'v2', 'mig-configs': {} }).problems, ['version is "v2"; it must be "v1".']);
  assert.deepEqual(fromMigParted({ version: 1, 'mig-configs': {} }).problems, ['version is 1 (number); it must be "v1".']);
  assert.deepEqual(fromMigParted({ version: 'v1', 'mig-configs': {}, extra: true }).problems, ['Unknown top-level key "extra" (allowed: version, mig-configs).']);
  assert.deepEqual(fromMigParted({ version: 'v1' }).problems, ['mig-configs is missing.']);
  assert.deepEqual(fromMigParted({ version: 'v1', 'mig-configs': [] }).problems, ['mig-configs must be a mapping of config name to a list of entries, not a list.']);

  const bad = fromMigParted({
    version: 'v1',
    'mig-configs': {
      good: [{ devices: 'all', 'mig-enabled': false }],
      empty: [],
      notalist: { devices: 'all' },
      nodevices: [{ 'mig-enabled': true }],
      noenabled: [{ devices: 'all' }],
      typo: [{ devices: 'all', 'mig-enabled': true, 'mig-device': { '1g.10gb': 1 } }],
      wrongtypes: [{ devices: 'some', 'mig-enabled': 'yes', 'mig-devices': { '1g.10gb': -1, '2g.20gb': 1.5, '3g.40gb': '1' }, 'device-filter': 7 }],
      badname: [{ devices: [0, -1], 'mig-enabled': true, 'mig-devices': { big: 1 } }],
      second: [{ devices: [0], 'mig-enabled': true }, 'oops'],
      disabledwithdevices: [{ devices: 'all', 'mig-enabled': false, 'mig-devices': { '1g.10gb': 7 } }],
    },
  });
  assert.deepEqual(Object.keys(bad.configs), ['good'], 'only the config without problems is kept');
  assert.deepEqual(bad.problems, [
    'Config "empty": has no entries; it needs at least one.',
    'Config "notalist": must be a list of entries, not a mapping.',
    'Config "nodevices", entry 1: devices is missing; use "all" or a list of GPU indexes.',
    'Config "noenabled", entry 1: mig-enabled is missing; it must be true or false.',
    'Config "typo", entry 1: unknown key "mig-device" (allowed: device-filter, devices, mig-enabled, mig-devices).',
    'Config "wrongtypes", entry 1: devices must be "all" or a list of GPU indexes (0 or more), not "some".',
    'Config "wrongtypes", entry 1: mig-enabled must be true or false, not "yes".',
    'Config "wrongtypes", entry 1: mig-devices "1g.10gb" is -1 (number); counts must be whole numbers, 0 or more.',
    'Config "wrongtypes", entry 1: mig-devices "2g.20gb" is 1.5 (number); counts must be whole numbers, 0 or more.',
    'Config "wrongtypes", entry 1: mig-devices "3g.40gb" is "1"; counts must be whole numbers, 0 or more.',
    'Config "wrongtypes", entry 1: device-filter must be a PCI device ID string or a list of them (like "0x20B210DE"), not 7 (number).',
    'Config "badname", entry 1: devices must be "all" or a list of GPU indexes (0 or more), not a list.',
    'Config "badname", entry 1: mig-devices key "big" is not a MIG profile name (like 1g.10gb or 3g.40gb).',
    'Config "second", entry 2: must be a mapping with devices and mig-enabled, not "oops".',
    'Config "disabledwithdevices", entry 1: mig-devices asks for instances but mig-enabled is false.',
  ]);
});

test('configCountsFor resolves devices lists and device filters', () => {
  const config: MigPartedEntry[] = [
    entry({ devices: [0, 1], counts: { '7g.80gb': 1 } }),
    entry({ devices: 'all', counts: { '1g.5gb': 7 }, deviceFilter: ['0x20B010DE'] }),
    entry({ devices: 'all', counts: { '3g.40gb': 2 }, deviceFilter: '0x20b2' }),
  ];
  assert.deepEqual(configCountsFor(config, a100, 0), { entryIndex: 0, enabled: true, counts: { '7g.80gb': 1 } });
  assert.deepEqual(configCountsFor(config, a100, 2), { entryIndex: 2, enabled: true, counts: { '3g.40gb': 2 } }, 'the 40GB filter does not match an 80GB');
  assert.deepEqual(configCountsFor(config, model('A100-40GB'), 3)?.counts, { '1g.5gb': 7 });
  assert.equal(configCountsFor(config, a100, 2, '0x20B510DE'), null, 'a specific device ID outside every filter');
  assert.equal(configCountsFor(config, model('H200'), 5), null);
  assert.equal(configCountsFor([], a100, 0), null);
  assert.equal(normalizeDeviceId('20b2'), '0x20B210DE');
  assert.equal(normalizeDeviceId('0x20b210de'), '0x20B210DE');
});

test('real config-default.yaml from ../shared/fixtures: every config parses and round-trips', (t) => {
  if (!fs.existsSync(defaultConfig)) return t.skip('../shared/fixtures is absent');
  const raw = yaml.load(fs.readFileSync(defaultConfig, 'utf8'));
  const parsed = fromMigParted(raw);
  assert.deepEqual(parsed.problems, []);
  const names = Object.keys(parsed.configs);
  assert.deepEqual(names.sort(), Object.keys((raw as { 'mig-configs': object })['mig-configs']).sort());
  assert.ok(names.length > 20, `${names.length} configs`);
  for (const n of ['all-disabled', 'all-enabled', 'all-balanced', 'all-1g.10gb', 'all-3g.40gb']) assert.ok(n in parsed.configs, n);
  assert.deepEqual(toMigPartedFile(parsed.configs), raw);
  for (const name of names) {
    assert.deepEqual(toMigParted(name, parsed.configs[name]!)['mig-configs'][name], (raw as { 'mig-configs': Record<string, unknown> })['mig-configs'][name], name);
  }
  assert.deepEqual(parsed.configs['all-disabled'], [{ devices: 'all', enabled: false, counts: {} }]);
});

test('all-balanced from config-default resolves per model, validates and auto-places', (t) => {
  if (!fs.existsSync(defaultConfig)) return t.skip('../shared/fixtures is absent');
  const { configs } = fromMigParted(yaml.load(fs.readFileSync(defaultConfig, 'utf8')));
  const balanced = configs['all-balanced']!;
  const r = configCountsFor(balanced, a100, 0);
  assert.deepEqual(r?.counts, { '1g.10gb': 2, '2g.20gb': 1, '3g.40gb': 1 });
  assert.equal(r?.enabled, true);
  assert.deepEqual(configCountsFor(balanced, a100, 3, '0x20B510DE')?.counts, r?.counts, 'A100 80GB PCIe by its own device ID');
  const placed = autoPlace(a100, r!.counts);
  assert.equal(placed.ok, true);
  if (!placed.ok) return;
  assert.deepEqual(validateLayout(a100, placed.placements), { ok: true, problems: [] });
  // Every model Tessera knows resolves to its own `balanced` and that places.
  for (const m of MIG_MODELS) {
    const c = configCountsFor(balanced, m, 0);
    assert.deepEqual(c?.counts, m.balanced, m.key);
    assert.equal(autoPlace(m, c!.counts).ok, true, m.key);
  }
  // all-1g.10gb has different counts for 80GB and 40GB cards.
  assert.deepEqual(configCountsFor(configs['all-1g.10gb']!, a100, 0)?.counts, { '1g.10gb': 7 });
  assert.deepEqual(configCountsFor(configs['all-1g.10gb']!, model('A100-40GB'), 0)?.counts, { '1g.10gb': 4 });
});
