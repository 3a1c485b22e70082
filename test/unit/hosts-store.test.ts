import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { HostStore } from '../../electron/core/hosts/host-store.ts';
import type { TesseraError } from '../../shared/contract/errors.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-hosts-'));
const problems = (e: TesseraError) => (e.details?.problems as { field: string; message: string }[]).map((p) => p.field);

describe('host store', () => {
  test('adds a valid host with a slug id and writes it atomically with a backup of the previous version', async () => {
    const dir = tmp();
    const store = new HostStore({ dataDir: dir, home: '/home/ann' });
    const a = await store.add({ name: 'GPU Box 1', address: '10.0.0.7', user: 'ops', identityFile: '~/.ssh/id_ed25519' });
    assert.equal(a.id, 'gpu-box-1');
    assert.equal(a.port, 22);
    assert.equal(a.identityFile, '/home/ann/.ssh/id_ed25519');
    await store.add({ name: 'edge', address: 'edge.site.example', port: 2222, user: 'root', proxyJump: ['gpu-box-1'] });
    const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'hosts.json'), 'utf8'));
    assert.equal(onDisk.hosts.length, 2);
    const bak = JSON.parse(fs.readFileSync(path.join(dir, 'hosts.json.bak'), 'utf8'));
    assert.equal(bak.hosts.length, 1);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });

  test('bad fields are refused with one specific message each and nothing is written', async () => {
    const dir = tmp();
    const store = new HostStore({ dataDir: dir });
    await assert.rejects(store.add({ name: '-x', address: '300.1.1.1', port: 70000, user: '-rf', proxyJump: ['nobody'] }), (e: TesseraError) => {
      assert.equal(e.code, 'INVALID_REQUEST');
      assert.deepEqual(problems(e).sort(), ['address', 'name', 'port', 'proxyJump', 'user']);
      assert.match(e.message, /port must be a whole number from 1 to 65535, got 70000/);
      assert.match(e.message, /not a valid IPv4 address/);
      return true;
    });
    await assert.rejects(store.add({ name: 'ok', address: 'bad_host!', user: 'ops' }), /not a valid host name/);
    assert.equal(fs.existsSync(path.join(dir, 'hosts.json')), false);
    await store.add({ name: 'v6', address: '[fd00::1]', user: 'ops' });
    await assert.rejects(store.add({ name: 'V6', address: 'fd00::2', user: 'ops' }), /already exists/);
  });

  test('jump loops and removing a host others jump through are refused', async () => {
    const store = new HostStore({ dataDir: tmp() });
    const a = await store.add({ name: 'a', address: '10.0.0.1', user: 'u' });
    const b = await store.add({ name: 'b', address: '10.0.0.2', user: 'u', proxyJump: [a.id] });
    await assert.rejects(store.update(a.id, { name: 'a', address: '10.0.0.1', user: 'u', proxyJump: [b.id] }), /loop: a → b → a/);
    await assert.rejects(store.remove(a.id), /jump host of b/);
    await store.remove(b.id);
    await store.remove(a.id);
    assert.equal((await store.list()).hosts.length, 0);
  });

  test('a corrupt file is kept aside, reported, and the backup restored', async () => {
    const dir = tmp();
    const first = new HostStore({ dataDir: dir });
    await first.add({ name: 'keep-me', address: '10.0.0.1', user: 'u' });
    await first.add({ name: 'second', address: '10.0.0.2', user: 'u' });
    fs.writeFileSync(path.join(dir, 'hosts.json'), '{"version":1,"hosts":[{"id":');
    const store = new HostStore({ dataDir: dir });
    const list = await store.list();
    assert.deepEqual(list.hosts.map((h) => h.name), ['keep-me'], 'the backup (one version back) is restored');
    assert.match(list.notice ?? '', /could not be read .* kept as .*hosts\.json\.corrupt-.* backup was restored/);
    const aside = fs.readdirSync(dir).find((f) => f.startsWith('hosts.json.corrupt-'));
    assert.ok(aside);
    assert.equal(fs.readFileSync(path.join(dir, aside), 'utf8'), '{"version":1,"hosts":[{"id":');
  });

  test('a corrupt file without a usable backup starts empty, and the next save works', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'hosts.json'), '[1,2,3]');
    const store = new HostStore({ dataDir: dir });
    const list = await store.list();
    assert.equal(list.hosts.length, 0);
    assert.match(list.notice ?? '', /not a Tessera hosts file.*started from an empty list/);
    await store.add({ name: 'new', address: '10.0.0.3', user: 'u' });
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'hosts.json'), 'utf8')).hosts.length, 1);
  });
});
