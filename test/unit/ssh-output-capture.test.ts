import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutputCapture } from '../../electron/core/ssh/output-capture.ts';

const TAG = '[tessera-pgid:abc]';
const PROMPT = '[tessera-sudo:abc]';

/** Feeds text split at every possible pair of cut points, so tags and prompts straddle chunk boundaries. */
function everySplit(text: string, make: (sink: (s: string) => void) => OutputCapture, check: (c: OutputCapture, streamed: string) => void): void {
  const bytes = Buffer.from(text);
  for (let i = 0; i <= bytes.length; i++) {
    for (let j = i; j <= bytes.length; j += 3) {
      let streamed = '';
      const c = make((s) => (streamed += s));
      c.push(bytes.subarray(0, i));
      c.push(bytes.subarray(i, j));
      c.push(bytes.subarray(j));
      c.end();
      check(c, streamed);
    }
  }
}

test('the process-group line is taken out wherever the chunks split', () => {
  everySplit(`${TAG}4242\nreal stderr ✓\n`, (sink) => new OutputCapture({ maxBytes: 1 << 20, pidTag: TAG, sink }), (c, streamed) => {
    assert.equal(c.pgid, 4242);
    assert.equal(c.text, 'real stderr ✓\n');
    assert.equal(streamed, c.text);
  });
});

test('sudo prompts are cut out and counted, even split across chunks', () => {
  everySplit(`${TAG}7\nbefore${PROMPT}Sorry, try again.\n${PROMPT}after`, (sink) => new OutputCapture({ maxBytes: 1 << 20, pidTag: TAG, prompt: PROMPT, sink }), (c, streamed) => {
    assert.equal(c.text, 'beforeSorry, try again.\nafter');
    assert.equal(streamed, c.text, 'nothing of the prompt leaks into the stream');
  });
  let prompts = 0;
  const c = new OutputCapture({ maxBytes: 1 << 20, prompt: PROMPT });
  c.onPrompt = () => prompts++;
  c.push(Buffer.from(`x${PROMPT.slice(0, 5)}`));
  assert.equal(prompts, 0);
  c.push(Buffer.from(`${PROMPT.slice(5)}y`));
  c.end();
  assert.equal(prompts, 1);
  assert.equal(c.text, 'xy');
});

test('output that does not start with the tag is kept whole', () => {
  const c = new OutputCapture({ maxBytes: 1 << 20, pidTag: TAG });
  c.push(Buffer.from('csh: unknown syntax\n'));
  c.end();
  assert.equal(c.pgid, null);
  assert.equal(c.text, 'csh: unknown syntax\n');
});

test('output past the cap is dropped and flagged', () => {
  const c = new OutputCapture({ maxBytes: 10 });
  c.push(Buffer.from('12345'));
  c.push(Buffer.from('67890'));
  c.push(Buffer.from('x'));
  c.end();
  assert.equal(c.text, '1234567890');
  assert.equal(c.truncated, true);
});
