// The whole pipeline, from a click in a real browser to the homepage's deals
// and the ClickHouse history: demo shop → beacon → collector → Kafka →
// enricher/PostgreSQL → promotions API, and Kafka → loader → ClickHouse.
// It needs the services running (started by `make test`); run it with
// `npm run test:e2e`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from '../chromium.js';

const env = {
  collector: process.env.FOOTFALL_E2E_COLLECTOR,
  promotions: process.env.FOOTFALL_E2E_PROMOTIONS || 'http://127.0.0.1:8081',
  clickhouse: process.env.FOOTFALL_E2E_CLICKHOUSE_HTTP || 'http://127.0.0.1:8123',
};

// poll calls fn every interval ms until it returns a truthy value, which it
// resolves with, or fails after ms with what fn last saw.
async function poll(what, ms, interval, fn) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn((seen) => (last = seen));
      if (v) return v;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: nothing after ${ms} ms; last seen: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

const isHumidifierDeal = (p) => p && (/humidifier/i.test(p.reason || '') || /humidifier/i.test(p.title || ''));

test('a search in the demo shop becomes a deal on its homepage and rows in ClickHouse', async (t) => {
  assert.ok(env.collector, 'FOOTFALL_E2E_COLLECTOR is not set: this test needs the whole pipeline running; run it via `make test` (which starts the services and sets FOOTFALL_E2E_*)');
  const browser = await launch();
  t.after(() => browser.close());
  const page = await (await browser.newContext()).newPage();
  let pagesLoaded = 0;

  await page.goto(`${env.collector}/demo/index.html`);
  pagesLoaded++;
  await page.waitForFunction(() => window.footfall && window.footfall.anonymousId, null, { timeout: 10000 });
  const anon = await page.evaluate(() => window.footfall.anonymousId());
  t.diagnostic(`anonymous id ${anon}`);

  await page.fill('form[role=search] input[name=q]', 'humidifier');
  const searched = Date.now();
  await Promise.all([page.waitForURL(/search\.html\?q=humidifier/), page.click('form[role=search] button[type=submit]')]);
  pagesLoaded++;
  await page.waitForFunction(() => window.footfall && window.footfall.anonymousId, null, { timeout: 10000 });

  const promoURL = `${env.promotions}/v1/promotions?site=demo&user=${encodeURIComponent(anon)}`;
  const top = await poll('humidifier promotion', 10000, 50, async (seen) => {
    const res = await fetch(promoURL);
    const body = await res.json();
    seen({ status: res.status, body });
    return res.ok && isHumidifierDeal(body.promotions?.[0]) && body.promotions[0];
  });
  const latency = Date.now() - searched;
  console.log(`search-to-promotion latency: ${latency} ms`);
  t.diagnostic(`top promotion: ${top.title} (${top.reason})`);

  await page.goto(`${env.collector}/demo/index.html`);
  pagesLoaded++;
  const first = page.locator('#deals [data-promotion-id]').first();
  await first.waitFor({ timeout: 10000 });
  assert.equal(await first.getAttribute('data-promotion-id'), String(top.id));
  assert.match(await first.textContent(), /humidifier/i);

  const sql = `SELECT type, count() AS n, uniqExact(id) AS u FROM footfall.events FINAL
    WHERE site_id = 'demo' AND anonymous_id = '${anon}' GROUP BY type FORMAT JSON`;
  const rows = await poll('events in ClickHouse', 20000, 250, async (seen) => {
    const res = await fetch(env.clickhouse + '/', { method: 'POST', body: sql });
    const text = await res.text();
    if (!res.ok) return seen(`HTTP ${res.status}: ${text.trim()}`), false;
    const byType = Object.fromEntries(JSON.parse(text).data.map((r) => [r.type, { n: Number(r.n), u: Number(r.u) }]));
    seen(byType);
    return byType.search?.n === 1 && byType.pageview?.n === pagesLoaded && byType;
  });
  for (const [type, { n, u }] of Object.entries(rows)) assert.equal(n, u, `${type}: ${n} rows but ${u} distinct ids`);
  t.diagnostic(`ClickHouse: ${JSON.stringify(rows)}`);
});
