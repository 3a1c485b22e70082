// Site recipes for the SSH rollout executor: the file only names operations
// defined in code, and the one parameter (the driver version) is validated.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { operationArgv } from '../../electron/core/ssh/command-registry.ts';
import { parseVersions } from '../../electron/core/rollouts/executors/ssh-executor.ts';
import { parseRecipes, recipeFor, RECIPE_OPERATIONS } from '../../electron/core/rollouts/executors/ssh-recipes.ts';

test('recipe files are checked: unknown operations, roles and fields are named', () => {
  assert.throws(() => parseRecipes('{"pools":{"*":{"install":"rm -rf /","verify":"driver.version"}}}', 'r.json'), /pools\["\*"\]\.install: "rm -rf \/" is not an install operation/);
  assert.throws(() => parseRecipes('{"pools":{"a100":{"install":"driver.install.apt","verify":"driver.version","shell":"x"}}}', 'r.json'), /unknown field\(s\) shell/);
  assert.throws(() => parseRecipes('{"pools":{"*":{"install":"driver.install.apt","verify":"driver.install.apt"}}}', 'r.json'), /verify: "driver.install.apt" is not an verify operation/);
  assert.throws(() => parseRecipes('{"pools":{"*":{"install":"driver.install.apt","reboot":"yes","verify":"driver.version"}}}', 'r.json'), /reboot must be true or false/);
  assert.throws(() => parseRecipes('{"pools":{}}', 'r.json'), /no pools defined/);
  assert.throws(() => parseRecipes('{"pools":{"*":{"install":"driver.install.apt","verify":"driver.version","xids":"cat /var/log/kern.log"}}}', 'r.json'), /xids: "cat \/var\/log\/kern.log" is not an xids operation \(known: gpu.xids.journal, gpu.xids.dmesg\)/);
  const off = parseRecipes('{"pools":{"*":{"install":"driver.install.apt","verify":"driver.version","xids":false}}}', 'r.json');
  assert.equal(recipeFor(off, 'x').xids, false, 'a site without a readable kernel log turns the source off (the gate then says so)');
  assert.throws(() => parseRecipes('not json', 'r.json'), /not valid JSON/);
});

test('the pool recipe wins over "*", and a pool without either is a clear error', () => {
  const book = parseRecipes('{"pools":{"*":{"install":"driver.install.apt","reboot":true,"verify":"driver.version"},"NVIDIA-A100":{"install":"driver.install.sim","verify":"driver.version"}}}', 'r.json');
  assert.deepEqual(recipeFor(book, 'NVIDIA-A100'), { install: 'driver.install.sim', reboot: false, verify: 'driver.version', xids: 'gpu.xids.journal' });
  assert.deepEqual(recipeFor(book, 'NVIDIA-L40S'), { install: 'driver.install.apt', reboot: true, verify: 'driver.version', xids: 'gpu.xids.journal' });
  const only = parseRecipes('{"pools":{"NVIDIA-A100":{"install":"driver.install.sim","verify":"driver.version"}}}', 'r.json');
  assert.throws(() => recipeFor(only, 'NVIDIA-T4'), /no recipe for node pool "NVIDIA-T4" and no "\*" recipe/);
});

test('the version is the only parameter and must look like a driver version', () => {
  const apt = RECIPE_OPERATIONS['driver.install.apt']!;
  assert.deepEqual(operationArgv('driver.install.apt', apt, { version: '550.54.15' }), [['apt-get', 'install', '-y', '--allow-downgrades', 'nvidia-driver-550=550.54.15-*']]);
  for (const bad of ['550; reboot', '550', '$(id)', '550.54.15 --force']) assert.throws(() => operationArgv('driver.install.apt', apt, { version: bad }), /"version" for operation "driver.install.apt" must be/);
  assert.throws(() => operationArgv('driver.install.apt', apt, { version: '550.54', branch: 'x' }), /takes no parameter "branch"/);
});

test('verify output: one version for all GPUs, or why not', () => {
  assert.deepEqual(parseVersions('550.54.15\n550.54.15\n'), { version: '550.54.15', detail: '2 GPU(s) report 550.54.15' });
  assert.equal(parseVersions('550.54.15\n535.1.1\n').version, undefined);
  assert.match(parseVersions('').detail, /no driver version/);
});
