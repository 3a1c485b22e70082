// The project's one test command: typecheck, build, unit tests, then integration
// and end-to-end tests against a real test bed that this script starts and stops.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const node = process.execPath;
const totals = { pass: 0, fail: 0, skipped: 0, flaky: 0 };
const failedSteps = [];
/** Failing tests' lines from every step, printed again at the end: CI keeps only the tail of the output. */
const failingTests = [];
const flakyTests = [];

/** Runs one step; resolves to whether it passed and the failing tests it printed. */
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
      const counts = {};
      for (const key of ['pass', 'fail', 'skipped']) {
        const m = new RegExp(`^ℹ ${key} (\\d+)$`, 'm').exec(out);
        counts[key] = m ? Number(m[1]) : 0;
      }
      console.log(`=== ${name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      resolve({ ok: code === 0, counts, failing: failingIn(out) });
    });
  });
}

/** The node test runner's closing list of failures: file and line, title, first line of the error. */
function failingIn(out) {
  const summary = out.lastIndexOf('✖ failing tests:');
  if (summary < 0) return [];
  const lines = out.slice(summary).split('\n').slice(1);
  const found = [];
  let where = '';
  lines.forEach((line, i) => {
    if (/^test at /.test(line)) where = line.slice('test at '.length);
    else if (/^\s*✖ /.test(line)) found.push({ where, title: line.trim(), error: (lines[i + 1] ?? '').trim().slice(0, 400) });
  });
  return found;
}

const describe = (name, t) => `${name}: ${t.where}\n    ${t.title}\n    ${t.error}`;

/** A step that is not a test run (install, build, test bed). */
async function step(name, cmd, args, env) {
  const r = await run(name, cmd, args, env);
  if (!r.ok) failedSteps.push(name);
  return r.ok;
}

/**
 * A test step. Integration and end-to-end tests drive a simulated fleet on a shared
 * machine; when a few files fail, those files run once more and a pass there is
 * reported as flaky by name (never silently), so one slow moment does not sink CI
 * while a real failure, which fails twice, still does.
 */
async function tests(name, files, { env = {}, retry = false } = {}) {
  const first = await run(name, node, testArgs(files, ['--test-concurrency=1']), env);
  for (const key of ['pass', 'fail', 'skipped']) totals[key] += first.counts[key];
  if (first.ok) return true;
  const again = [...new Set(first.failing.map((t) => t.where.replace(/:\d+:\d+$/, '')))].filter((f) => f.endsWith('.test.ts'));
  if (retry && again.length > 0 && again.length <= 2 && first.failing.length <= 3) {
    const second = await run(`${name}: once more, the failing files only`, node, testArgs(again, ['--test-concurrency=1']), env);
    if (second.ok) {
      totals.fail -= first.failing.length;
      totals.flaky += first.failing.length;
      flakyTests.push(...first.failing.map((t) => describe(name, t)));
      return true;
    }
    failingTests.push(...second.failing.map((t) => describe(`${name} (failed twice)`, t)));
  } else {
    failingTests.push(...first.failing.map((t) => describe(name, t)));
  }
  failedSteps.push(name);
  return false;
}

const testArgs = (files, extra = []) => ['--import', 'tsx', '--test', '--test-reporter=spec', ...extra, ...files];

// The test bed's own tests run first, on a fresh fleet: feature tests (MIG applies, rollouts,
// drains) change layouts, driver versions and where pods run, which those tests take as given.
const integrationFiles = fs.readdirSync(path.join(root, 'test/integration')).filter((f) => f.endsWith('.test.ts')).sort();
const testbedFirst = integrationFiles.filter((f) => f.startsWith('testbed')).map((f) => `test/integration/${f}`);
const featureTests = integrationFiles.filter((f) => !f.startsWith('testbed')).map((f) => `test/integration/${f}`);

const stateDir = process.env.TESSERA_TESTBED_STATE || fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-test-bed-'));
const ownTestbed = !process.env.TESSERA_TESTBED_STATE;
const testbedCli = ['--import', 'tsx', 'test/testbed/cli.ts'];

try {
  await step('system packages', 'bash', ['scripts/ensure-system-deps.sh']);
  await step('typecheck', node, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit']);
  await step('build', node, ['scripts/build.mjs', '--quiet']);
  await tests('unit tests', ['test/unit/**/*.test.ts']);
  const up = await step('test bed up', node, [...testbedCli, 'up', '--nodes', process.env.TESSERA_TEST_NODES ?? '24', '--state', stateDir]);
  if (up) {
    const env = { TESSERA_TESTBED_STATE: stateDir };
    await tests('integration tests (test bed)', testbedFirst, { env, retry: true });
    await tests('integration tests', featureTests, { env, retry: true });
    await tests('end-to-end tests', ['test/e2e/**/*.test.ts'], { env, retry: true });
  }
} finally {
  if (ownTestbed) spawnSync(node, [...testbedCli, 'down', '--state', stateDir], { cwd: root, stdio: 'inherit' });
}

if (flakyTests.length) console.log(`\nflaky (failed, then passed when their files ran again):\n${flakyTests.map((t) => `  ${t}`).join('\n')}`);
if (failingTests.length) console.log(`\nfailing tests:\n${failingTests.map((t) => `  ${t}`).join('\n')}`);
console.log(`\nfailed steps: ${failedSteps.length ? failedSteps.join(', ') : 'none'}`);
console.log(`${totals.pass} passed, ${totals.fail} failed, ${totals.flaky} flaky, ${totals.skipped} skipped`);
process.exit(failedSteps.length ? 1 : 0);
