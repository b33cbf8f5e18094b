// The outbox delivers events at least once, in batches, across reloads,
// crashes and offline periods, without unbounded growth.
//
// Every event is written to storage (one key per event, so that two tabs
// never overwrite each other's) the moment it is created, and removed when
// the collector gave a definitive answer: 2xx, or a 4xx that says resending
// cannot help (400 with per-event reasons, 401, 413). Network errors, 408,
// 429 and 5xx are retried with exponential backoff, honouring Retry-After.
//
// A page starts by adopting what earlier pages left in storage: events of a
// page that was closed offline, crashed, or left while its batch was still
// unanswered. Such an event may already have arrived; it is sent again with
// the same id, and the pipeline keeps one copy per id.

// Keys in storage: one per queued event, and the count of events the cap
// dropped and that were not reported yet.
const EVENT = 'ff_q_';
const DROPS = 'ff_drop';

// MAX_BACKOFF_MS caps the retry delay of an unreachable collector; the
// collector's own Retry-After may ask for longer.
export const MAX_BACKOFF_MS = 300000;

// CHUNK_CHARS keeps one request under the 64 KB that browsers allow a
// sendBeacon or keepalive fetch: a JSON character is at most 3 UTF-8 bytes.
export const CHUNK_CHARS = 20000;

// backoff is the wait before retry number attempt (0-based): base doubled
// per attempt, capped, with jitter so that pages coming back from one outage
// do not all retry at once; never shorter than what Retry-After asked.
export function backoff(attempt, base, retryAfter, random = Math.random()) {
  return Math.max(retryAfter || 0, Math.min(base * 2 ** attempt, MAX_BACKOFF_MS) * (0.5 + random / 2));
}

// retryAfter reads a Retry-After header in seconds, the form collectors
// send, as ms; the rarer HTTP-date form counts as absent.
export function retryAfter(h) {
  return h * 1000 || 0;
}

// definitive tells whether an HTTP status settles a batch: delivered, or
// refused for good. 0 stands for a network error.
export function definitive(status) {
  return status > 0 && status < 500 && status != 408 && status != 429;
}

// chunks splits events, oldest first, into batches of at most limit
// characters of JSON; an event larger than that travels alone.
export function chunks(events, limit = CHUNK_CHARS) {
  const out = [];
  let size = limit;
  for (const e of events) {
    const n = JSON.stringify(e).length + 1;
    if (size + n > limit) out.push([]), (size = 0);
    out[out.length - 1].push(e);
    size += n;
  }
  return out;
}

// put writes (or, with v empty, removes) a storage entry. Storage may be
// full or blocked: what was to be written then lives in memory only.
export function put(store, k, v) {
  try {
    if (v) store[k] = v;
    else delete store[k];
  } catch (e) {}
}

// outbox returns a page's queue. store is localStorage, or a plain object
// where nothing may be stored. post(events) sends a batch by fetch and
// resolves with [status, retryAfterMs]; post(events, true) hands it to
// sendBeacon (or a keepalive fetch), whose answer the page never sees, and
// tells whether the browser took it. onDrops(n) is told,
// after a delivery, how many events the cap dropped.
export function outbox(store, post, onDrops, { size, delay, max, base }) {
  const q = new Map(); // id -> event, oldest first
  let timer = 0;
  let inFlight = []; // the batch awaiting an answer
  let attempt = 0; // failed attempts in a row; > 0 means backing off

  function forget(e) {
    q.delete(e.id);
    put(store, EVENT + e.id);
  }
  // add queues e and enforces the cap by dropping the oldest.
  function add(e) {
    q.set(e.id, e);
    for (const old of q.values()) {
      if (q.size <= max) break;
      forget(old);
      put(store, DROPS, +(store[DROPS] || 0) + 1);
    }
  }

  function send() {
    clearTimeout(timer);
    timer = 0;
    const batch = !inFlight[0] && chunks(q.values())[0];
    if (batch) (inFlight = batch), post(batch).then(([status, after]) => {
      inFlight = [];
      if (definitive(status)) {
        attempt = 0;
        batch.forEach(forget);
        const n = +store[DROPS];
        put(store, DROPS);
        if (n) onDrops(n);
        send();
      } else timer = setTimeout(send, backoff(attempt++, base, after));
    });
  }

  const left = [];
  for (const k of Object.keys(store)) {
    try {
      if (k.startsWith(EVENT)) left.push(JSON.parse(store[k]));
    } catch (e) {
      put(store, k);
    }
  }
  left.sort((a, b) => a.ts - b.ts).forEach(add);
  if (q.size) timer = setTimeout(send);

  return {
    send,
    push(e) {
      put(store, EVENT + e.id, JSON.stringify(e));
      add(e);
      if (!attempt && q.size >= size) send();
      else if (!timer) timer = setTimeout(send, delay);
    },
    // leave runs as the page is hidden or goes away, and may be its last
    // word. What waits is handed to sendBeacon, and what the browser took
    // is done. The batch in flight is a keepalive fetch that outlives the
    // page: it leaves storage too, so the next page does not send it again,
    // but stays in memory in case this page lives on to see it fail.
    // Offline, or while the collector refuses, everything stays stored for
    // the site's next page.
    leave() {
      if (!attempt && navigator.onLine != false) {
        for (const e of inFlight) put(store, EVENT + e.id);
        for (const b of chunks([...q.values()].filter((e) => !inFlight.includes(e)))) if (post(b, 1)) b.forEach(forget);
      }
    },
    // clear forgets every queued event (consent withdrawn).
    clear() {
      q.forEach(forget);
      put(store, DROPS);
    },
  };
}
