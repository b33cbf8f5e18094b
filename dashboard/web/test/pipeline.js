// The running pipeline as the browser tests use it: where it answers, its
// demo keys, visits sent through the collector, and the Stats API asked
// directly. `make test` starts it and sets FOOTFALL_E2E_*.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const dataDir = process.env.FOOTFALL_DATA_DIR || `${repo}.data`;

export const SITE = 'demo';

// pipeline returns the URLs and keys, or throws saying how to run the test.
export function pipeline() {
  const dashboard = process.env.FOOTFALL_E2E_DASHBOARD;
  const collector = process.env.FOOTFALL_E2E_COLLECTOR;
  if (!dashboard || !collector) {
    throw new Error('FOOTFALL_E2E_DASHBOARD or FOOTFALL_E2E_COLLECTOR is not set: this test needs the pipeline running; ' +
      'run it via `make test`, or after `make up` as `source <(deploy/local/footfall.sh env) && cd dashboard/web && npm test`');
  }
  const key = (name) => readFileSync(`${dataDir}/footfall/demo-${name}-key`, 'utf8').trim();
  return { dashboard, collector, writeKey: key('write'), serverKey: key('server'), statsKey: key('stats') };
}

// poll calls fn every interval ms until it returns a truthy value, which it
// resolves with, or fails after ms with what fn last saw.
export async function poll(what, ms, interval, fn) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn((seen) => (last = seen));
      if (v) return v;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${ms} ms; last seen: ${JSON.stringify(last, null, 1)}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

// A desktop browser's User-Agent: headless Chromium's own is flagged as a
// bot, and bots are left out of every figure.
export const AGENTS = {
  chromeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  firefoxMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0',
  safariIPhone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
};

// visit sends one visit's events through the collector as one batch, from
// one visitor with one session, a second apart and ending now. Each step
// is {type, path, ...fields of the envelope}.
export async function visit(env, agent, steps, { referrer = '', utm } = {}) {
  const anonymous = randomUUID();
  const session = randomUUID();
  const start = Date.now() - steps.length * 1000;
  let path = '/';
  const events = steps.map((step, i) => {
    const { type, path: stepPath, ...fields } = step;
    const previous = path;
    path = stepPath || path;
    return {
      id: randomUUID(),
      type,
      ts: start + i * 1000,
      anonymous_id: anonymous,
      session_id: session,
      page: { url: `https://shop.example${path}`, path, title: path, referrer: i === 0 ? referrer : `https://shop.example${previous}` },
      context: { locale: 'en-GB', tz: 'Europe/London', screen: '1920x1080', ...(utm && { utm }) },
      ...fields,
    };
  });
  const res = await fetch(`${env.collector}/v1/batch`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'User-Agent': agent },
    // As the beacon does: sent_at lets the collector keep each event's
    // time (a browser's batch without it is dated when it arrives).
    body: JSON.stringify({ site: env.writeKey, sent_at: Date.now(), events }),
  });
  const body = await res.text();
  if (!res.ok) throw new Error(`collector answered ${res.status}: ${body}`);
  return { anonymous, session };
}

// sendLogs posts log records to the collector's /v1/logs as JSON lines,
// with the demo site's server key, as a shop's servers would.
export async function sendLogs(env, records) {
  const res = await fetch(`${env.collector}/v1/logs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-ndjson', Authorization: `Basic ${Buffer.from(`${env.serverKey}:`).toString('base64')}` },
    body: records.map((r) => JSON.stringify(r)).join('\n'),
  });
  const body = await res.text();
  if (!res.ok) throw new Error(`collector answered ${res.status}: ${body}`);
  return JSON.parse(body);
}

// stats asks the Stats API with the demo site's key and returns the JSON
// answer, or throws with the status and error.
export async function stats(env, path, params = {}) {
  const url = new URL(`/api/v1/stats/${path}`, env.dashboard);
  url.searchParams.set('site_id', SITE);
  for (const [name, value] of Object.entries(params)) if (value) url.searchParams.set(name, value);
  const res = await fetch(url, { headers: { Authorization: `Bearer ${env.statsKey}` } });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url.pathname}${url.search}: ${res.status} ${text}`);
  return JSON.parse(text);
}
