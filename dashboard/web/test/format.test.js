// How figures read: the same functions format the API's numbers in the
// browser test, so these cases pin what a shop owner sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { change, count, duration, percent, ratio } from '../src/format.js';

test('figures read as a person says them', () => {
  const cases = [
    [count, 0, '0'],
    [count, 1234, '1,234'],
    [count, 12345, '12.3K'],
    [count, 2500000, '2.5M'],
    [count, null, '–'],
    [ratio, 2.7345, '2.73'],
    [ratio, 3, '3'],
    [percent, 41, '41%'],
    [percent, 33.333, '33.3%'],
    [duration, 0, '0s'],
    [duration, 45.4, '45s'],
    [duration, 134, '2m 14s'],
    [duration, 3725, '1h 2m'],
  ];
  for (const [format, input, want] of cases) assert.equal(format(input), want, `${format.name}(${input})`);
});

test('a change is good or bad news by its metric', () => {
  const cases = [
    ['visitors', 12.4, { text: '↑ 12%', tone: 'good' }],
    ['visitors', -4, { text: '↓ 4%', tone: 'bad' }],
    ['bounce_rate', -3, { text: '↓ 3 pp', tone: 'good' }],
    ['bounce_rate', 5, { text: '↑ 5 pp', tone: 'bad' }],
    ['visit_duration', 0.2, { text: '0%', tone: 'flat' }],
    ['bounce_rate', null, { text: '–', tone: 'flat' }],
  ];
  for (const [metric, value, want] of cases) assert.deepEqual(change(metric, value), want, `${metric} ${value}`);
});
