// Segment's official Node library, pointed at the collector with the demo
// site's server key, as a shop already sending server-side events with
// Segment would: its calls must arrive in ClickHouse with the right types,
// ids and props, once each, and a Segment search must drive a promotion.
// It needs the services running (started by `make test`); run it with
// `npm run test:e2e`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Analytics } from '@segment/analytics-node';

import { env, poll, query } from './common.mjs';

const dataDir = process.env.FOOTFALL_DATA_DIR || fileURLToPath(new URL('../../../.data', import.meta.url));

// footfallID is the envelope id the collector makes of a messageId: a
// name-based (version 5) UUID of the site and the messageId, in the
// namespace of internal/segment.
function footfallID(site, messageId) {
  const ns = Buffer.from('eb08ba685b074182b15d0e3d659e8d03', 'hex');
  const h = createHash('sha1').update(ns).update(`${site}\0${messageId}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

test('Segment\'s Node library sends track, page, identify and batches that land once each, and its search drives a promotion', async (t) => {
  assert.ok(env.collector, 'FOOTFALL_E2E_COLLECTOR is not set: this test needs the whole pipeline running; run it via `make test`');
  const serverKey = readFileSync(`${dataDir}/footfall/demo-server-key`, 'utf8').trim();
  const run = randomUUID().slice(0, 8);
  const user = `seg-user-${run}`;
  const anon = `seg-anon-${run}`;
  const failures = [];
  // flushAt 3: the five calls below leave in two batches (/v1/batch, the
  // library's only endpoint), the last one on closeAndFlush.
  const analytics = new Analytics({ writeKey: serverKey, host: env.collector, flushAt: 3, maxRetries: 2 });
  analytics.on('error', (err) => failures.push(err));

  const ids = { identify: `id-${run}`, page: `pg-${run}`, track: `tr-${run}`, search: `se-${run}`, again: `tr-${run}` };
  analytics.identify({ userId: user, anonymousId: anon, traits: { plan: 'pro', address: { city: 'Berlin' } }, messageId: ids.identify });
  analytics.page({ anonymousId: anon, name: 'Pricing', properties: { url: 'https://shop.example/pricing', path: '/pricing', title: 'Pricing' }, messageId: ids.page });
  analytics.track({ userId: user, anonymousId: anon, event: 'Order Completed', properties: { total: 27.5, order_id: '9007199254740993', currency: 'EUR' }, messageId: ids.track });
  analytics.track({ userId: user, anonymousId: anon, event: 'Products Searched', properties: { query: 'humidifier' }, messageId: ids.search });
  // The same message again, as a library retrying after a lost answer
  // would: stored once.
  analytics.track({ userId: user, anonymousId: anon, event: 'Order Completed', properties: { total: 27.5, order_id: '9007199254740993', currency: 'EUR' }, messageId: ids.again });
  await analytics.closeAndFlush({ timeout: 10000 });
  assert.deepEqual(failures.map(String), [], 'the library reported delivery failures');

  const mine = `footfall.events WHERE site_id = 'demo' AND anonymous_id = '${anon}'`;
  const rows = await poll('Segment calls in ClickHouse', 20000, 250, async (seen) => {
    const data = await query(`SELECT id, type, name, user_id, page_path, search_keyword, props.key AS k, props.value AS v FROM ${mine} ORDER BY type`);
    seen(data.map((r) => `${r.type}:${r.name}`));
    return data.length >= 4 && data;
  });
  const byID = Object.fromEntries(rows.map((r) => [r.id, r]));
  const props = (r) => Object.fromEntries(r.k.map((k, i) => [k, r.v[i]]));

  assert.equal(rows.length, 4, `four calls, once each: ${JSON.stringify(rows.map((r) => r.id))}`);
  const identify = byID[footfallID('demo', ids.identify)];
  assert.equal(identify?.type, 'identify');
  assert.equal(identify.user_id, user);
  assert.deepEqual(props(identify), { plan: 'pro', 'address.city': 'Berlin' });
  const page = byID[footfallID('demo', ids.page)];
  assert.equal(page?.type, 'pageview');
  assert.equal(page.page_path, '/pricing');
  const order = byID[footfallID('demo', ids.track)];
  assert.equal(order?.type, 'custom');
  assert.equal(order.name, 'Order Completed');
  assert.deepEqual(props(order), { total: '27.5', order_id: '9007199254740993', currency: 'EUR' });
  const search = byID[footfallID('demo', ids.search)];
  assert.equal(search?.type, 'search');
  assert.equal(search.search_keyword, 'humidifier');

  // A server key vouches for its user ids, so the search counts for the
  // user as well as for the device.
  const top = await poll('a humidifier promotion for the Segment search', 10000, 100, async (seen) => {
    const res = await fetch(`${env.promotions}/v1/promotions?site=demo&user=${encodeURIComponent(anon)}`);
    const body = await res.json();
    seen({ status: res.status, body });
    const p = body.promotions?.[0];
    return res.ok && p && (/humidifier/i.test(p.reason || '') || /humidifier/i.test(p.title || '')) && p;
  });
  t.diagnostic(`top promotion: ${top.title} (${top.reason})`);
});
