import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sharedTestbed, type TestbedInfo } from '../testbed/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let info: TestbedInfo;

function tessera(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(root, 'bin/tessera.mjs'), ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28, env: { ...process.env, KUBECONFIG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  info = await sharedTestbed();
  assert.ok(fs.existsSync(path.join(root, 'dist/cli/tessera.js')), 'the CLI is built (npm run build)');
});

test('tessera --help and --version', () => {
  const help = tessera('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /tessera contexts/);
  assert.match(help.stdout, /tessera nodes/);
  assert.match(help.stdout, /tessera serve/);
  assert.match(tessera('--version').stdout, /^\d+\.\d+\.\d+\n$/);
});

test('contexts --json answers from the test bed kubeconfig', () => {
  const r = tessera('contexts', '--kubeconfig', info.kubeconfigs.admin, '--json');
  assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout) as { context: string; server: string; authKind: string; isCurrent: boolean }[];
  assert.equal(list.length, 1);
  assert.equal(list[0]!.server, info.server);
  assert.equal(list[0]!.authKind, 'token');
  assert.equal(list[0]!.isCurrent, true);
});

test('nodes --json lists every node of the real API server with GPU facts', () => {
  const r = tessera('nodes', '--kubeconfig', info.kubeconfigs.admin, '--json');
  assert.equal(r.code, 0, r.stderr);
  const nodes = JSON.parse(r.stdout) as { name: string; ready: string; gpu: { model: string; count: number } | null }[];
  assert.equal(nodes.length, info.nodes);
  assert.ok(nodes.some((n) => n.gpu && n.gpu.count > 0));
  assert.ok(nodes.some((n) => n.gpu === null));
  const table = tessera('nodes', '--kubeconfig', info.kubeconfigs.cert);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout.split('\n')[0]!, /^NAME\s+READY\s+GPU MODEL/);
});

test('a malformed kubeconfig exits non-zero with a one-line reason', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-cli-'));
  const bad = path.join(dir, 'broken.yaml');
  fs.writeFileSync(bad, 'apiVersion: v1\nclusters:\n  - name: a\n    cluster: {server: "https://x"\n');
  for (const cmd of ['contexts', 'nodes']) {
    const r = tessera(cmd, '--kubeconfig', bad, '--json');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^tessera: broken\.yaml is not valid YAML at line \d+/);
  }
  const missing = tessera('nodes', '--kubeconfig', path.join(dir, 'nope'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^tessera: kubeconfig file not found: .*nope\n$/);
  const ctx = tessera('nodes', '--kubeconfig', info.kubeconfigs.admin, '--context', 'elsewhere');
  assert.equal(ctx.code, 1);
  assert.match(ctx.stderr, /^tessera: context "elsewhere" is not in the kubeconfig/);
  assert.equal(tessera('frobnicate').code, 2);
});

test('inventory --json gives totals, per-model and per-node data with the elapsed time; --csv one row per device', () => {
  const r = tessera('inventory', '--kubeconfig', info.kubeconfigs.admin, '--json');
  assert.equal(r.code, 0, r.stderr);
  const inv = JSON.parse(r.stdout) as { elapsedMs: number; summary: { nodes: number; gpus: number; byModel: { model: string; gpus: number }[] }; nodes: { name: string; gpu: { count: number } | null }[] };
  assert.equal(inv.summary.nodes, info.nodes);
  assert.equal(inv.nodes.length, info.nodes);
  assert.ok(inv.elapsedMs >= 0);
  const total = inv.nodes.reduce((n, x) => n + (x.gpu?.count ?? 0), 0);
  assert.equal(inv.summary.gpus, total);
  assert.equal(inv.summary.byModel.reduce((n, m) => n + m.gpus, 0), total);
  const csv = tessera('inventory', '--kubeconfig', info.kubeconfigs.admin, '--csv');
  assert.equal(csv.code, 0, csv.stderr);
  const lines = csv.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^cluster,node,ready,cordoned,pool,model/);
  assert.ok(lines.length > total, 'at least one row per GPU');
});

test('gpu parse prints the stable shape, and refuses garbage with one line', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-gpu-'));
  const file = path.join(dir, 'L.txt');
  fs.writeFileSync(file, 'GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-b614723c-e261-4605-066e-79daab4c00ff)\n  MIG 3g.40gb     Device  0: (UUID: MIG-41b9eab5-8d48-5c52-9f07-82bc59af3901)\nGPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-0a1c2d3e-1111-2222-3333-444455556666)\n');
  const r = tessera('gpu', 'parse', file);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { format: string; gpus: { uuid: string; migDevices: { profile: string; uuid: string }[] }[]; warnings: string[] };
  assert.equal(report.format, 'nvidia-smi-list');
  assert.equal(report.gpus.length, 2);
  assert.equal(report.gpus[0]!.migDevices[0]!.profile, '3g.40gb');
  assert.equal(report.gpus[0]!.migDevices[0]!.uuid, 'MIG-41b9eab5-8d48-5c52-9f07-82bc59af3901');
  fs.writeFileSync(path.join(dir, 'junk'), '\u0000\u0001 definitely not nvidia-smi');
  const bad = tessera('gpu', 'parse', path.join(dir, 'junk'));
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout, '');
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /^tessera: /);
});
