import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseSmiXml } from '../../electron/core/gpu/smi-xml.ts';
import { parseXml, textAt } from '../../electron/core/gpu/xml.ts';
import { own, real } from '../support/gpu-fixtures.ts';


test('xml: elements, attributes, entities, CDATA, comments and an internal DTD subset', () => {
  const doc = parseXml(
    `\ufeff<?xml version="1.0"?>\n<!DOCTYPE r SYSTEM "x.dtd" [ <!ENTITY e "v"> ]>\n<!-- c <not/> -->\n` +
      `<r a='1' b="x &amp; y"><n>&lt;5 &#65;&#x42;</n><s/><c><![CDATA[<raw> & ]]></c><!-- in --><m>t</m></r>`,
  );
  assert.equal(doc.truncated, null);
  assert.deepEqual(doc.problems, []);
  assert.equal(doc.doctype, 'r SYSTEM "x.dtd" [ <!ENTITY e "v"> ]');
  assert.equal(doc.root?.name, 'r');
  assert.deepEqual(doc.root?.attrs, { a: '1', b: 'x & y' });
  assert.equal(textAt(doc.root!, 'n'), '<5 AB');
  assert.equal(textAt(doc.root!, 's'), '');
  assert.equal(textAt(doc.root!, 'c'), '<raw> & ');
  assert.equal(textAt(doc.root!, 'm'), 't');
  assert.deepEqual(doc.root?.children.map((c) => c.name), ['n', 's', 'c', 'm']);
});

test('xml: recovers from mismatched and stray tags, reports truncation and never returns cut-off text', () => {
  const bad = parseXml('<r><a><b>1</a><c>2</c></x></r>');
  assert.equal(textAt(bad.root!, 'a', 'b'), '1');
  assert.equal(textAt(bad.root!, 'c'), '2');
  assert.ok(bad.problems.some((p) => p.includes('<b> closed implicitly')));
  assert.ok(bad.problems.some((p) => p.includes('stray </x>')));

  const cut = parseXml('<r><gpu><t>36</t><u>12');
  assert.equal(cut.truncated, 'ended inside <r>/<gpu>/<u>');
  assert.equal(textAt(cut.root!, 'gpu', 't'), '36');
  assert.equal(textAt(cut.root!, 'gpu', 'u'), undefined);
  assert.match(parseXml('<r><gpu id="00').truncated ?? '', /start tag/);
  assert.match(parseXml('<r><!-- never').truncated ?? '', /comment/);
});

test('smi-xml: A100 in MIG mode (DTD v11, power_readings)', (t) => {
  const text = real(t, 'netdata-a100-sxm4-mig.xml');
  if (!text) return;
  const r = parseSmiXml(text);
  assert.equal(r.format, 'nvidia-smi-xml');
  assert.equal(r.driverVersion, '510.47.03');
  assert.equal(r.cudaVersion, '11.6');
  assert.equal(r.gpus.length, 1);
  const g = r.gpus[0]!;
  assert.equal(g.index, 0);
  assert.equal(g.pciBusId, '00000000:00:04.0');
  assert.equal(g.uuid, 'GPU-27b94a00-ed54-5c24-b1fd-1054085de32a');
  assert.equal(g.product, 'NVIDIA A100-SXM4-40GB');
  assert.equal(g.memoryTotalMiB, 40960);
  assert.equal(g.memoryUsedMiB, 38);
  assert.deepEqual(g.migMode, { current: 'Enabled', pending: 'Enabled' });
  assert.deepEqual(
    g.migDevices?.map((d) => [d.index, d.gpuInstanceId, d.computeInstanceId, d.memoryTotalMiB, d.multiprocessors]),
    [
      [0, 1, 0, 19968, 42],
      [1, 2, 0, 19968, 42],
    ],
  );
  assert.equal(g.migDevices?.[0]?.profile, null, 'the XML carries no profile name');
  assert.equal(g.temperatureC, 36);
  assert.equal(g.powerDrawW, 66.92);
  assert.equal(g.utilizationPct, null, 'gpu_util is N/A in MIG mode');
  assert.equal(g.eccUncorrectable, null, 'volatile counters are N/A');
  assert.equal(g.eccUncorrectableAggregate, 0);
  assert.equal(g.profiles, null);
  assert.deepEqual(r.warnings, []);
});

test('smi-xml: Tesla T4 (v11, ECC populated, mig_devices None)', (t) => {
  const text = real(t, 'telegraf-tesla-t4.xml');
  if (!text) return;
  const r = parseSmiXml(text);
  assert.equal(r.driverVersion, '515.105.01');
  assert.equal(r.cudaVersion, '11.7');
  const g = r.gpus[0]!;
  assert.equal(r.gpus.length, 1);
  assert.equal(g.product, 'Tesla T4');
  assert.equal(g.pciBusId, '00000000:00:1E.0');
  assert.equal(g.memoryTotalMiB, 15360);
  assert.equal(g.memoryUsedMiB, 1032);
  assert.deepEqual(g.migMode, { current: null, pending: null });
  assert.deepEqual(g.migDevices, []);
  assert.equal(g.temperatureC, 40);
  assert.equal(g.powerDrawW, 26.78);
  assert.equal(g.utilizationPct, 0);
  assert.equal(g.eccUncorrectable, 0);
  assert.equal(g.eccUncorrectableAggregate, 0);
  assert.deepEqual(r.warnings, []);
});

test('smi-xml: RTX 4090 on R535 (v12, gpu_power_readings, ECC N/A)', (t) => {
  const text = real(t, 'netdata-rtx-4090-driver-535.xml');
  if (!text) return;
  const r = parseSmiXml(text);
  assert.equal(r.driverVersion, '535.86.05');
  assert.equal(r.cudaVersion, '12.2');
  const g = r.gpus[0]!;
  assert.equal(g.product, 'NVIDIA GeForce RTX 4090');
  assert.equal(g.uuid, 'GPU-71d1acc2-662d-2166-bf9f-65272d2fc437');
  assert.equal(g.memoryTotalMiB, 24564);
  assert.equal(g.memoryUsedMiB, 2);
  assert.equal(g.powerDrawW, 26.84);
  assert.equal(g.temperatureC, 40);
  assert.equal(g.eccUncorrectable, null);
  assert.equal(g.eccUncorrectableAggregate, null);
  assert.deepEqual(r.warnings, []);
});

test('smi-xml: Tesla P100 (pre-Ampere single_bit/double_bit ECC layout)', (t) => {
  const text = real(t, 'netdata-tesla-p100.xml');
  if (!text) return;
  const r = parseSmiXml(text);
  const g = r.gpus[0]!;
  assert.equal(r.driverVersion, '510.47.03');
  assert.equal(g.product, 'Tesla P100-PCIE-16GB');
  assert.equal(g.memoryTotalMiB, 16384);
  assert.equal(g.temperatureC, 38);
  assert.equal(g.powerDrawW, 26.16);
  assert.equal(g.eccUncorrectable, 0);
  assert.equal(g.eccUncorrectableAggregate, 0, 'the 3 aggregate errors are single-bit (correctable)');
});

test('smi-xml: v13 layout: average/instant power, SRAM parity/secded split, unknown elements', () => {
  const r = parseSmiXml(own('smi-v13-h100-mig.xml'));
  assert.deepEqual(r.warnings, []);
  assert.equal(r.driverVersion, '595.91.07');
  assert.equal(r.cudaVersion, '13.1');
  assert.equal(r.gpus.length, 2);
  const [g0, g1] = r.gpus as [(typeof r.gpus)[0], (typeof r.gpus)[0]];
  assert.equal(g0.powerDrawW, 312.45, 'average_power_draw when power_draw is gone');
  assert.equal(g0.temperatureC, 37, 'padded " 37 C "');
  assert.equal(g0.memoryTotalMiB, 81559);
  assert.equal(g0.utilizationPct, null);
  assert.deepEqual(
    g0.migDevices?.map((d) => [d.gpuInstanceId, d.multiprocessors, d.memoryTotalMiB]),
    [
      [1, 60, 40448],
      [5, 32, 20096],
      [13, 16, 9984],
    ],
  );
  assert.equal(g0.eccUncorrectable, 3, 'parity 1 + secded 0 + dram 2');
  assert.equal(g0.eccUncorrectableAggregate, 8, 'parity 1 + secded 2 + dram 5; the sources breakdown is not added again');
  // A process in MIG instance 1: its ids as printed, its CDATA name read whole.
  assert.deepEqual(g0.processes, [{ pid: 48211, type: 'C', name: 'python3 train.py --config <base> & more', usedMemoryMiB: 12250, gpuInstanceId: 1, computeInstanceId: 0 }]);
  assert.equal(g1.processes, null, 'no <processes> element: not listed, rather than none');
  assert.equal(g1.index, 1);
  assert.equal(g1.pciBusId, '00000000:2A:00.0');
  assert.equal(g1.product, 'NVIDIA H100 80GB HBM3 & friends');
  assert.deepEqual(g1.migMode, { current: 'Disabled', pending: 'Enabled' });
  assert.deepEqual(g1.migDevices, []);
  assert.equal(g1.powerDrawW, 71.88, 'instant_power_draw when average is N/A');
  assert.equal(g1.utilizationPct, 0);
  assert.equal(g1.eccUncorrectable, 0);
  assert.equal(g1.eccUncorrectableAggregate, null);
});

test('smi-xml: unknown future schema keeps the known parts and says what it could not read', () => {
  const r = parseSmiXml(own('smi-v14-unknown.xml'));
  assert.equal(r.driverVersion, '610.12');
  const g = r.gpus[0]!;
  assert.equal(g.product, 'NVIDIA B300');
  assert.equal(g.memoryTotalMiB, 279.5 * 1024, 'GiB converted to MiB');
  assert.equal(g.memoryUsedMiB, 1, '1024 KiB');
  assert.equal(g.temperatureC, null);
  assert.equal(g.powerDrawW, null);
  assert.ok(r.warnings.some((w) => w.includes('nvsmi_device_v14')), r.warnings.join('\n'));
  assert.ok(r.warnings.some((w) => w.includes('temperature/gpu_temp') && w.includes('"hot"')), r.warnings.join('\n'));
  assert.ok(r.warnings.some((w) => w.includes('no power draw element')), r.warnings.join('\n'));
});

test('smi-xml: a capture cut off mid-GPU keeps the complete GPU and the complete fields of the cut one', () => {
  const r = parseSmiXml(own('smi-truncated.xml'));
  assert.equal(r.warnings[0], 'truncated XML: ended inside <nvidia_smi_log>/<gpu>/<temperature>/<gpu_temp>');
  assert.equal(r.driverVersion, '550.127.05');
  assert.equal(r.gpus.length, 2);
  assert.equal(r.gpus[0]!.powerDrawW, 23.41);
  assert.equal(r.gpus[0]!.temperatureC, 29);
  assert.equal(r.gpus[1]!.uuid, 'GPU-9e0c2d4b-1f5a-4d8e-a2c7-6b3f0e1d2c3b');
  assert.equal(r.gpus[1]!.memoryTotalMiB, 46068);
  assert.equal(r.gpus[1]!.temperatureC, null, '"3" was cut off');
  assert.ok(!r.warnings.some((w) => w.includes('no power draw element')), 'a cut GPU is not blamed for missing elements');
});

test('smi-xml: non-nvidia XML and garbage give warnings, not exceptions', () => {
  const html = parseSmiXml('<html><body><gpu>x</gpu></body></html>');
  assert.deepEqual(html.gpus, []);
  assert.ok(html.warnings.some((w) => w.includes('expected <nvidia_smi_log>')));
  const empty = parseSmiXml('');
  assert.deepEqual(empty.gpus, []);
  assert.ok(empty.warnings.length > 0);
  const junk = parseSmiXml('<<<>>> & </nope>');
  assert.deepEqual(junk.gpus, []);
  assert.ok(junk.warnings.length > 0);
});
