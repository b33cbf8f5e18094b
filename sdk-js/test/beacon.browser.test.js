// The beacon in real headless Chromium against the capture server: one
// browser for the file, a fresh context (fresh storage, so a fresh visitor)
// per test. Options are set as the snippet sets them, as data- attributes
// on the script tag.
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

// newContext is a fresh browser profile whose test pages get attrs as
// data- attributes of their script tag (batchDelay -> data-batch-delay).
async function newContext(t, attrs = {}, init) {
  const context = await browser.newContext();
  t.after(() => context.close());
  if (init) await context.addInitScript(init);
  const extra = Object.entries(attrs)
    .map(([k, v]) => ` data-${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}="${v}"`)
    .join('');
  await context.route(/\/page\.html/, async (route) => {
    // Fetched from the capture server itself: node cannot resolve the
    // *.localhost names that Chromium maps to loopback.
    const u = new URL(route.request().url());
    const res = await route.fetch({ url: srv.origin + u.pathname + u.search });
    const body = (await res.text()).replace('data-site="test-key"', `data-site="test-key"${extra}`);
    await route.fulfill({ response: res, body });
  });
  return context;
}

// visit opens path in a new context and returns the page and the
// visitor's anonymous id once the beacon runs.
async function visit(t, path, attrs, init) {
  const context = await newContext(t, attrs, init);
  const page = await context.newPage();
  await page.goto(origin(path));
  const anon = await anonymousId(page);
  return { page, anon, context };
}

const origin = (path) => (path.startsWith('http') ? path : srv.origin + path);

async function anonymousId(page) {
  await page.waitForFunction(() => window.footfall && window.footfall.anonymousId, null, { timeout: 5000 });
  return page.evaluate(() => window.footfall.anonymousId());
}

// until waits for events of one visitor until pred accepts them.
function until(anon, pred, what, ms = 5000) {
  return srv.waitFor(() => {
    const evs = srv.events(anon);
    return pred(evs) && evs;
  }, ms, what);
}

// sentinel sends a custom event and waits for it: everything the page
// queued before it has arrived by then.
async function sentinel(page, anon) {
  const name = 'sentinel-' + Math.random().toString(36).slice(2);
  await page.evaluate((n) => window.footfall.track(n), name);
  return until(anon, (evs) => evs.some((e) => e.name === name), name);
}

const ofType = (evs, type) => evs.filter((e) => e.type === type);
const names = (evs) => ofType(evs, 'custom').map((e) => e.name).filter((n) => !n.startsWith('sentinel-'));

// sentinelLeaving is sentinel for pages whose batches wait long: the page
// leaves for one without the beacon, which makes it send.
async function sentinelLeaving(page, anon) {
  const name = 'sentinel-' + Math.random().toString(36).slice(2);
  await page.evaluate((n) => window.footfall.track(n), name);
  await page.goto(srv.origin + '/plain.html');
  return until(anon, (evs) => evs.some((e) => e.name === name), name);
}

// queueEmpty waits until the page's queue is empty: every event answered.
const queueEmpty = (page) => page.waitForFunction(() => !Object.keys(localStorage).some((k) => k.startsWith('ff_q_')));

// stored is what the beacon keeps on the device: its localStorage entries
// and cookies.
const stored = (page) => page.evaluate(() => ({
  local: Object.keys(localStorage).filter((k) => k.startsWith('ff_')).sort(),
  cookies: document.cookie,
}));

// deliveries counts how often each event id reached the collector as
// accepted: 1 for every id means nothing lost in between and nothing twice.
function deliveries(anon) {
  const n = {};
  for (const e of srv.events(anon)) n[e.id] = (n[e.id] || 0) + 1;
  return n;
}

test('pageview on load carries the full envelope in a text/plain batch', async (t) => {
  const start = Date.now();
  const context = await newContext(t);
  const page = await context.newPage();
  await page.goto(srv.origin + '/page.html?utm_source=news&utm_medium=email&utm_campaign=spring', { referer: srv.origin + '/plain.html' });
  const anon = await anonymousId(page);
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
    referrer: `${srv.origin}/plain.html`,
  });
  const device = await page.evaluate(() => [navigator.language, Intl.DateTimeFormat().resolvedOptions().timeZone, `${screen.width}x${screen.height}`]);
  assert.deepEqual(pv.context, {
    locale: device[0], tz: device[1], screen: device[2],
    utm: { source: 'news', medium: 'email', campaign: 'spring' },
  });
  assert.equal(ofType(evs, 'search').length, 0, 'no keyword, no search');

  const batch = srv.batches.find((b) => b.body?.events?.some((e) => e.id === pv.id));
  assert.match(batch.contentType, /^text\/plain\b/);
  assert.equal(batch.body.site, WRITE_KEY);
  // sent_at is the page's clock at sending, after every event of the batch
  // (the collector corrects each ts by it).
  assert.ok(Number.isInteger(batch.body.sent_at), `sent_at ${batch.body.sent_at}`);
  assert.ok(batch.body.events.every((e) => e.ts <= batch.body.sent_at), 'sent after its events');
  assert.ok(Math.abs(batch.at - batch.body.sent_at) < 5000, 'sent_at is the sending time');

  // The ids survive a reload; the session goes on.
  await page.reload();
  assert.equal(await anonymousId(page), anon);
  const again = await until(anon, (evs) => ofType(evs, 'pageview').length === 2, 'second pageview');
  const [, pv2] = ofType(again, 'pageview');
  assert.notEqual(pv2.id, pv.id);
  assert.equal(pv2.session_id, pv.session_id);
  // Once the delivered batch's answer is in, only the ids remain.
  await queueEmpty(page);
  assert.deepEqual(await stored(page), { local: ['ff_aid', 'ff_sid'], cookies: '' }, 'by default ids live in localStorage');
});

test('single-page apps: one pageview per route through pushState, replaceState, popstate and hash routes', async (t) => {
  const { page, anon } = await visit(t, '/page.html', { batchDelay: 100 });
  await page.evaluate(() => {
    history.pushState({}, '', '/app/cart');
    history.replaceState({}, '', '/app/cart'); // same URL: no new view
    history.pushState({}, '', '/app/cart#totals'); // an anchor: no new view
    history.pushState({}, '', '/app/checkout?step=2');
    history.replaceState({}, '', '/app/checkout?step=3');
  });
  await page.goBack(); // popstate back to /app/cart#totals: the route /app/cart
  await page.waitForURL(/#totals$/);
  await page.evaluate(() => { location.hash = '#/orders'; }); // a hash router's route
  await page.waitForURL(/#\/orders$/);
  await page.evaluate(() => { location.hash = '#reviews'; }); // an in-page anchor
  await page.waitForURL(/#reviews$/);
  const evs = await sentinel(page, anon);
  assert.deepEqual(ofType(evs, 'pageview').map((e) => [e.page.path + new URL(e.page.url).search + new URL(e.page.url).hash, e.page.referrer]), [
    ['/page.html', undefined],
    ['/app/cart', `${srv.origin}/page.html`],
    ['/app/checkout?step=2', `${srv.origin}/app/cart`],
    ['/app/checkout?step=3', `${srv.origin}/app/checkout?step=2`],
    ['/app/cart#totals', `${srv.origin}/app/checkout?step=3`],
    ['/app/cart#/orders', `${srv.origin}/app/cart`],
    ['/app/cart#reviews', `${srv.origin}/app/cart#/orders`],
  ]);
  const sessions = new Set(ofType(evs, 'pageview').map((e) => e.session_id));
  assert.equal(sessions.size, 1, 'one session');
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

test('searches: a keyword in the URL, an input[type=search] form, and configurable parameters', async (t) => {
  const { page, anon } = await visit(t, '/page.html?q=electric+kettles', { batchDelay: 100 });
  await page.fill('#find input', '  Desk lamp ');
  await page.click('#find button');
  const evs = await sentinel(page, anon);
  assert.deepEqual(ofType(evs, 'search').map((e) => e.search), [{ keyword: 'electric kettles' }, { keyword: 'Desk lamp' }]);
  assert.equal(ofType(evs, 'form_submit').length, 0, 'a search form is a search, not a form submit');

  const custom = await visit(t, '/page.html?q=ignored&term=fan', { searchParams: 'term' });
  const got = await sentinel(custom.page, custom.anon);
  assert.deepEqual(ofType(got, 'search').map((e) => e.search), [{ keyword: 'fan' }]);
});

test('clicks on links, buttons and data-footfall-event elements; outbound links are marked; input values never leave', async (t) => {
  const { page, anon } = await visit(t, '/page.html', { batchDelay: 100 });
  await page.click('#docs em');
  await page.click('button.btn');
  await page.click('button[aria-label=Close]');
  await page.click('#wishlist');
  await page.click('#away');
  await page.click('#docs-section'); // plain text: no click event
  await page.fill('input[name=email]', 'someone@example.com');
  await page.fill('input[name=password]', 'hunter2-secret');
  await page.click('#login input[type=submit]');
  const evs = await sentinel(page, anon);
  assert.deepEqual(ofType(evs, 'click').map((e) => [e.name, e.click, e.props]), [
    [undefined, { selector: 'a#docs', text: 'Read the docs', href: `${srv.origin}/page.html#docs-section`, tag: 'a' }, undefined],
    [undefined, { selector: 'body > div.actions.card > button.btn.primary', text: 'Buy now', tag: 'button' }, undefined],
    [undefined, { selector: 'body > div.actions.card > button', text: 'Close', tag: 'button' }, undefined],
    ['wishlist_add', { selector: 'div#wishlist', text: '♡ Save for later', tag: 'div' }, undefined],
    [undefined, { selector: 'a#away', text: 'Partner deal', href: 'https://elsewhere.example/deal?ref=ff', tag: 'a' }, { outbound: true }],
  ]);
  assert.deepEqual(ofType(evs, 'form_submit').map((e) => e.form), [{ form_id: 'login', action: `${srv.origin}/login?next=%2F` }]);
  assert.equal(ofType(evs, 'search').length, 0, 'a login form is not a search form');
  const raw = srv.batches.map((b) => b.raw).join('\n');
  for (const secret of ['hunter2-secret', 'someone@example.com', 'me%40example.com', 'token=abc']) {
    assert.ok(!raw.includes(secret), `${secret} was sent`);
  }
});

test('scroll depth: 25, 50, 75 and 100 once per page view', async (t) => {
  const { page, anon } = await visit(t, '/page.html', { batchDelay: 100 });
  const scrollTo = async (fraction) => {
    await page.evaluate((f) => window.scrollTo(0, f * (document.documentElement.scrollHeight - innerHeight)), fraction);
    await page.waitForFunction((f) => Math.abs(scrollY - f * (document.documentElement.scrollHeight - innerHeight)) < 2, fraction);
  };
  await scrollTo(0.2);
  let evs = await sentinel(page, anon);
  assert.deepEqual(ofType(evs, 'scroll').map((e) => e.scroll.depth_pct), [25]);
  await scrollTo(1);
  await scrollTo(0);
  await scrollTo(1);
  evs = await sentinel(page, anon);
  assert.deepEqual(ofType(evs, 'scroll').map((e) => e.scroll.depth_pct), [25, 50, 75, 100]);
  // A new route starts over.
  await page.evaluate(() => history.pushState({}, '', '/next'));
  await scrollTo(0);
  await scrollTo(1);
  evs = await sentinel(page, anon);
  assert.deepEqual(ofType(evs, 'scroll').map((e) => [e.scroll.depth_pct, e.page.path]).slice(4), [
    [25, '/next'], [50, '/next'], [75, '/next'], [100, '/next'],
  ]);
});

test('each kind of autocapture can be switched off', async (t) => {
  const off = { pageviews: false, clicks: false, searches: false, forms: false, scroll: false, batchDelay: 100 };
  const { page, anon } = await visit(t, '/page.html?q=kettle', off);
  await page.click('button.btn');
  await page.click('#login input[type=submit]');
  await page.fill('#find input', 'lamp');
  await page.click('#find button');
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await page.evaluate(() => history.pushState({}, '', '/elsewhere'));
  await page.evaluate(() => window.footfall.track('kept'));
  const evs = await sentinel(page, anon);
  assert.deepEqual(evs.map((e) => e.type), ['custom', 'custom'], JSON.stringify(evs.map((e) => e.type)));
  assert.deepEqual(names(evs), ['kept']);
});

test('track, identify with its hash, and reset on logout', async (t) => {
  const { page, anon } = await visit(t, '/page.html', { batchDelay: 100 });
  await page.evaluate(() => {
    window.footfall.track('signup_started', { plan: 'pro', seats: 3, trial: true, nested: { no: 1 }, list: [1] });
    window.footfall.identify('user-42', { hash: 'c0ffee' });
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
  assert.deepEqual(ident.props, { user_hash: 'c0ffee' });
  assert.equal(done.user_id, 'user-42');

  await page.reload();
  await anonymousId(page);
  const after = await until(anon, (evs) => ofType(evs, 'pageview').length === 2, 'pageview after reload');
  assert.equal(ofType(after, 'pageview')[1].user_id, 'user-42', 'the user id persists');

  await page.evaluate(() => window.footfall.reset());
  const fresh = await anonymousId(page);
  assert.match(fresh, UUID_V4);
  assert.notEqual(fresh, anon, 'a new anonymous id after reset');
  const [logout] = await sentinel(page, fresh);
  assert.equal(logout.user_id, undefined);
  assert.notEqual(logout.session_id, done.session_id, 'a new session after reset');
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

test('the ES module build: init with options, stub calls replayed, events to the page origin', async (t) => {
  const { page, anon } = await visit(t, '/esm.html');
  const evs = await until(anon, (evs) => names(evs).includes('esm_ready'), 'esm_ready');
  assert.deepEqual(evs.map((e) => [e.type, e.name, e.user_id]), [
    ['identify', undefined, 'esm-user'],
    ['pageview', undefined, 'esm-user'],
    ['custom', 'esm_ready', 'esm-user'],
  ]);
  assert.deepEqual(evs[2].props, { build: 'esm' });
  assert.equal(srv.batches.find((b) => b.body?.events?.some((e) => e.anonymous_id === anon)).body.site, WRITE_KEY);
  assert.equal(await page.evaluate(() => window.again), true, 'a second init returns the running tracker');
  // Options given to init apply: a hash route is a page view, scroll is off.
  await page.click('#link');
  await page.mouse.wheel(0, 5000);
  await page.waitForFunction(() => scrollY + innerHeight >= document.documentElement.scrollHeight - 1);
  const after = await until(anon, (evs) => ofType(evs, 'pageview').length == 2 && ofType(evs, 'click').length, 'hash route pageview');
  assert.equal(ofType(after, 'pageview')[1].page.path, '/esm.html');
  assert.match(ofType(after, 'pageview')[1].page.url, /#\/cart$/);
  await sentinel(page, anon);
  assert.equal(ofType(srv.events(anon), 'scroll').length, 0, 'scroll: false');
});

test('batching: a full batch goes at once, a partial one after the batch delay', async (t) => {
  // By count: a minute's delay, so only reaching batchSize sends.
  const { page, anon } = await visit(t, '/page.html', { batchSize: 4, batchDelay: 60000 });
  await page.evaluate(() => ['a', 'b', 'c'].forEach((n) => window.footfall.track(n)));
  const evs = await until(anon, (evs) => evs.length >= 4, 'a batch of 4');
  const mine = srv.batches.filter((b) => b.body?.events?.some((e) => e.anonymous_id === anon));
  assert.deepEqual(mine.map((b) => b.body.events.map((e) => e.name || e.type)), [['pageview', 'a', 'b', 'c']], 'one batch, in order');
  assert.equal(evs.length, 4);

  // By time: a big batch size, so only the delay sends.
  const { page: p2, anon: a2 } = await visit(t, '/page.html', { batchSize: 100, batchDelay: 400 });
  await until(a2, (evs) => ofType(evs, 'pageview').length, 'pageview');
  // (With a batch in flight, its answer sends what waits at once.)
  await queueEmpty(p2);
  await p2.evaluate(() => ['x', 'y'].forEach((n) => window.footfall.track(n)));
  await until(a2, (evs) => names(evs).includes('y'), 'x, y');
  const batch = srv.batches.find((b) => b.body?.events?.some((e) => e.name === 'x' && e.anonymous_id === a2));
  assert.deepEqual(batch.body.events.map((e) => e.name), ['x', 'y'], 'both events in one batch');
  const waited = batch.at - batch.body.events[0].ts;
  assert.ok(waited >= 390, `the batch waited ${waited} ms for more events`);
});

test('a page hidden (tab switched, app backgrounded) sends what waits by sendBeacon, and goes on', async (t) => {
  const { page, anon } = await visit(t, '/page.html', { batchDelay: 60000 });
  await page.evaluate(() => window.footfall.track('before-hidden'));
  // What the browser does when the tab goes to the background.
  const visibility = (state) => page.evaluate((state) => {
    Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
  await visibility('hidden');
  await until(anon, (evs) => names(evs).includes('before-hidden'), 'before-hidden');
  const batch = srv.batches.find((b) => b.body?.events?.some((e) => e.name === 'before-hidden' && e.anonymous_id === anon));
  assert.equal(batch.beacon, true, 'sent by sendBeacon');
  await queueEmpty(page);

  // Back in front, the page keeps tracking; nothing is sent twice.
  await visibility('visible');
  await page.evaluate(() => window.footfall.track('after-visible'));
  await visibility('hidden');
  const evs = await until(anon, (evs) => names(evs).includes('after-visible'), 'after-visible');
  assert.deepEqual(names(evs), ['before-hidden', 'after-visible']);
  assert.equal(ofType(evs, 'pageview').length, 1);
});

test('unload: a click right before leaving still arrives, once, sent as the page went away', async (t) => {
  // A minute's batch delay: only the page's going away can send the click.
  const { page, anon } = await visit(t, '/page.html', { batchDelay: 60000 });
  await Promise.all([page.waitForURL(/plain\.html/), page.click('#next')]);
  const evs = await until(anon, (evs) => ofType(evs, 'click').length, 'the click');
  const [click] = ofType(evs, 'click');
  assert.equal(click.click.href, `${srv.origin}/plain.html`);
  const batch = srv.batches.find((b) => b.body?.events?.some((e) => e.id === click.id));
  assert.ok(batch.beacon, 'sent by sendBeacon');
  assert.match(batch.contentType, /^text\/plain\b/);

  // Come back: the next page of the site does not send it again.
  await page.goto(srv.origin + '/page.html');
  await anonymousId(page);
  await sentinelLeaving(page, anon);
  assert.deepEqual(Object.values(deliveries(anon)).filter((n) => n !== 1), [], 'an event arrived twice');
});

test('unload without sendBeacon goes by keepalive fetch', async (t) => {
  const { page, anon } = await visit(t, '/page.html', { batchDelay: 60000 }, () => { delete Navigator.prototype.sendBeacon; });
  await Promise.all([page.waitForURL(/plain\.html/), page.click('#next')]);
  const evs = await until(anon, (evs) => ofType(evs, 'click').length, 'the click');
  const batch = srv.batches.find((b) => b.body?.events?.some((e) => e.id === ofType(evs, 'click')[0].id));
  assert.equal(batch.beacon, false);
  assert.equal(batch.contentType, 'text/plain;charset=UTF-8');
});

test('unload splits a big queue into beacons under 64 KB; what the browser refuses, the next page sends', async (t) => {
  const { page, anon } = await visit(t, '/page.html', { batchDelay: 60000, batchSize: 1000 });
  await page.evaluate(() => {
    for (let i = 0; i < 40; i++) window.footfall.track('big', { i, pad: 'x'.repeat(4000) });
  });
  // Browsers allow 64 KB of beacons in flight per page: leaving for another
  // page of the site, the rest goes from there.
  await page.goto(srv.origin + '/page.html?next');
  const evs = await until(anon, (evs) => names(evs).length === 40, '40 big events', 10000);
  assert.deepEqual(ofType(evs, 'custom').map((e) => e.props.i).sort((a, b) => a - b), [...Array(40).keys()]);
  const carriers = srv.batches.filter((b) => b.body?.events?.some((e) => e.anonymous_id === anon && e.name === 'big'));
  assert.ok(carriers.length >= 3, `${carriers.length} requests for ~170 KB`);
  assert.ok(carriers[0].beacon, 'the first part by sendBeacon');
  for (const b of carriers) assert.ok(b.bytes < 65536, `${b.bytes} B in one request`);
  await sentinelLeaving(page, anon);
  assert.deepEqual(Object.values(deliveries(anon)).filter((n) => n !== 1), [], 'an event arrived twice');
});

test('offline, then online: every event arrives exactly once, also those of a page left while offline', async (t) => {
  // Chromium's offline emulation fails a keepalive fetch for the page but
  // may hold the request and send it once back online, which a device
  // really offline never does: here the beacon's fetches go without
  // keepalive (the unload tests cover keepalive).
  const noKeepalive = () => {
    const f = window.fetch;
    window.fetch = (url, o) => f(url, { ...o, keepalive: false });
  };
  const { page, anon, context } = await visit(t, '/page.html', { batchDelay: 100, retryBase: 200 }, noKeepalive);
  await until(anon, (evs) => ofType(evs, 'pageview').length, 'pageview');
  const offline = (yes) => context.setOffline(yes);
  await offline(true);
  const failed = page.waitForEvent('requestfailed', (r) => r.url().endsWith('/v1/batch'));
  await page.evaluate(() => ['a', 'b', 'c'].forEach((n) => window.footfall.track(n)));
  await failed; // the beacon tried, failed, and backs off
  assert.equal((await stored(page)).local.filter((k) => k.startsWith('ff_q_')).length, 3, 'kept in localStorage');
  await offline(false);
  let evs = await until(anon, (evs) => names(evs).length >= 3, 'a, b, c');
  assert.deepEqual(names(evs), ['a', 'b', 'c']);
  // The page has the collector's answer (going offline before it does
  // would lose the answer, and the events would rightly be sent again).
  await queueEmpty(page);

  // Offline again: the page fails to send, is left, and keeps the event
  // for the site's next page.
  await offline(true);
  const failedAgain = page.waitForEvent('requestfailed', (r) => r.url().endsWith('/v1/batch'));
  await page.evaluate(() => window.footfall.track('left-offline'));
  await failedAgain;
  await page.goto('about:blank');
  await offline(false);
  const next = page;
  await next.goto(srv.origin + '/page.html');
  assert.equal(await anonymousId(next), anon);
  evs = await sentinel(next, anon);
  assert.deepEqual(names(evs), ['a', 'b', 'c', 'left-offline']);
  assert.deepEqual(Object.values(deliveries(anon)).filter((n) => n !== 1), [], 'an event arrived twice');
  await queueEmpty(next);
});

test('a tab that crashes keeps its events for the next page', async (t) => {
  const { page, anon, context } = await visit(t, '/page.html', { batchDelay: 60000 });
  await page.evaluate(() => window.footfall.track('before-crash'));
  const crashed = page.waitForEvent('crash');
  page.goto('chrome://crash').catch(() => {});
  await crashed;
  const next = await context.newPage();
  await next.goto(srv.origin + '/page.html');
  assert.equal(await anonymousId(next), anon);
  const evs = await until(anon, (evs) => names(evs).includes('before-crash'), 'before-crash');
  assert.equal(names(evs).filter((n) => n === 'before-crash').length, 1);
});

test('503 with Retry-After, then success: the batch is retried after the wait, and lands once', async (t) => {
  const { page, anon } = await visit(t, '/page.html', { batchDelay: 100, retryBase: 100 });
  await until(anon, (evs) => ofType(evs, 'pageview').length, 'pageview');
  srv.answer([503, { 'Retry-After': '2' }], [429, { 'Retry-After': '1' }]);
  await page.evaluate(() => window.footfall.track('retried'));
  const evs = await until(anon, (evs) => names(evs).includes('retried'), 'retried', 10000);
  const [retried] = ofType(evs, 'custom');
  const tries = srv.batches.filter((b) => b.body?.events?.some((e) => e.id === retried.id));
  assert.deepEqual(tries.map((b) => b.status), [503, 429, 204]);
  assert.ok(tries[1].at - tries[0].at >= 2000, `retried ${tries[1].at - tries[0].at} ms after a Retry-After of 2 s`);
  assert.ok(tries[2].at - tries[1].at >= 1000, `retried ${tries[2].at - tries[1].at} ms after a Retry-After of 1 s`);
  assert.equal(deliveries(anon)[retried.id], 1);
});

test('the queue is capped while the collector is unreachable: the oldest go, and the drops are counted', async (t) => {
  const { page, anon, context } = await visit(t, '/page.html', { batchDelay: 100, maxQueue: 5, retryBase: 200 });
  await until(anon, (evs) => ofType(evs, 'pageview').length, 'pageview');
  await queueEmpty(page); // the page view's answer is in, so the queue starts empty
  await context.setOffline(true);
  await page.evaluate(() => {
    for (let i = 1; i <= 12; i++) window.footfall.track('e' + i);
  });
  const queue = await stored(page);
  assert.equal(queue.local.filter((k) => k.startsWith('ff_q_')).length, 5, 'five events stored');
  await context.setOffline(false);
  const evs = await until(anon, (evs) => names(evs).includes('footfall_dropped'), 'the drop report');
  assert.deepEqual(names(evs), ['e8', 'e9', 'e10', 'e11', 'e12', 'footfall_dropped']);
  assert.deepEqual(ofType(evs, 'custom').at(-1).props, { count: 7 });
});

test('consent mode: nothing stored or sent before consent(true), everything removed by consent(false)', async (t) => {
  const { page } = await visit(t, '/page.html?q=kettle', { requireConsent: true, batchDelay: 100 });
  await page.evaluate(() => {
    window.footfall.track('before-consent');
    window.footfall.identify('user-1');
  });
  assert.equal(await page.evaluate(() => window.footfall.anonymousId()), '');
  await page.click('button.btn');
  assert.deepEqual(await stored(page), { local: [], cookies: '' }, 'nothing stored before consent');

  await page.evaluate(() => window.footfall.consent(true));
  const anon = await anonymousId(page);
  assert.match(anon, UUID_V4);
  let evs = await sentinel(page, anon);
  assert.deepEqual(evs.map((e) => e.type), ['pageview', 'search', 'custom'], 'the page view and search come with consent, not what came before');
  assert.ok(!srv.batches.some((b) => b.raw.includes('before-consent') || b.raw.includes('user-1')));

  // Consent is remembered across pages.
  await page.reload();
  assert.equal(await anonymousId(page), anon);

  await page.evaluate(() => window.footfall.consent(false));
  assert.equal(await page.evaluate(() => window.footfall.anonymousId()), '');
  await page.evaluate(() => window.footfall.track('after-withdrawal'));
  assert.deepEqual(await stored(page), { local: [], cookies: '' }, 'everything removed');
  await page.reload();
  assert.equal(await page.evaluate(() => window.footfall.anonymousId()), '', 'withdrawal is remembered');
  await page.evaluate(() => window.footfall.consent(true));
  const again = await anonymousId(page);
  assert.notEqual(again, anon, 'a new visitor after consent is given again');
  evs = await sentinel(page, again);
  assert.ok(!srv.batches.some((b) => b.raw.includes('after-withdrawal')));
});

test('Do Not Track and Global Privacy Control: honoured when asked, nothing stored or queued', async (t) => {
  for (const signal of [
    () => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }),
    () => Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' }),
  ]) {
    const { page } = await visit(t, '/page.html', { respectDnt: true }, signal);
    await page.evaluate(() => {
      window.footfall.track('x');
      window.footfall.consent(true);
      window.footfall.track('y');
    });
    await page.click('button.btn');
    assert.equal(await page.evaluate(() => window.footfall.anonymousId()), '');
    // Every event is stored the moment it is queued: nothing stored,
    // nothing to send.
    assert.deepEqual(await stored(page), { local: [], cookies: '' });
  }
  // Without respectDnt the signal does not stop the beacon.
  const { page, anon } = await visit(t, '/page.html', {}, () => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
  assert.match(anon, UUID_V4);
  await sentinel(page, anon);
});

test('cookie storage shares the visitor with subdomains; cookieless mode stores nothing', async (t) => {
  const port = new URL(srv.origin).port;
  const context = await newContext(t, { storage: 'cookie', cookieDomain: 'shop.localhost', batchDelay: 100 });
  const www = await context.newPage();
  await www.goto(`http://www.shop.localhost:${port}/page.html`);
  const anon = await anonymousId(www);
  const blog = await context.newPage();
  await blog.goto(`http://blog.shop.localhost:${port}/page.html`);
  assert.equal(await anonymousId(blog), anon, 'one visitor across subdomains');
  const jar = await context.cookies(`http://blog.shop.localhost:${port}/`);
  assert.deepEqual(jar.filter((c) => c.name === 'ff_aid').map((c) => [c.value, c.domain]), [[anon, '.shop.localhost']]);
  assert.ok(!(await stored(blog)).local.includes('ff_aid'), 'the id is not in localStorage');
  await sentinel(blog, anon);

  const { page, anon: first } = await visit(t, '/page.html', { storage: 'none', batchDelay: 100 });
  await sentinel(page, first);
  assert.deepEqual(await stored(page), { local: [], cookies: '' });
  await page.reload();
  const second = await anonymousId(page);
  assert.notEqual(second, first, 'cookieless: a new anonymous id per page load');
  await sentinel(page, second);
});

test('configured query parameters are stripped from every URL sent', async (t) => {
  const context = await newContext(t, { stripParams: 'email,token,coupon', batchDelay: 100 });
  const page = await context.newPage();
  await page.goto(srv.origin + '/page.html?email=a%40b.example&ref=mail&token=t0k', { referer: srv.origin + '/plain.html?coupon=SECRET10&lang=en' });
  const anon = await anonymousId(page);
  await page.click('#away');
  const evs = await sentinel(page, anon);
  const [pv] = ofType(evs, 'pageview');
  assert.equal(pv.page.url, `${srv.origin}/page.html?ref=mail`);
  assert.equal(pv.page.referrer, `${srv.origin}/plain.html?lang=en`);
  assert.equal(ofType(evs, 'click')[0].click.href, 'https://elsewhere.example/deal?ref=ff');
  const raw = srv.batches.filter((b) => b.raw.includes(anon)).map((b) => b.raw).join('\n');
  for (const secret of ['SECRET10', 'a%40b.example', 't0k', 'token=abc']) assert.ok(!raw.includes(secret), `${secret} was sent`);
});
