import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Core } from '../../electron/core/core.ts';
import { settingsHandlers } from '../../electron/core/settings/settings-handlers.ts';
import { SettingsService } from '../../electron/core/settings/settings-service.ts';
import { Router } from '../../electron/host/router.ts';
import { TesseraError } from '../../shared/contract/errors.ts';
import type { AuditInput } from '../../shared/model/audit.ts';
import { DEFAULT_SETTINGS } from '../../shared/model/settings.ts';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-settings-'));
}

function service(dataDir: string, audit: AuditInput[] = []) {
  return new SettingsService({ dataDir, record: async (i) => void audit.push(i), now: () => new Date('2026-11-22T10:00:00Z') });
}

async function refused(p: Promise<unknown>, pattern: RegExp): Promise<TesseraError> {
  const err = await p.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TesseraError, String(err));
  assert.equal(err.code, 'INVALID_REQUEST');
  assert.match(err.message, pattern);
  return err;
}

test('no file: defaults, and nothing is written until something changes', async () => {
  const dir = tmp();
  const view = await service(dir).get();
  assert.deepEqual(view, { settings: DEFAULT_SETTINGS });
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('updates merge, are written atomically with a backup of the previous file, and are audited', async () => {
  const dir = tmp();
  const audit: AuditInput[] = [];
  const svc = service(dir, audit);
  await svc.update({ idle: { utilizationPercent: 10 } });
  const first = fs.readFileSync(path.join(dir, 'settings.json'), 'utf8');
  const r = await svc.update({ mig: { defaultMaxParallel: 4 }, showback: { prices: [{ model: 'NVIDIA-H100-80GB-HBM3', price: 2.5 }, { model: 'NVIDIA-A100-SXM4-40GB', profile: '1g.5gb', price: 0.3 }] } });
  assert.equal(r.settings.idle.utilizationPercent, 10, 'the earlier change is kept');
  assert.equal(r.settings.idle.minutes, DEFAULT_SETTINGS.idle.minutes);
  assert.equal(r.settings.mig.defaultMaxParallel, 4);
  assert.equal(r.settings.showback.prices.length, 2);
  assert.equal(fs.readFileSync(path.join(dir, 'settings.json.bak'), 'utf8'), first, 'the previous version is the backup');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['settings.json', 'settings.json.bak'], 'no temp files left behind');
  assert.equal((fs.statSync(path.join(dir, 'settings.json')).mode & 0o077), 0, 'not readable by others');
  // A fresh service (a restart) reads back what was saved.
  assert.deepEqual((await service(dir).get()).settings, r.settings);
  assert.deepEqual(audit.map((a) => [a.action, a.outcome]), [['settings.update', 'succeeded'], ['settings.update', 'succeeded']]);
  assert.equal((audit[1]!.before as typeof DEFAULT_SETTINGS).mig.defaultMaxParallel, 1);
  assert.equal((audit[1]!.after as typeof DEFAULT_SETTINGS).mig.defaultMaxParallel, 4);
});

test('concurrent updates do not lose each other', async () => {
  const dir = tmp();
  const svc = service(dir);
  await Promise.all([svc.update({ idle: { minutes: 45 } }), svc.update({ metrics: { intervalSeconds: 30 } }), svc.update({ showback: { currency: 'EUR' } })]);
  const s = (await service(dir).get()).settings;
  assert.deepEqual([s.idle.minutes, s.metrics.intervalSeconds, s.showback.currency], [45, 30, 'EUR']);
});

test('bad values are refused with the field named, and change nothing', async () => {
  const dir = tmp();
  const audit: AuditInput[] = [];
  const svc = service(dir, audit);
  await svc.update({ idle: { minutes: 20 } });
  const before = fs.readFileSync(path.join(dir, 'settings.json'), 'utf8');
  await refused(svc.update({ idle: { utilizationPercent: 150 } }), /idle\.utilizationPercent must be ≤ 100/);
  await refused(svc.update({ idle: { minutes: 0.5 } }), /idle\.minutes must be an integer/);
  await refused(svc.update({ metrics: { intervalSeconds: 'fast' } }), /metrics\.intervalSeconds expected a finite number/);
  await refused(svc.update({ mig: { defaultMaxParallel: 0 } }), /mig\.defaultMaxParallel must be ≥ 1/);
  await refused(svc.update({ showback: { prices: [{ model: 'T4', price: -1 }] } }), /prices\[0\]\.price must be ≥ 0/);
  await refused(svc.update({ showback: { prices: [{ model: 'A30', profile: '4g', price: 1 }] } }), /MIG profile/);
  await refused(svc.update({ showback: { prices: [{ model: 'T4', price: 1 }, { model: 'T4', price: 2 }] } }), /two prices for T4/);
  await refused(svc.update({ theme: 'dark' }), /theme is not a known field/);
  await refused(svc.update({ constructor: { x: 1 } }), /constructor is not a known field/);
  await refused(svc.update([]), /expected an object/);
  assert.equal(fs.readFileSync(path.join(dir, 'settings.json'), 'utf8'), before);
  assert.equal(audit.length, 1, 'refusals are not recorded as changes');
});

test('fields named like secrets are refused wherever they appear, through core and through the contract', async () => {
  const dir = tmp();
  const audit: AuditInput[] = [];
  const svc = service(dir, audit);
  for (const patch of [{ token: 'abc' }, { password: 'hunter2' }, { idle: { passphrase: 'x' } }, { showback: { prices: [{ model: 'T4', price: 1, apiKey: 'k' }] } }, { sshPassword: 'x' }, { clientSecret: 'x' }, { privateKey: '-----BEGIN' }]) {
    const err = await refused(svc.update(patch), /settings never hold secrets: ".*" looks like one/);
    assert.doesNotMatch(err.message, /hunter2|abc|BEGIN/, 'the secret itself is not echoed');
  }
  assert.deepEqual(fs.readdirSync(dir), [], 'nothing was written');
  assert.equal(audit.length, 0);
  // Through the router (what every host uses): refused before core runs.
  const router = new Router({ methods: settingsHandlers(svc), streams: {} } as unknown as Pick<Core, 'methods' | 'streams'>);
  for (const patch of [{ token: 'abc' }, { mig: { passphrase: 'x' } }]) {
    const r = await router.call('settings.update', { patch });
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.error.code, 'INVALID_REQUEST');
  }
  assert.equal((await router.call('settings.update', { patch: {}, token: 'x' })).ok, false);
  assert.deepEqual(fs.readdirSync(dir), []);
  const ok = await router.call('settings.update', { patch: { idle: { minutes: 60 } } });
  assert.equal(ok.ok, true, 'a good update goes through the same path');
});

test('a corrupt settings file is reported, kept aside, and replaced by defaults without touching other files', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'settings.json'), '{"version": 1, "idle": {"minutes": 3');
  fs.writeFileSync(path.join(dir, 'hosts.json'), '{"version":1,"hosts":[{"id":"a"}]}');
  fs.mkdirSync(path.join(dir, 'audit'));
  fs.writeFileSync(path.join(dir, 'audit', 'audit-000001.jsonl'), '{"type":"header"}\n');
  const svc = service(dir);
  const view = await svc.get();
  assert.deepEqual(view.settings, DEFAULT_SETTINGS);
  assert.match(view.notice ?? '', /settings\.json could not be read \(.+\); it was kept as .*settings\.json\.corrupt-2026-11-22T10-00-00-000Z and Tessera started from default settings/);
  const aside = path.join(dir, 'settings.json.corrupt-2026-11-22T10-00-00-000Z');
  assert.equal(fs.readFileSync(aside, 'utf8'), '{"version": 1, "idle": {"minutes": 3');
  assert.equal(fs.existsSync(path.join(dir, 'settings.json')), false);
  assert.equal(fs.readFileSync(path.join(dir, 'hosts.json'), 'utf8'), '{"version":1,"hosts":[{"id":"a"}]}');
  assert.equal(fs.readFileSync(path.join(dir, 'audit', 'audit-000001.jsonl'), 'utf8'), '{"type":"header"}\n');
  // Saving again clears the notice and writes a good file.
  const saved = await svc.update({ idle: { minutes: 7 } });
  assert.equal(saved.notice, undefined);
  assert.equal((await service(dir).get()).settings.idle.minutes, 7);
});

test('a file that parses but breaks the rules (or holds a secret) is kept aside too; the backup wins when there is one', async () => {
  const dir = tmp();
  const svc = service(dir);
  await svc.update({ idle: { minutes: 11 } });
  await svc.update({ idle: { minutes: 12 } });
  fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ version: 1, idle: { minutes: 12 }, token: 'sk-live-123' }));
  const view = await service(dir).get();
  assert.equal(view.settings.idle.minutes, 11, 'the last backup is restored');
  assert.match(view.notice ?? '', /kept as .*corrupt-.* and the last backup was restored/);
  assert.doesNotMatch(view.notice ?? '', /sk-live-123/);
  const dir2 = tmp();
  fs.writeFileSync(path.join(dir2, 'settings.json'), JSON.stringify({ version: 1, idle: { utilizationPercent: 400 } }));
  const v2 = await service(dir2).get();
  assert.deepEqual(v2.settings, DEFAULT_SETTINGS);
  assert.match(v2.notice ?? '', /utilizationPercent must be ≤ 100/);
});

test('without a data folder, settings are the defaults and cannot be changed', async () => {
  const h = settingsHandlers(undefined);
  const v = await h['settings.get']({});
  assert.deepEqual(v.settings, DEFAULT_SETTINGS);
  assert.match(v.notice ?? '', /no data folder/);
  await assert.rejects(h['settings.update']({ patch: {} }), /no data folder/);
});
