// The project's one test command: typecheck, build, unit tests, then integration
// and end-to-end tests against a real test bed that this script starts and stops.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const node = process.execPath;
const totals = { pass: 0, fail: 0, skipped: 0 };
const failedSteps = [];
/** Failing tests' lines from every step, printed again at the end: CI keeps only the tail of the output. */
const failingTests = [];

function run(name, cmd, args, env = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    console.log(`\n=== ${name}`);
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const relay = (stream, dest) =>
      stream.on('data', (d) => {
        out += d;
        dest.write(d);
      });
    relay(child.stdout, process.stdout);
    relay(child.stderr, process.stderr);
    child.on('close', (code) => {
      for (const key of ['pass', 'fail', 'skipped']) {
        const m = new RegExp(`^ℹ ${key} (\\d+)$`, 'm').exec(out);
        if (m) totals[key] += Number(m[1]);
      }
      const summary = out.lastIndexOf('✖ failing tests:');
      if (summary >= 0) {
        const lines = out.slice(summary).split('\n').slice(1);
        let where = '';
        lines.forEach((line, i) => {
          if (/^test at /.test(line)) where = line.slice('test at '.length);
          else if (/^\s*✖ /.test(line)) failingTests.push(`${name}: ${where}\n    ${line.trim()}\n    ${(lines[i + 1] ?? '').trim().slice(0, 400)}`);
        });
      }
      console.log(`=== ${name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      if (code !== 0) failedSteps.push(name);
      resolve(code === 0);
    });
  });
}

const testArgs = (glob, extra = []) => ['--import', 'tsx', '--test', '--test-reporter=spec', ...extra, ...(Array.isArray(glob) ? glob : [glob])];

// The test bed's own tests run first, on a fresh fleet: feature tests (MIG applies, rollouts,
// drains) change layouts, driver versions and where pods run, which those tests take as given.
const integrationFiles = fs.readdirSync(path.join(root, 'test/integration')).filter((f) => f.endsWith('.test.ts')).sort();
const testbedFirst = integrationFiles.filter((f) => f.startsWith('testbed')).map((f) => `test/integration/${f}`);
const featureTests = integrationFiles.filter((f) => !f.startsWith('testbed')).map((f) => `test/integration/${f}`);

const stateDir = process.env.TESSERA_TESTBED_STATE || fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-test-bed-'));
const ownTestbed = !process.env.TESSERA_TESTBED_STATE;
const testbedCli = ['--import', 'tsx', 'test/testbed/cli.ts'];

try {
  await run('system packages', 'bash', ['scripts/ensure-system-deps.sh']);
  await run('typecheck', node, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit']);
  await run('build', node, ['scripts/build.mjs', '--quiet']);
  await run('unit tests', node, testArgs('test/unit/**/*.test.ts'));
  const up = await run('test bed up', node, [...testbedCli, 'up', '--nodes', process.env.TESSERA_TEST_NODES ?? '24', '--state', stateDir]);
  if (up) {
    const env = { TESSERA_TESTBED_STATE: stateDir };
    await run('integration tests (test bed)', node, testArgs(testbedFirst, ['--test-concurrency=1']), env);
    await run('integration tests', node, testArgs(featureTests, ['--test-concurrency=1']), env);
    await run('end-to-end tests', node, testArgs('test/e2e/**/*.test.ts', ['--test-concurrency=1']), env);
  }
} finally {
  if (ownTestbed) spawnSync(node, [...testbedCli, 'down', '--state', stateDir], { cwd: root, stdio: 'inherit' });
}

if (failingTests.length) console.log(`\nfailing tests:\n${failingTests.map((t) => `  ${t}`).join('\n')}`);
console.log(`\nfailed steps: ${failedSteps.length ? failedSteps.join(', ') : 'none'}`);
console.log(`${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
process.exit(failedSteps.length ? 1 : 0);
