/** The terminal output pump: bounded memory, bounded rate, nothing lost silently. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TerminalEvent } from '../../shared/contract/terminals.ts';
import { OutputPump } from '../../electron/core/terminals/output-pump.ts';
import { execPath, readStatus } from '../../electron/core/terminals/pod-exec.ts';
import { FakeClock } from '../support/fake-clock.ts';

const text = (events: TerminalEvent[]) => events.filter((e) => e.type === 'data').map((e) => Buffer.from((e as { data: string }).data, 'base64').toString('latin1')).join('');

test('output waits for a display, then arrives coalesced in bounded chunks, exit last', () => {
  const clock = new FakeClock();
  const pump = new OutputPump(clock, { capBytes: 1000, chunkBytes: 10, intervalMs: 16 });
  pump.push(Buffer.from('hello '));
  pump.push(Buffer.from('world, and more'));
  pump.end({ type: 'exit', code: 0, reason: 'the shell exited with status 0' });
  clock.advance(100);
  assert.equal(pump.bufferedBytes, 21, 'nothing is emitted before someone listens');
  const events: TerminalEvent[] = [];
  pump.attach((e) => events.push(e));
  clock.advance(0);
  assert.equal(events.length, 1, 'one chunk per interval');
  clock.advance(16 * 5);
  assert.deepEqual(events.map((e) => e.type), ['data', 'data', 'data', 'exit']);
  assert.ok(events.filter((e) => e.type === 'data').every((e) => Buffer.from((e as { data: string }).data, 'base64').length <= 10));
  assert.equal(text(events), 'hello world, and more');
  assert.equal(pump.done, true);
  pump.push(Buffer.from('late'));
  assert.equal(pump.bufferedBytes, 0, 'nothing is taken after the end');
});

test('a display that cannot keep up loses the oldest bytes, is told how many, and memory stays capped', () => {
  const clock = new FakeClock();
  const pump = new OutputPump(clock, { capBytes: 4096, chunkBytes: 1024, intervalMs: 16 });
  const events: TerminalEvent[] = [];
  pump.attach((e) => events.push(e));
  for (let i = 0; i < 1000; i++) {
    pump.push(Buffer.alloc(100, i % 2 ? 'b' : 'a'));
    assert.ok(pump.bufferedBytes <= 4096);
  }
  pump.push(Buffer.from('THE-END'));
  clock.advance(16 * 20);
  const notice = events.find((e) => e.type === 'notice') as { message: string } | undefined;
  assert.ok(notice, 'a notice says output was dropped');
  assert.match(notice.message, /KiB of output dropped: the display could not keep up/);
  const shown = text(events);
  assert.equal(shown.length, 4096, 'exactly the cap reaches the display');
  assert.ok(shown.endsWith('THE-END'), 'the newest output is kept');
});

test('a new display replaces the old one', () => {
  const clock = new FakeClock();
  const pump = new OutputPump(clock, { capBytes: 100, chunkBytes: 100, intervalMs: 16 });
  const first: TerminalEvent[] = [];
  const second: TerminalEvent[] = [];
  const detach = pump.attach((e) => first.push(e));
  pump.attach((e) => second.push(e));
  detach();
  pump.push(Buffer.from('x'));
  clock.advance(20);
  assert.equal(first.length, 0);
  assert.equal(text(second), 'x');
});

test('exec Status: exit codes, success, and a missing shell', () => {
  assert.deepEqual(readStatus({ status: 'Success' }), { code: 0, notFound: false });
  assert.equal(readStatus({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '42' }] } }).code, 42);
  const missing = readStatus({ status: 'Failure', message: 'OCI runtime exec failed: exec failed: unable to start container process: exec: "/bin/bash": stat /bin/bash: no such file or directory: unknown' });
  assert.equal(missing.notFound, true);
  assert.equal(missing.code, null);
  assert.equal(readStatus({ status: 'Failure', message: 'container is not running' }).notFound, false);
  assert.equal(readStatus(null).code, null);
});

test('the exec URL names the container and each argv word; with a TTY stderr is merged', () => {
  const p = execPath({ namespace: 'team-a', pod: 'web-0', container: 'app', command: ['/bin/sh'], tty: true });
  assert.equal(p, '/api/v1/namespaces/team-a/pods/web-0/exec?container=app&command=%2Fbin%2Fsh&stdin=true&stdout=true&stderr=false&tty=true');
});
