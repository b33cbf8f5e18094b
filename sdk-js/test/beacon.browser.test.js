// The beacon in real headless Chromium against the capture server: one
// browser for the file, a fresh context (fresh storage, so a fresh visitor)
// per test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './chromium.js';
import { startCaptureServer, WRITE_KEY } from './capture-server.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let browser;
let srv;
before(async () => {
  [browser, srv] = await Promise.all([launch(), startCaptureServer()]);
});
after(async () => {
  await browser?.close();
  await srv?.close();
});

// visit opens path in a new context and returns the page and the
// visitor's anonymous id once the beacon runs.
async function visit(t, path, init) {
  const context = await browser.newContext();
  t.after(() => context.close());
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  await page.goto(srv.origin + path);
  const anon = await anonymousId(page);
  return { page, anon };
}

async function anonymousId(page) {
  await page.waitForFunction(() => window.footfall && window.footfall.anonymousId, null, { timeout: 5000 });
  return page.evaluate(() => window.footfall.anonymousId());
}

// until waits for events of one visitor until pred accepts them.
function until(anon, pred, what) {
  return srv.waitFor(() => {
    const evs = srv.events(anon);
    return pred(evs) && evs;
  }, 5000, what);
}

// sentinel sends a custom event and waits for it: everything the page
// queued before it has arrived by then.
async function sentinel(page, anon) {
  const name = 'sentinel-' + Math.random().toString(36).slice(2);
  await page.evaluate((n) => window.footfall.track(n), name);
  return until(anon, (evs) => evs.some((e) => e.name === name), name);
}

const ofType = (evs, type) => evs.filter((e) => e.type === type);

test('pageview on load carries the full envelope in a text/plain batch', async (t) => {
  const start = Date.now();
  const { page, anon } = await visit(t, '/page.html?utm_source=news&utm_medium=email&utm_campaign=spring');
  const evs = await until(anon, (evs) => ofType(evs, 'pageview').length, 'pageview');
  const [pv] = ofType(evs, 'pageview');
  assert.match(pv.id, UUID_V4);
  assert.match(anon, UUID_V4);
  assert.equal(pv.anonymous_id, anon);
  assert.match(pv.session_id, UUID_V4);
  assert.equal(pv.user_id, undefined);
  assert.ok(pv.ts >= start && pv.ts <= Date.now(), `ts ${pv.ts}`);
  assert.deepEqual(pv.page, {
    url: `${srv.origin}/page.html?utm_source=news&utm_medium=email&utm_campaign=spring`,
    path: '/page.html',
    title: 'Beacon test page',
    referrer: '',
  });
  const viewport = await page.evaluate(() => [navigator.language, Intl.DateTimeFormat().resolvedOptions().timeZone, `${screen.width}x${screen.height}`]);
  assert.deepEqual(pv.context, {
    locale: viewport[0], tz: viewport[1], screen: viewport[2],
    utm: { source: 'news', medium: 'email', campaign: 'spring' },
  });
  assert.equal(ofType(evs, 'search').length, 0, 'no keyword, no search');

  const batch = srv.batches.find((b) => b.body?.events?.some((e) => e.id === pv.id));
  assert.match(batch.contentType, /^text\/plain\b/);
  assert.equal(batch.body.site, WRITE_KEY);

  // The ids survive a reload; the session goes on.
  await page.reload();
  assert.equal(await anonymousId(page), anon);
  const again = await until(anon, (evs) => ofType(evs, 'pageview').length === 2, 'second pageview');
  const [, pv2] = ofType(again, 'pageview');
  assert.notEqual(pv2.id, pv.id);
  assert.equal(pv2.session_id, pv.session_id);
});

test('a search form submit sends exactly one search across the navigation to the results', async (t) => {
  const { page, anon } = await visit(t, '/demo/index.html');
  // The demo's deals slot renders what the promotions API answered.
  await page.waitForSelector('#deals [data-promotion-id]');
  assert.match(await page.textContent('#deals [data-promotion-id]'), /humidifier/i);

  await page.fill('input[name=q]', 'Humidifier');
  await Promise.all([page.waitForURL(/search\.html\?q=Humidifier/), page.click('form[role=search] button')]);
  await page.waitForFunction(() => window.footfall && window.footfall.anonymousId);
  assert.equal(await page.textContent('#results a'), 'Cool-Mist Humidifier 4 L — €49.90');

  const evs = await sentinel(page, anon);
  const searches = ofType(evs, 'search');
  assert.equal(searches.length, 1, JSON.stringify(searches));
  assert.deepEqual(searches[0].search, { keyword: 'Humidifier' });
  assert.equal(searches[0].page.path, '/demo/index.html');
  assert.deepEqual(ofType(evs, 'pageview').map((e) => e.page.path), ['/demo/index.html', '/demo/search.html']);

  // A later, separate visit to a results URL is a search of its own.
  await page.goto(srv.origin + '/demo/search.html?q=humidifier');
  await anonymousId(page);
  const later = await sentinel(page, anon);
  assert.equal(ofType(later, 'search').length, 2);
});

test('a keyword in the URL (?q=) is captured as a search', async (t) => {
  const { page, anon } = await visit(t, '/page.html?q=electric+kettles');
  const evs = await until(anon, (evs) => ofType(evs, 'search').length, 'search');
  const [s] = ofType(evs, 'search');
  assert.deepEqual(s.search, { keyword: 'electric kettles' });
  assert.match(s.id, UUID_V4);
  assert.equal(s.page.path, '/page.html');
  await sentinel(page, anon);
  assert.equal(ofType(srv.events(anon), 'search').length, 1);
});

test('link and button clicks are captured; input values never are', async (t) => {
  const { page, anon } = await visit(t, '/page.html');
  await page.click('#docs em');
  await page.click('button.btn');
  await page.click('button[aria-label=Close]');
  await page.fill('input[name=email]', 'someone@example.com');
  await page.fill('input[name=password]', 'hunter2-secret');
  await page.click('#login input[type=submit]');
  const evs = await sentinel(page, anon);
  const clicks = ofType(evs, 'click').map((e) => e.click);
  assert.deepEqual(clicks, [
    { selector: 'a#docs', text: 'Read the docs', href: `${srv.origin}/page.html#docs-section`, tag: 'a' },
    { selector: 'body > div.actions.card > button.btn.primary', text: 'Buy now', tag: 'button' },
    { selector: 'body > div.actions.card > button', text: 'Close', tag: 'button' },
  ]);
  assert.equal(ofType(evs, 'search').length, 0, 'a login form is not a search form');
  const raw = srv.batches.map((b) => b.raw).join('\n');
  assert.ok(!raw.includes('hunter2-secret') && !raw.includes('someone@example.com'), 'an input value was sent');
});

test('track sends custom events; identify sets a user id that persists', async (t) => {
  const { page, anon } = await visit(t, '/page.html');
  await page.evaluate(() => {
    window.footfall.track('signup_started', { plan: 'pro', seats: 3, trial: true, nested: { no: 1 }, list: [1] });
    window.footfall.identify('user-42');
    window.footfall.track('signup_done');
  });
  const evs = await until(anon, (evs) => evs.some((e) => e.name === 'signup_done'), 'signup_done');
  const [started, done] = ofType(evs, 'custom');
  assert.equal(started.name, 'signup_started');
  assert.deepEqual(started.props, { plan: 'pro', seats: 3, trial: true });
  assert.equal(started.user_id, undefined);
  const [ident] = ofType(evs, 'identify');
  assert.equal(ident.user_id, 'user-42');
  assert.equal(ident.anonymous_id, anon);
  assert.equal(done.user_id, 'user-42');

  await page.reload();
  await anonymousId(page);
  const after = await until(anon, (evs) => ofType(evs, 'pageview').length === 2, 'pageview after reload');
  assert.equal(ofType(after, 'pageview')[1].user_id, 'user-42');
});

test('the stub queues calls made before the beacon loads and the beacon replays them', async (t) => {
  const { page, anon } = await visit(t, '/page.html?early=1');
  const evs = await until(anon, (evs) => ofType(evs, 'pageview').length, 'pageview');
  assert.deepEqual(evs.map((e) => [e.type, e.name, e.user_id]), [
    ['identify', undefined, 'early-user'],
    ['custom', 'early', 'early-user'],
    ['pageview', undefined, 'early-user'],
  ]);
  assert.deepEqual(evs[1].props, { n: 1 });
  assert.equal(await page.evaluate(() => Array.isArray(window.footfall.q)), false, 'the stub is replaced');
});

test('without sendBeacon the batch goes by fetch, still text/plain', async (t) => {
  const { anon } = await visit(t, '/page.html', () => { delete Navigator.prototype.sendBeacon; });
  const evs = await until(anon, (evs) => ofType(evs, 'pageview').length, 'pageview');
  const batch = srv.batches.find((b) => b.body?.events?.some((e) => e.id === evs[0].id));
  assert.equal(batch.contentType, 'text/plain');
  assert.equal(batch.body.site, WRITE_KEY);
});
