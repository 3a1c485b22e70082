import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { tar, tarGz } from '../../electron/core/hosts/tar.ts';

test('tar.gz from the ustar writer is listed and extracted by GNU tar, byte for byte', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-tar-'));
  const big = Buffer.alloc(70_000, 7);
  const long = `${'d'.repeat(120)}/file.txt`;
  const file = path.join(dir, 'b.tar.gz');
  fs.writeFileSync(file, tarGz([{ name: 'bundle/manifest.json', data: '{"a":1}\n' }, { name: 'bundle/big.bin', data: big }, { name: 'bundle/empty.txt', data: '' }, { name: long, data: 'x' }]));
  const listing = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(listing, ['bundle/manifest.json', 'bundle/big.bin', 'bundle/empty.txt', long]);
  execFileSync('tar', ['-xzf', file, '-C', dir]);
  assert.equal(fs.readFileSync(path.join(dir, 'bundle/manifest.json'), 'utf8'), '{"a":1}\n');
  assert.ok(fs.readFileSync(path.join(dir, 'bundle/big.bin')).equals(big));
  assert.equal(fs.statSync(path.join(dir, 'bundle/empty.txt')).size, 0);
});

test('the archive is whole 512-byte blocks and ends with two zero blocks', () => {
  const t = tar([{ name: 'a', data: 'hello' }]);
  assert.equal(t.length % 512, 0);
  assert.equal(t.length, 512 + 512 + 1024);
  assert.ok(t.subarray(t.length - 1024).every((b) => b === 0));
});

test('unsafe names are refused', () => {
  assert.throws(() => tar([{ name: '../etc/passwd', data: '' }]), /unsafe/);
  assert.throws(() => tar([{ name: '/abs', data: '' }]), /unsafe/);
});
