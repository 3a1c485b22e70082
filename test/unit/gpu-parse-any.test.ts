import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { detectFormat, emptyGpu, GpuParseError, parseAny } from '../../electron/core/gpu/index.ts';
import type { GpuReport, GpuReportFormat } from '../../electron/core/gpu/index.ts';
import { realDir, ownDir, own, real } from '../support/gpu-fixtures.ts';


/** What each real capture is; files that are not parser input must be refused. */
const REAL: Record<string, GpuReportFormat | null> = {
  'a100-40gb-mig-lgipp-mig-user-guide.txt': 'mig-lgipp',
  'a100-80gb-mig-lgip-lgi-lcip.txt': 'mig-lgip',
  'dcgm-exporter-a100-mig-nvidia-docs.prom': 'dcgm-exporter',
  'h100-pcie-mig-lgip.txt': 'mig-lgip',
  'h100-sxm-80gb-mig-lgip.txt': 'mig-lgip',
  'netdata-a100-sxm4-mig.xml': 'nvidia-smi-xml',
  'netdata-rtx-4090-driver-535.xml': 'nvidia-smi-xml',
  'netdata-tesla-p100.xml': 'nvidia-smi-xml',
  'telegraf-tesla-t4.xml': 'nvidia-smi-xml',
  'netdata-tesla-p100.csv': 'nvidia-smi-csv',
  'nvidia-smi-L-a100-80gb-x4-mig.txt': 'nvidia-smi-list',
  'node-labels-a100-80gb-pcie-mig-single.txt': 'nvidia-smi-list',
  'dcgm-exporter-default-counters.csv': null,
  'netdata-help-query-gpu.txt': null,
  'mig-manager-apply-log.txt': null,
  'mig-parted-config-default.yaml': null,
  'gpu-operator-clusterpolicy-sample.yaml': null,
  'node-labels-a100-40gb-mig-mixed-openshift-docs.txt': null,
};

const OWN: Record<string, GpuReportFormat | null> = {
  'smi-v13-h100-mig.xml': 'nvidia-smi-xml',
  'smi-v14-unknown.xml': 'nvidia-smi-xml',
  'smi-truncated.xml': 'nvidia-smi-xml',
  'smi-truncated-header.xml': 'nvidia-smi-xml',
  'smi-query-units.csv': 'nvidia-smi-csv',
  'smi-query-truncated.csv': 'nvidia-smi-csv',
  'smi-query-garbage-values.csv': 'nvidia-smi-csv',
  'smi-query-noheader.csv': null,
  'smi-L-r450-mixed.txt': 'nvidia-smi-list',
  'smi-L-truncated.txt': 'nvidia-smi-list',
  'mig-lgi-h100-2gpu.txt': 'mig-lgi',
  'mig-lgipp-2gpu.txt': 'mig-lgipp',
  'mig-lgip-truncated.txt': 'mig-lgip',
  'mig-lgip-a30-newcolumn.txt': 'mig-lgip',
  'dcgm-h100-mig-pods.prom': 'dcgm-exporter',
  'dcgm-legacy-labels.prom': 'dcgm-exporter',
  'dcgm-truncated.prom': 'dcgm-exporter',
  'dcgm-truncated-first-line.prom': 'dcgm-exporter',
  'empty.txt': null,
  'garbage.txt': null,
};

/** Every field present and JSON-safe: nulls, never undefined. */
function assertStableShape(r: GpuReport): void {
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
  const keys = Object.keys(emptyGpu()).sort();
  for (const g of r.gpus) assert.deepEqual(Object.keys(g).sort(), keys);
  for (const g of r.gpus) for (const d of g.migDevices ?? []) for (const v of Object.values(d)) assert.notEqual(v, undefined);
}

test('detect + parseAny: every real capture is recognised (or refused) and parsed', (t) => {
  if (!fs.existsSync(realDir)) return t.skip('../shared/fixtures/gpu not present');
  for (const [name, format] of Object.entries(REAL)) {
    const file = path.join(realDir, name);
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, 'utf8');
    assert.equal(detectFormat(text), format, name);
    if (format === null) {
      assert.throws(() => parseAny(text), (e: unknown) => e instanceof GpuParseError && /^not a recognised nvidia-smi or dcgm-exporter format: starts with "/.test(e.message), name);
      continue;
    }
    const r = parseAny(text);
    assert.equal(r.format, format, name);
    assert.ok(r.gpus.length > 0, name);
    assertStableShape(r);
  }
});

test('parseAny: concrete values through the single entry point', (t) => {
  if (!fs.existsSync(realDir)) return t.skip('../shared/fixtures/gpu not present');
  const read = (n: string) => fs.readFileSync(path.join(realDir, n), 'utf8');
  assert.equal(parseAny(read('telegraf-tesla-t4.xml')).gpus[0]!.powerDrawW, 26.78);
  assert.equal(parseAny(read('netdata-rtx-4090-driver-535.xml')).gpus[0]!.powerDrawW, 26.84);
  assert.equal(parseAny(read('nvidia-smi-L-a100-80gb-x4-mig.txt')).gpus.length, 4);
  assert.equal(parseAny(read('h100-pcie-mig-lgip.txt')).gpus[0]!.profiles!.length, 7);
  const session = read('a100-80gb-mig-lgip-lgi-lcip.txt');
  const lgi = parseAny(session, { format: 'mig-lgi' });
  assert.equal(lgi.format, 'mig-lgi');
  assert.deepEqual(lgi.gpus[0]!.migDevices!.map((d) => d.gpuInstanceId), [1, 2]);
});

test('detect + parseAny: own fixtures', () => {
  for (const [name, format] of Object.entries(OWN)) {
    const text = own(name);
    assert.equal(detectFormat(text), format, name);
  }
  const v13 = parseAny(own('smi-v13-h100-mig.xml'));
  assert.equal(v13.gpus[0]!.migDevices!.length, 3);
  assertStableShape(v13);
  assert.equal(parseAny(own('dcgm-h100-mig-pods.prom')).gpus[1]!.xidLast, 79);
  assert.equal(parseAny(own('smi-truncated.xml')).gpus.length, 2);

  const fields = ['index', 'name', 'memory.total', 'memory.used', 'power.draw', 'temperature.gpu'];
  assert.equal(detectFormat(own('smi-query-noheader.csv'), { csvFields: fields }), 'nvidia-smi-csv');
  const csv = parseAny(own('smi-query-noheader.csv'), { csvFields: fields });
  assert.equal(csv.gpus[0]!.memoryTotalMiB, 15360);
});

function rejects(text: string, message: RegExp | string): void {
  assert.throws(
    () => parseAny(text),
    (e: unknown) => {
      assert.ok(e instanceof GpuParseError, `not a GpuParseError: ${String(e)}`);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      assert.equal(e.reason, e.message);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    },
  );
}

test('parseAny: empty, garbage, binary and nvidia-smi error text get a one-line reason', () => {
  rejects('', 'empty input');
  rejects(own('empty.txt'), 'empty input');
  rejects(' \n\t\n', 'empty input');
  rejects(own('garbage.txt'), 'not a recognised nvidia-smi or dcgm-exporter format: starts with "Lorem ipsum dolor sit amet, consectetur adipiscing elit."');
  rejects('\u0000\u0001\u00ff\u00fe\r\n\u0007binary', /^not a recognised nvidia-smi or dcgm-exporter format: starts with "\\u0000/);
  rejects('<html><body>hello</body></html>', /^not a recognised .* starts with "<html>/);
  rejects(
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n",
    /^nvidia-smi reported: NVIDIA-SMI has failed because/,
  );
  rejects('No MIG-enabled devices found.', 'nvidia-smi reported: No MIG-enabled devices found.');
  rejects(own('smi-query-noheader.csv'), /^not a recognised/);
});

test('parseAny: truncated input is refused only when nothing in it could be read', () => {
  rejects(own('smi-truncated-header.xml'), 'truncated XML: ended inside a start tag in <nvidia_smi_log>');
  rejects('<?xml version="1.0" ?>\n<nvidia_smi_log>\n<driver_version>5', 'truncated XML: ended inside <nvidia_smi_log>/<driver_version>');
  rejects(own('dcgm-truncated-first-line.prom'), /^nothing understood as dcgm-exporter: line 3: line ends inside the value of label UUID/);
  rejects('+----+\n| GPU instance profiles: |\n| GPU Name ID |', /^nothing understood as mig-lgip/);
  const partial = parseAny(own('smi-truncated.xml'));
  assert.equal(partial.warnings[0], 'truncated XML: ended inside <nvidia_smi_log>/<gpu>/<temperature>/<gpu_temp>');
});

/** Deterministic PRNG so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('parseAny: cut and corrupted inputs either parse or raise GpuParseError, never anything else', (t) => {
  const texts = Object.keys(OWN).map(own);
  if (fs.existsSync(realDir)) {
    for (const name of Object.keys(REAL)) {
      const file = path.join(realDir, name);
      if (fs.existsSync(file)) texts.push(fs.readFileSync(file, 'utf8'));
    }
  } else t.diagnostic('shared fixtures absent: fuzzing own fixtures only');
  const rand = rng(20260310);
  let parsed = 0;
  let refused = 0;
  for (const text of texts) {
    for (let k = 0; k < 40; k++) {
      let sample = text.slice(0, Math.floor(rand() * (text.length + 1)));
      if (k % 4 === 3 && sample.length > 0) {
        const at = Math.floor(rand() * sample.length);
        const junk = ['<', '>', '&', '"', '{', '}', '|', '\u0000', '</gpu>', '<gpu>', ',', '\n', ':'][Math.floor(rand() * 13)]!;
        sample = sample.slice(0, at) + junk + sample.slice(at + 1);
      }
      try {
        const r = parseAny(sample);
        assertStableShape(r);
        parsed++;
      } catch (e) {
        if (!(e instanceof GpuParseError)) throw new Error(`crashed on a ${sample.length}-char prefix: ${String(e)}`);
        assert.ok(!e.message.includes('\n'));
        refused++;
      }
    }
  }
  assert.ok(parsed > 0 && refused > 0, `parsed ${parsed}, refused ${refused}`);
});
