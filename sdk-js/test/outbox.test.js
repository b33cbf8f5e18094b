import { test, mock, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { outbox, backoff, definitive, chunks, retryAfter, MAX_BACKOFF_MS, CHUNK_CHARS } from '../src/outbox.js';

const OPTS = { size: 3, delay: 1000, max: 5, base: 1000 };

beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout'] });
  globalThis.navigator = { onLine: true };
});
afterEach(() => {
  mock.timers.reset();
  delete globalThis.navigator;
});

// settle lets the promise callbacks of answered posts run.
const settle = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

// harness returns an outbox on store whose fetches wait for answer(...)
// and whose beacons are recorded.
function harness(store = {}, opts = OPTS) {
  const fetches = []; // { events, answer(status, retryAfterMs) }
  const beacons = [];
  const drops = [];
  let beaconTakes = true;
  const post = (events, beacon) => {
    if (beacon) {
      if (!beaconTakes) return 0;
      beacons.push(events.map((e) => e.id));
      return 1;
    }
    return new Promise((resolve) => fetches.push({ ids: events.map((e) => e.id), answer: (s, after) => resolve([s, after]) }));
  };
  const box = outbox(store, post, (n) => drops.push(n), opts);
  return { box, store, fetches, beacons, drops, refuseBeacons: () => (beaconTakes = false) };
}

let seq = 0;
const ev = (id = `e${++seq}`, ts = ++seq) => ({ id, ts, type: 'custom' });
const queued = (store) => Object.keys(store).filter((k) => k.startsWith('ff_q_')).map((k) => k.slice(5)).sort();

test('a batch leaves after the delay, or at once when it is full', () => {
  const { box, fetches } = harness();
  box.push(ev('a'));
  mock.timers.tick(999);
  assert.equal(fetches.length, 0, 'nothing before the delay');
  mock.timers.tick(1);
  assert.deepEqual(fetches.map((f) => f.ids), [['a']]);

  const full = harness();
  for (const id of ['x', 'y', 'z']) full.box.push(ev(id));
  assert.deepEqual(full.fetches.map((f) => f.ids), [['x', 'y', 'z']], 'size events go without waiting');
});

test('an event stays stored until the collector answers for it', async () => {
  const { box, store, fetches } = harness();
  box.push(ev('a'));
  box.push(ev('b'));
  assert.deepEqual(queued(store), ['a', 'b']);
  mock.timers.tick(1000);
  box.push(ev('c')); // while the batch is in flight
  assert.deepEqual(queued(store), ['a', 'b', 'c']);
  fetches[0].answer(200);
  await settle();
  assert.deepEqual(queued(store), ['c'], 'the answered batch is gone, the later event waits');
  assert.deepEqual(fetches.map((f) => f.ids), [['a', 'b'], ['c']], 'the next batch follows the answer');
  fetches[1].answer(204);
  await settle();
  assert.deepEqual(queued(store), []);
});

test('definitive: delivered or refused for good, never a network error, 408, 429 or 5xx', () => {
  for (const s of [200, 202, 204, 400, 401, 413, 415]) assert.equal(definitive(s), true, String(s));
  for (const s of [0, 408, 429, 500, 502, 503, 504]) assert.equal(definitive(s), false, String(s));
});

test('a 400 with per-event reasons settles the batch: resending cannot help', async () => {
  const { box, store, fetches } = harness();
  box.push(ev('bad'));
  mock.timers.tick(1000);
  fetches[0].answer(400);
  await settle();
  assert.deepEqual(queued(store), []);
  mock.timers.tick(MAX_BACKOFF_MS);
  assert.equal(fetches.length, 1, 'no retry');
});

test('503 with Retry-After: the retry waits that long, then the same events go once', async () => {
  const { box, store, fetches } = harness();
  box.push(ev('a'));
  mock.timers.tick(1000);
  fetches[0].answer(503, retryAfter('7'));
  await settle();
  mock.timers.tick(6999);
  assert.equal(fetches.length, 1, 'not before Retry-After');
  mock.timers.tick(1);
  assert.deepEqual(fetches[1].ids, ['a'], 'the same event, same id');
  fetches[1].answer(200);
  await settle();
  assert.deepEqual(queued(store), []);
  mock.timers.tick(MAX_BACKOFF_MS);
  assert.equal(fetches.length, 2, 'nothing more once delivered');
});

test('network errors and 429 back off exponentially, and leaving does not cut a backoff short', async () => {
  const { box, fetches, beacons } = harness();
  box.push(ev('a'));
  mock.timers.tick(1000);
  let waited = [];
  for (let i = 0; i < 4; i++) {
    fetches[i].answer(i % 2 ? 429 : 0);
    await settle();
    box.leave();
    assert.equal(fetches.length + beacons.length, i + 1, `leave during backoff ${i} sends nothing`);
    let t = 0;
    while (fetches.length == i + 1) mock.timers.tick(10), (t += 10);
    waited.push(t);
  }
  for (let i = 0; i < 4; i++) {
    const full = 1000 * 2 ** i;
    assert.ok(waited[i] >= full / 2 && waited[i] <= full, `retry ${i} after ${waited[i]} ms, want ${full / 2}..${full}`);
  }
});

test('backoff doubles with jitter, is capped, and never undercuts Retry-After', () => {
  assert.equal(backoff(0, 1000, 0, 1), 1000);
  assert.equal(backoff(0, 1000, 0, 0), 500);
  assert.equal(backoff(3, 1000, 0, 1), 8000);
  assert.equal(backoff(30, 1000, 0, 1), MAX_BACKOFF_MS);
  assert.equal(backoff(0, 1000, 60000, 1), 60000);
  assert.equal(backoff(9, 1000, 1000, 1), MAX_BACKOFF_MS, "2^9 s is past the cap");
  assert.equal(retryAfter('120'), 120000);
  assert.equal(retryAfter(null), 0);
  assert.equal(retryAfter('Wed, 21 Oct 2026 07:28:00 GMT'), 0);
});

test('a new page sends, oldest first, what an earlier page left in storage', () => {
  const store = {
    ff_q_late: JSON.stringify(ev('late', 30)),
    ff_q_early: JSON.stringify(ev('early', 10)),
    ff_q_broken: '{',
    ff_aid: 'someone',
  };
  const { fetches } = harness(store);
  assert.equal(store.ff_q_broken, undefined, 'an unreadable entry is removed');
  assert.equal(store.ff_aid, 'someone', 'other keys are left alone');
  mock.timers.tick(0);
  assert.deepEqual(fetches.map((f) => f.ids), [['early', 'late']]);
});

test('the cap drops the oldest while the collector is away, and the drops are reported after', async () => {
  const { box, store, fetches, drops } = harness({}, { ...OPTS, size: 100 });
  box.push(ev('a'));
  mock.timers.tick(1000);
  fetches[0].answer(0);
  await settle();
  for (const id of ['b', 'c', 'd', 'e', 'f', 'g', 'h']) box.push(ev(id));
  assert.deepEqual(queued(store), ['d', 'e', 'f', 'g', 'h'], 'five newest kept');
  assert.equal(store.ff_drop, 3);
  assert.deepEqual(drops, [], 'not reported while undelivered');
  mock.timers.tick(MAX_BACKOFF_MS);
  assert.deepEqual(fetches[1].ids, ['d', 'e', 'f', 'g', 'h']);
  fetches[1].answer(200);
  await settle();
  assert.deepEqual(drops, [3]);
  assert.equal(store.ff_drop, undefined);
});

test('leave hands waiting events to sendBeacon, and leaves the batch in flight to its keepalive fetch', async () => {
  const { box, store, fetches, beacons } = harness();
  box.push(ev('a'));
  mock.timers.tick(1000);
  box.push(ev('b'));
  box.leave();
  assert.deepEqual(fetches.map((f) => f.ids), [['a']]);
  assert.deepEqual(beacons, [['b']], 'the batch in flight is not sent twice');
  assert.deepEqual(queued(store), [], 'nothing is left for the next page to send again');

  // The page lived on (it was only hidden) and the fetch failed: the
  // event it carried is still retried.
  fetches[0].answer(503);
  await settle();
  mock.timers.tick(MAX_BACKOFF_MS);
  assert.deepEqual(fetches.map((f) => f.ids), [['a'], ['a']]);
  assert.deepEqual(beacons, [['b']]);
});

test('leave keeps everything stored when offline, backing off, or refused by sendBeacon', async () => {
  const offline = harness();
  offline.box.push(ev('a'));
  navigator.onLine = false;
  offline.box.leave();
  assert.deepEqual(offline.beacons, []);
  assert.deepEqual(queued(offline.store), ['a']);
  navigator.onLine = true;

  const failing = harness();
  failing.box.push(ev('a'));
  mock.timers.tick(1000);
  failing.fetches[0].answer(503);
  await settle();
  failing.box.push(ev('b'));
  failing.box.leave();
  assert.deepEqual(failing.beacons, [], 'a refusing collector gets no beacon it cannot answer');
  assert.deepEqual(queued(failing.store), ['a', 'b']);

  const refused = harness();
  refused.refuseBeacons();
  refused.box.push(ev('a'));
  refused.box.leave();
  assert.deepEqual(queued(refused.store), ['a']);
});

test('chunks keeps each batch under the limit, in order; a huge event travels alone', () => {
  const small = Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, pad: 'x'.repeat(80) }));
  const size = JSON.stringify(small[0]).length + 1;
  const got = chunks(small, size * 4);
  assert.deepEqual(got.map((c) => c.length), [4, 4, 2]);
  assert.deepEqual(got.flat(), small);
  const huge = { id: 'huge', pad: 'x'.repeat(CHUNK_CHARS) };
  assert.deepEqual(chunks([small[0], huge, small[1]]).map((c) => c.map((e) => e.id)), [['s0'], ['huge'], ['s1']]);
  assert.deepEqual(chunks([]), []);
  // CHUNK_CHARS characters of JSON are at most 3 bytes each: under 64 KB.
  assert.ok(CHUNK_CHARS * 3 + 64 < 65536);
});

test('clear forgets every queued event and the drop count', () => {
  const { box, store } = harness({ ff_drop: '2', ff_aid: 'x' });
  box.push(ev('a'));
  box.clear();
  assert.deepEqual(queued(store), []);
  assert.equal(store.ff_drop, undefined);
});
