import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { queue } from '../src/queue.js';

function setup() {
  mock.timers.enable({ apis: ['setTimeout'] });
  const sent = [];
  return { sent, q: queue((batch) => sent.push(batch)) };
}

test('queue flushes one second after the first event', (t) => {
  const { sent, q } = setup();
  t.after(() => mock.timers.reset());
  q.push(1);
  mock.timers.tick(500);
  q.push(2);
  mock.timers.tick(499);
  assert.deepEqual(sent, []);
  mock.timers.tick(1);
  assert.deepEqual(sent, [[1, 2]]);
  mock.timers.tick(5000);
  assert.deepEqual(sent, [[1, 2]], 'an empty queue sends nothing');
});

test('queue flushes at ten events without waiting', (t) => {
  const { sent, q } = setup();
  t.after(() => mock.timers.reset());
  for (let i = 1; i <= 12; i++) q.push(i);
  assert.deepEqual(sent, [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]);
  mock.timers.tick(1000);
  assert.deepEqual(sent, [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [11, 12]]);
});

test('flush sends at once, and the timer it cancels does not send again', (t) => {
  const { sent, q } = setup();
  t.after(() => mock.timers.reset());
  q.flush();
  assert.deepEqual(sent, [], 'nothing to send');
  q.push('a');
  q.flush();
  assert.deepEqual(sent, [['a']]);
  q.push('b');
  mock.timers.tick(999);
  assert.deepEqual(sent, [['a']], 'a new timer starts with the next event');
  mock.timers.tick(1);
  assert.deepEqual(sent, [['a'], ['b']]);
});
