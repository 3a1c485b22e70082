import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dcgmToReport, parseDcgmMetrics, parseDcgmReport } from '../../electron/core/gpu/dcgm.ts';
import { own, real } from '../support/gpu-fixtures.ts';


test('dcgm: NVIDIA docs A100 MIG scrape (old label set: Hostname, no modelName)', (t) => {
  const text = real(t, 'dcgm-exporter-a100-mig-nvidia-docs.prom');
  if (!text) return;
  const parsed = parseDcgmMetrics(text);
  assert.deepEqual(parsed.warnings, []);
  assert.equal(parsed.samples.length, 2);
  const [whole, gi] = parsed.samples as [(typeof parsed.samples)[0], (typeof parsed.samples)[0]];
  assert.equal(whole.gpu, 0);
  assert.equal(whole.uuid, 'GPU-34319582-d595-d1c7-d1d2-179bcfa61660');
  assert.equal(whole.device, 'nvidia0');
  assert.equal(whole.hostname, 'ub20-a100-k8s');
  assert.equal(whole.modelName, null);
  assert.equal(whole.gpuInstanceId, null);
  assert.equal(whole.metrics.DCGM_FI_DEV_GPU_TEMP, 61);
  assert.equal(whole.metrics.DCGM_FI_DEV_POWER_USAGE, 409.692);
  assert.equal(whole.metrics.DCGM_FI_DEV_FB_USED, 4845);
  assert.equal(whole.metrics.DCGM_FI_DEV_FB_FREE, 35690);
  assert.equal(whole.metrics['DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION'], 319159391);
  assert.equal(whole.metrics.DCGM_FI_PROF_GR_ENGINE_ACTIVE, 0.99563);
  assert.equal(Object.keys(whole.metrics).length, 17);
  assert.equal(gi.gpuInstanceId, 13);
  assert.equal(gi.migProfile, '1g.5gb');
  assert.equal(gi.metrics.DCGM_FI_PROF_GR_ENGINE_ACTIVE, 0.995687);
  assert.equal(gi.metrics['DCGM_FI_PROF_PIPE_TENSOR_ACTIVE'], 0.930433);
  assert.equal(gi.metrics.DCGM_FI_DEV_XID_ERRORS, 0);

  const r = dcgmToReport(parsed);
  assert.equal(r.format, 'dcgm-exporter');
  assert.equal(r.gpus.length, 1);
  const g = r.gpus[0]!;
  assert.equal(g.index, 0);
  assert.equal(g.temperatureC, 61);
  assert.equal(g.powerDrawW, 409.692);
  assert.equal(g.memoryUsedMiB, 4845);
  assert.equal(g.memoryTotalMiB, 4845 + 35690);
  assert.equal(g.xidLast, 0);
  assert.equal(g.utilizationPct, null, 'GPU_UTIL is not in this scrape');
  assert.deepEqual(g.migDevices?.map((d) => [d.gpuInstanceId, d.profile]), [[13, '1g.5gb']]);
});

test('dcgm: current label set with MIG instances, pods, escapes, timestamps and bad values', () => {
  const parsed = parseDcgmMetrics(own('dcgm-h100-mig-pods.prom'));
  const key = (s: (typeof parsed.samples)[0]) => [s.gpu, s.gpuInstanceId, s.pod];
  assert.deepEqual(parsed.samples.map(key), [
    [0, 1, 'llama-ft-0'],
    [0, 13, null],
    [1, null, 'vllm-7d9f"b\\x'],
    [1, null, null],
  ]);
  const [gi1, gi13, gpu1] = parsed.samples as [(typeof parsed.samples)[0], (typeof parsed.samples)[0], (typeof parsed.samples)[0]];
  assert.equal(gi1.namespace, 'ml-team');
  assert.equal(gi1.container, 'trainer');
  assert.equal(gi1.migProfile, '3g.40gb');
  assert.equal(gi1.modelName, 'NVIDIA H100 80GB HBM3');
  assert.equal(gi1.hostname, 'gpu-node-07');
  assert.equal(gi1.pciBusId, '00000000:18:00.0');
  assert.equal(gi1.driverVersion, '570.124.06');
  assert.equal(gi1.metrics.DCGM_FI_PROF_GR_ENGINE_ACTIVE, 0.871234);
  assert.equal(gi13.metrics.DCGM_FI_PROF_GR_ENGINE_ACTIVE, undefined, 'NaN is skipped');
  assert.equal(gpu1.metrics.DCGM_FI_DEV_GPU_TEMP, 51, 'the trailing timestamp is not the value');
  assert.equal(gpu1.metrics.DCGM_FI_DEV_XID_ERRORS, 79);
  assert.equal(gpu1.metrics.DCGM_FI_DEV_ECC_DBE_VOL_TOTAL, 2);
  assert.equal(gpu1.metrics.DCGM_FI_DEV_ROW_REMAP_FAILURE, 0);
  assert.equal(gpu1.metrics.DCGM_FI_PROF_GR_ENGINE_ACTIVE, undefined, '+Inf is skipped');
  assert.deepEqual(parsed.samples[3]!.metrics, {
    'DCGM_EXP_XID_ERRORS_COUNT{window_size_in_ms="300000",xid="13"}': 4,
    'DCGM_EXP_XID_ERRORS_COUNT{window_size_in_ms="300000",xid="79"}': 1,
  });
  assert.deepEqual(parsed.warnings, [
    'DCGM_FI_PROF_GR_ENGINE_ACTIVE: 2 non-numeric value(s) skipped (e.g. "NaN")',
    'DCGM_FI_DEV_VGPU_PER_PROCESS_UTILIZATION: 1 non-numeric value(s) skipped (e.g. "ERROR - FAILED TO CONVERT TO STRING")',
    '1 series without a gpu or UUID label skipped (e.g. DCGM_FI_DEV_NVSWITCH_TEMPERATURE_CURRENT)',
  ]);

  const r = dcgmToReport(parsed);
  assert.equal(r.driverVersion, '570.124.06');
  assert.equal(r.gpus.length, 2);
  const [g0, g1] = r.gpus as [(typeof r.gpus)[0], (typeof r.gpus)[0]];
  assert.equal(g0.product, 'NVIDIA H100 80GB HBM3');
  assert.equal(g0.pciBusId, '00000000:18:00.0');
  assert.equal(g0.memoryTotalMiB, null, 'only per-GI series: no whole-GPU memory');
  assert.equal(g0.temperatureC, 44, 'device-wide fields are repeated on GI series');
  assert.equal(g0.powerDrawW, 312.449);
  assert.deepEqual(
    g0.migDevices?.map((d) => [d.gpuInstanceId, d.profile, d.memoryTotalMiB]),
    [
      [1, '3g.40gb', 40448],
      [13, '1g.10gb', 9984],
    ],
  );
  assert.equal(g1.uuid, 'GPU-8d2e6f10-77aa-4b3c-b1d2-e3f405162738');
  assert.equal(g1.memoryTotalMiB, 1234 + 79002 + 1323);
  assert.equal(g1.memoryUsedMiB, 79002);
  assert.equal(g1.utilizationPct, 93);
  assert.equal(g1.xidLast, 79);
  assert.equal(g1.eccUncorrectable, 2);
  assert.deepEqual(g1.migDevices, []);
});

test('dcgm: legacy label names and Prometheus exported_* relabelling', () => {
  const parsed = parseDcgmMetrics(own('dcgm-legacy-labels.prom'));
  assert.deepEqual(parsed.warnings, []);
  const s = parsed.samples[0]!;
  assert.equal(s.uuid, 'GPU-7a8b9c0d-1e2f-3a4b-5c6d-7e8f9a0b1c2d');
  assert.equal(s.modelName, 'Tesla V100-SXM2-32GB');
  assert.equal(s.hostname, 'dgx1-03');
  assert.equal(s.pod, 'bert-large-2', 'exported_pod is the workload; pod is the exporter itself');
  assert.equal(s.namespace, 'nlp');
  assert.equal(s.container, 'worker');
  assert.equal(s.metrics.DCGM_FI_DEV_GPU_UTIL, 64);

  const r = dcgmToReport(parsed);
  assert.equal(r.gpus.length, 2, 'gpu 0 on two hosts is two GPUs');
  assert.equal(r.gpus[0]!.memoryTotalMiB, 30112 + 2398);
  assert.equal(r.gpus[0]!.eccUncorrectableAggregate, 1);
  assert.equal(r.gpus[1]!.temperatureC, 49);
  assert.deepEqual(r.warnings, ['series from 2 hosts (dgx1-03, dgx1-04); gpu indexes repeat per host']);
});

test('dcgm: a scrape cut off mid-line keeps the complete lines', () => {
  const r = parseDcgmReport(own('dcgm-truncated.prom'));
  assert.equal(r.gpus.length, 1);
  assert.equal(r.gpus[0]!.temperatureC, 41);
  assert.equal(r.gpus[0]!.powerDrawW, 27.3);
  assert.equal(r.gpus[0]!.product, 'NVIDIA L4');
  assert.equal(r.gpus[0]!.memoryUsedMiB, null);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /^line 3: line ends inside the value of label UUID/);
});

test('dcgm: malformed lines, HELP/TYPE-only input and other exporters never throw', () => {
  const odd = parseDcgmMetrics(
    [
      '# EOF',
      'DCGM_FI_DEV_GPU_TEMP{gpu="0" UUID="GPU-x"} 40',
      'DCGM_FI_DEV_GPU_TEMP{gpu="0",=} 40',
      'DCGM_FI_DEV_GPU_TEMP{gpu=0} 40',
      'DCGM_FI_DEV_GPU_TEMP{gpu="0"}',
      'DCGM_FI_DEV_GPU_TEMP{gpu="1"} -Inf',
      'DCGM_FI_DEV_GPU_TEMP{gpu="2"} 1e2',
      'node_cpu_seconds_total{cpu="0"} 1',
    ].join('\n'),
  );
  assert.deepEqual(odd.samples.map((s) => [s.gpu, s.metrics.DCGM_FI_DEV_GPU_TEMP]), [
    [0, 40],
    [2, 100],
  ]);
  assert.ok(odd.warnings.some((w) => w.includes('no value')));
  assert.ok(odd.warnings.some((w) => w.includes('not quoted')));
  assert.ok(odd.warnings.some((w) => w.includes('"-Inf"')));

  const helpOnly = parseDcgmReport('# HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).\n# TYPE DCGM_FI_DEV_GPU_TEMP gauge\n');
  assert.deepEqual(helpOnly.gpus, []);
  assert.deepEqual(helpOnly.warnings, ['no DCGM_* series with a gpu or UUID label']);
});
