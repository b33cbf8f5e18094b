// The dashboard page in real headless Chromium against the real pipeline:
// visits go in through the collector, and the page must show exactly what
// the Stats API answers, filtered the same way once a row is clicked, with
// no console error and no failed request. Needs the pipeline running
// (`make test` starts it and sets FOOTFALL_E2E_*).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launch } from './chromium.js';
import { AGENTS, pipeline, poll, sendLogs, stats, visit } from './pipeline.js';
import { expectedView, shownView } from './view.js';
import { count, percent } from '../src/format.js';

const ARTIFACTS = fileURLToPath(new URL('artifacts/', import.meta.url));
const PERIOD = '30d';
// The tab each list panel shows first, and the property it breaks down by.
const DEFAULT_TABS = {
  sources: ['channels', 'visit:channel'],
  pages: ['pages', 'event:page'],
  devices: ['devices', 'visit:device'],
  searches: ['searches', 'event:search'],
  clicks: ['clicks', 'event:click'],
  events: ['events', 'event:name'],
};

let env;
let run;

// A few visits of this run, each entering on a page of its own so that the
// test can tell when the API has all of it: one from Google that lands on a
// product, searches and finds, puts the product in the basket and goes to
// the cart; one from a newsletter whose search finds nothing; one that
// bounces.
before(async () => {
  env = pipeline();
  run = Date.now().toString(36);
  const humidifier = `/p/humidifier-${run}`;
  const kettle = `/p/kettle-${run}`;
  await visit(env, AGENTS.chromeWindows, [
    { type: 'pageview', path: humidifier },
    { type: 'pageview', path: '/' },
    { type: 'search', search: { keyword: 'humidifier', results: 4 } },
    { type: 'pageview', path: humidifier },
    { type: 'click', click: { selector: '#add', text: 'Add to basket', href: '', tag: 'button' } },
    { type: 'custom', name: 'add_to_basket', props: { product: 'humidifier' } },
    { type: 'pageview', path: '/cart' },
  ], { referrer: 'https://www.google.com/' });
  await visit(env, AGENTS.firefoxMac, [
    { type: 'pageview', path: kettle },
    { type: 'search', search: { keyword: 'unobtainium', results: 0 } },
    { type: 'pageview', path: '/' },
  ], { utm: { source: 'newsletter', medium: 'email', campaign: 'spring-sale' } });
  await visit(env, AGENTS.safariIPhone, [{ type: 'pageview', path: '/' }], { referrer: 'https://www.google.com/' });

  // The shop's servers send their logs too: the logs panel shows them.
  const logged = Date.now();
  await sendLogs(env, [
    { time: logged - 3000, service: `checkout-${run}`, severity: 'error', body: `payment declined ${run}`, id: `${run}-1` },
    { time: logged - 2000, service: `checkout-${run}`, severity: 'info', body: 'order placed', id: `${run}-2` },
    { time: logged - 1000, service: `search-${run}`, severity: 'warn', body: 'slow query', id: `${run}-3` },
  ]);

  // Each event type travels on its own topic, and visits are kept apart
  // from events: wait until the API has every part of the first two visits.
  const entered = (page, property, metrics) =>
    stats(env, 'breakdown', { period: PERIOD, property, metrics, filters: `visit:entry_page==${page}` }).then((r) => r.results);
  await poll('the API shows this run\'s visits', 30000, 250, async (seen) => {
    const got = {
      pages: await entered(humidifier, 'event:page', 'visitors'),
      search: await entered(kettle, 'event:search', 'visitors,events,zero_results'),
      click: await entered(humidifier, 'event:click', 'visitors,events'),
      event: await entered(humidifier, 'event:name', 'visitors,events'),
      visits: await entered(kettle, 'visit:exit_page', 'visitors'),
    };
    got.logs = (await stats(env, 'logs', { period: PERIOD })).results.counts.filter((c) => c.service.endsWith(run));
    seen(got);
    return got.logs.length === 3 && got.pages.length === 3 && got.search[0]?.zero_results === 1 && got.click[0]?.events === 1 &&
      got.event.some((r) => r.name === 'add_to_basket' && r.events === 1) && got.visits[0]?.exit_page === '/';
  });
});

// watch collects what must not happen on the page: console errors,
// uncaught exceptions, failed requests and HTTP errors.
function watch(page) {
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
  return problems;
}

const ready = (page) => page.waitForFunction(() => document.getElementById('app')?.dataset.state === 'ready', null, { timeout: 15000 });

// between does what makes the page fetch its figures (act: a click, a
// load) between two readings of the API. When the two readings agree, the
// page, which read the API between them, must show exactly that. When
// they differ, other traffic moved the figures meanwhile: the page is
// reloaded and read again, until a deadline. expected and shown are told
// whether the page was reloaded; between returns what the page shows.
async function between(page, act, expected, shown) {
  const deadline = Date.now() + 30000;
  for (let reloaded = false; ; reloaded = true, act = () => page.reload()) {
    const before = await expected(reloaded);
    await act();
    await ready(page);
    const seen = await shown(reloaded);
    const after = await expected(reloaded);
    if (isDeepStrictEqual(before, after)) {
      assert.deepEqual(seen, before);
      return seen;
    }
    if (Date.now() > deadline) assert.fail(`the API's figures kept moving for 30 s: ${JSON.stringify({ before, after })}`);
  }
}

// assertShowsTheAPI checks the whole page after act. The realtime count is
// compared only when the page was loaded: a click does not fetch it again.
// funnel: the steps the address names ({labels, steps}); without them the
// funnel panel must be hidden.
function assertShowsTheAPI(page, act, { period = PERIOD, date = '', filters = '', tabs = DEFAULT_TABS, loads = false, funnel = null } = {}) {
  const query = { period, date, filters, tabs, funnel };
  const realtimeIfLoaded = (view, reloaded) => {
    if (!loads && !reloaded) delete view.realtime;
    return view;
  };
  return between(page, act,
    async (reloaded) => realtimeIfLoaded(await expectedView(env, query), reloaded),
    async (reloaded) => realtimeIfLoaded(await shownView(page), reloaded));
}

test('the page shows the Stats API\'s figures; a clicked row filters every panel and stays in the address', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = watch(page);
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));

  const shown = await assertShowsTheAPI(page, () => page.goto(`${env.dashboard}/#site=demo&key=${env.statsKey}`), { loads: true });
  // The key is read from the fragment, kept, and gone from the address.
  assert.equal(new URL(page.url()).hash, '');
  assert.equal(new URL(page.url()).search, '?site=demo');
  assert.ok(requests.every((u) => !u.includes(env.statsKey)), 'no request carries the key in its URL');
  assert.ok(shown.lists.pages.rows.length > 0, 'the top pages panel has rows');
  // The logs panel lists this run's services, the one with an error first
  // among them, and its error among the latest.
  const ours = shown.logs.rows.filter(([service]) => service.endsWith(run)).map(([service]) => service);
  assert.deepEqual(ours, [`checkout-${run}`, `search-${run}`], 'the logs panel lists this run\'s services, errors first');
  assert.ok(shown.logs.errors.some((e) => e[1] === `checkout-${run}` && e[3] === `payment declined ${run}`), 'the latest errors show this run\'s error');
  // The default page reads the rollups only: no funnel (raw events) unless
  // the address names its steps.
  assert.ok(!requests.some((u) => u.includes('/api/v1/stats/funnel')), 'the default page asks for no funnel');

  // Pointing at the chart's last point reads its figure.
  assert.ok(shown.chart.length >= 30, `30 days on the chart, ${shown.chart.length} points`);
  const plot = await page.locator('[data-panel=chart] .u-over').boundingBox();
  await page.mouse.move(plot.x + plot.width - 1, plot.y + plot.height / 2);
  await page.waitForFunction((want) => document.querySelector('.chart .readout').textContent.endsWith(`: ${want}`), shown.chart.at(-1)[1]);

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.mouse.move(0, 0);
  await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });

  // Click the least visited of the top pages: a chip, the address, and
  // every panel filtered. Its visitors are the filtered view's visitors.
  const row = page.locator('[data-panel=pages] tbody tr').last();
  const value = await row.getAttribute('data-value');
  const rowVisitors = await row.locator('td.figure').textContent();
  const filters = `event:page==${value}`;
  const filtered = await assertShowsTheAPI(page, () => row.locator('a.name').click(), { filters });
  assert.equal(new URL(page.url()).searchParams.get('page'), value);
  const chip = page.locator('.chip[data-filter="event:page"]');
  assert.equal(await chip.locator('strong').textContent(), value);
  assert.equal(filtered.cards.visitors.value, rowVisitors, `visitors of ${value} in the card as in its row`);

  // The filtered view survives a reload: it lives in the address.
  await assertShowsTheAPI(page, () => page.reload(), { filters, loads: true });
  assert.equal(await chip.locator('strong').textContent(), value);

  // Other tabs show their own breakdowns, filtered too; entry pages count
  // visits (unique entrances).
  let tabs = { ...DEFAULT_TABS, pages: ['entry', 'visit:entry_page'], sources: ['sources', 'visit:source'], devices: ['browsers', 'visit:browser'], searches: ['nothing', 'event:search'] };
  await assertShowsTheAPI(page, async () => {
    await page.click('[data-panel=pages] [data-tab=entry]');
    await page.click('[data-panel=sources] [data-tab=sources]');
    await page.click('[data-panel=devices] [data-tab=browsers]');
    await page.click('[data-panel=searches] [data-tab=nothing]');
  }, { filters, tabs });
  tabs = { ...tabs, sources: ['utm', 'visit:utm_campaign'], pages: ['exit', 'visit:exit_page'] };
  await assertShowsTheAPI(page, async () => {
    await page.click('[data-panel=sources] [data-tab=utm]');
    await page.selectOption('[data-panel=sources] select.choice', 'visit:utm_campaign');
    await page.click('[data-panel=pages] [data-tab=exit]');
  }, { filters, tabs });
  assert.equal(await page.locator('[data-panel=pages] thead th.figure').textContent(), 'Unique exits');

  // Removing the chip takes the filter out of the address and the panels.
  const unfiltered = await assertShowsTheAPI(page, () => chip.locator('button').click(), { tabs });
  assert.equal(new URL(page.url()).searchParams.has('page'), false);
  assert.equal(await chip.count(), 0);
  assert.ok(unfiltered.lists.searches.rows.some(([term, zero]) => term === 'unobtainium' && zero !== '0'), 'found nothing lists this run\'s search');
  assert.equal(await page.locator('[data-panel=searches] tr.marked[data-value=unobtainium] td.mark').count(), 1, 'and marks it');

  // The period picker: a period of the API's, then a custom range; each
  // in the address, each shown as the API answers it.
  await assertShowsTheAPI(page, () => page.selectOption('select.period', 'day'), { period: 'day', tabs });
  assert.equal(new URL(page.url()).searchParams.get('period'), 'day');
  const today = new Date().toISOString().slice(0, 10);
  const weekAgo = new Date(Date.now() - 6 * 864e5).toISOString().slice(0, 10);
  await page.selectOption('select.period', 'custom');
  await page.fill('input[aria-label=From]', weekAgo);
  await page.fill('input[aria-label=To]', today);
  await assertShowsTheAPI(page, () => page.click('.range button'), { period: 'custom', date: `${weekAgo},${today}`, tabs });
  assert.equal(new URL(page.url()).searchParams.get('date'), `${weekAgo},${today}`);

  // A card puts its metric on the chart.
  await page.click('[data-panel=cards] [data-metric=pageviews]');
  await page.waitForURL((url) => url.searchParams.get('metric') === 'pageviews');
  await ready(page);
  assert.equal(await page.locator('[data-panel=chart] h2').textContent(), 'Total pageviews');

  assert.deepEqual(problems, []);
});

test('without a key the page asks for one; a refused key asks again; the key never enters a URL', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await (await browser.newContext()).newPage();
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url(), auth: r.headers().authorization }));

  await page.goto(`${env.dashboard}/`);
  const form = page.locator('form.key-form');
  await form.waitFor();
  await form.locator('input[name=site]').fill('demo');
  await form.locator('input[name=key]').fill('not-the-key');
  await form.locator('button[type=submit]').click();
  // The API answers 401; the page forgets the key and asks again.
  await page.locator('form.key-form [role=alert]').waitFor();
  assert.equal(await form.locator('input[name=site]').inputValue(), 'demo');
  await form.locator('input[name=key]').fill(env.statsKey);
  await form.locator('button[type=submit]').click();
  await ready(page);
  assert.equal(await page.locator('[data-panel=cards]').getAttribute('data-state'), 'ready');

  // Kept in this browser: a new tab on the bare address needs no form.
  const again = await page.context().newPage();
  await again.goto(`${env.dashboard}/?site=demo`);
  await ready(again);

  const api = requests.filter((r) => r.url.includes('/api/'));
  assert.ok(api.length > 0);
  assert.ok(requests.every((r) => !r.url.includes(env.statsKey) && !r.url.includes('not-the-key')), 'no URL carries a key');
  assert.ok(api.some((r) => r.auth === `Bearer ${env.statsKey}`), 'the key goes as a Bearer header');
});

test('the realtime count refreshes by itself every 30 seconds', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await (await browser.newContext()).newPage();
  await page.clock.install();
  const isRealtime = (r) => r.url().includes('/api/v1/stats/realtime/visitors');
  let asked = 0;
  page.on('request', (r) => isRealtime(r) && asked++);
  await page.goto(`${env.dashboard}/#site=demo&key=${env.statsKey}`);
  await ready(page);
  assert.equal(asked, 1);
  await page.clock.fastForward(29000);
  assert.equal(asked, 1, 'not before 30 s');
  const answer = page.waitForResponse(isRealtime);
  await page.clock.fastForward(1000);
  // The page shows what the API answered to its second request.
  const want = count(await (await answer).json());
  await page.waitForFunction((n) => document.querySelector('[data-panel=realtime] .figure').textContent === n, want);
  assert.equal(asked, 2);
});

test('the funnel shows only with steps in the address, and is hidden where the API has none', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await (await browser.newContext()).newPage();
  const problems = watch(page);
  await page.goto(`${env.dashboard}/#site=demo&key=${env.statsKey}`);
  await ready(page);
  assert.equal(await page.locator('[data-panel=funnel]').isHidden(), true, 'no funnel on the default page');

  const rows = await between(page, () => page.goto(`${env.dashboard}/?site=demo&funnel=/|add_to_basket`),
    async () => {
      const { steps } = await stats(env, 'funnel', { period: PERIOD, steps: 'event:page==/|event:name==add_to_basket' });
      return steps.map((s, i) => [['/', 'add_to_basket'][i], count(s.visitors), percent(s.conversion_rate)]);
    },
    () => page.locator('[data-panel=funnel] li').evaluateAll((lis) =>
      lis.map((li) => [...li.querySelectorAll('.name, .figure')].map((el) => el.textContent))));
  assert.equal(rows.length, 2);
  assert.notEqual(rows[1][1], '0', 'this run put something in the basket');

  // A clicked row filters the funnel with every other panel, and the
  // steps stay in the address.
  const funnel = { labels: ['/', 'add_to_basket'], steps: 'event:page==/|event:name==add_to_basket' };
  const device = await page.locator('[data-panel=devices] tbody tr').first().getAttribute('data-value');
  await assertShowsTheAPI(page, () => page.locator('[data-panel=devices] tbody tr a.name').first().click(),
    { filters: `visit:device==${device}`, funnel });
  assert.equal(new URL(page.url()).searchParams.get('funnel'), '/|add_to_basket');
  assert.deepEqual(problems, []);

  await page.route((url) => url.pathname.endsWith('/api/v1/stats/funnel'), (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":"not found"}' }));
  await page.reload();
  await ready(page);
  assert.equal(await page.locator('[data-panel=funnel]').isHidden(), true);
  assert.equal(await page.locator('[data-panel=cards]').getAttribute('data-state'), 'ready');
});
