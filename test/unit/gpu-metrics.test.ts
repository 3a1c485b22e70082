import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDcgmMetrics } from '../../electron/core/gpu/dcgm.ts';
import { gpuMetricsFrom } from '../../electron/core/metrics/gpu-metrics.ts';
import { IdleTracker } from '../../electron/core/metrics/idle-tracker.ts';
import type { GpuMetrics } from '../../shared/model/metrics.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const text = fs.readFileSync(path.join(here, '../fixtures/gpu/dcgm-h100-mig-pods.prom'), 'utf8');

test('a scrape folds into GPUs with their MIG instances, pods and health', () => {
  const gpus = gpuMetricsFrom(parseDcgmMetrics(text).samples, { hotC: 50 });
  assert.deepEqual(gpus.map((g) => g.index), [0, 1]);
  const [g0, g1] = gpus as [(typeof gpus)[0], (typeof gpus)[0]];
  assert.deepEqual(g0.mig.map((m) => [m.gpuInstanceId, m.profile, m.pod ?? null]), [[1, '3g.40gb', 'llama-ft-0'], [13, '1g.10gb', null]]);
  assert.equal(g0.mig[0]!.utilPct, 87.1);
  assert.equal(g0.mig[1]!.utilPct, undefined, 'NaN engine activity is not a number');
  assert.equal(g0.tempC, 44);
  assert.equal(g0.hot, false);
  assert.equal(g1.utilPct, 93);
  assert.equal(g1.fbUsedMiB, 79002);
  assert.equal(g1.pod, 'vllm-7d9f"b\\x');
  assert.equal(g1.namespace, 'inference');
  assert.equal(g1.hot, true, '51 C is over the 50 C threshold given');
});

test('XID, double-bit ECC and row-remap failures mark a GPU as erroring', () => {
  const prom = [
    'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-a"} 10',
    'DCGM_FI_DEV_XID_ERRORS{gpu="0",UUID="GPU-a"} 79',
    'DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-b"} 10',
    'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL{gpu="1",UUID="GPU-b"} 0',
  ].join('\n');
  const gpus = gpuMetricsFrom(parseDcgmMetrics(prom).samples, { hotC: 85 });
  assert.deepEqual(gpus.map((g) => g.erroring), [true, false]);
  assert.equal(gpus[0]!.xid, 79);
});

test('idle means held and under the threshold since a remembered time, cleared when busy or released', () => {
  const t = new IdleTracker(5);
  const gpus = (): GpuMetrics[] => [{ index: 0, utilPct: 1, pod: 'p', mig: [{ gpuInstanceId: 3, utilPct: 0, pod: 'q' }], hot: false, erroring: false }, { index: 1, utilPct: 0, mig: [], hot: false, erroring: false }];
  const first = gpus();
  t.apply('n1', first, 1000);
  assert.equal(first[0]!.idleSince, new Date(1000).toISOString());
  assert.equal(first[0]!.mig[0]!.idleSince, new Date(1000).toISOString());
  assert.equal(first[1]!.idleSince, undefined, 'a free GPU is not idle, just free');
  const later = gpus();
  t.apply('n1', later, 60_000);
  assert.equal(later[0]!.idleSince, new Date(1000).toISOString(), 'the start of the quiet period is kept');
  const busy = gpus();
  busy[0]!.utilPct = 80;
  t.apply('n1', busy, 70_000);
  assert.equal(busy[0]!.idleSince, undefined);
  const again = gpus();
  t.apply('n1', again, 80_000);
  assert.equal(again[0]!.idleSince, new Date(80_000).toISOString(), 'a new quiet period starts after activity');
});
