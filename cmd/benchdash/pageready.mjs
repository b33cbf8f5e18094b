// Times the dashboard page in headless Chromium: from navigation until
// every panel is filled, i.e. the page's root says data-state="ready"
// (set once all of a view's Stats API requests have answered; see
// dashboard/web/src/dashboard.js) and the realtime count has its figure.
// Each run opens a fresh browser context (no cache, no stored key) and
// loads the page twice: a first visit, then a return visit in a new tab of
// the same context (the HTTP cache and compiled scripts kept, as for
// someone who opens the dashboard again).
// Prints one JSON line per load for cmd/benchdash.
//
//   node pageready.mjs NODE_MODULES CHROMIUM URL RUNS
import { createRequire } from 'node:module';

const [modules, chromiumPath, url, runs] = process.argv.slice(2);
const { chromium } = createRequire(`${modules}/`)('playwright-core');

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function load(context, run, visit) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
  // A MutationObserver installed before the page's own scripts notes the
  // moment (performance.now(): from the navigation's start) the last panel
  // is filled, exact to the DOM change that filled it, and resolves a
  // promise then: nothing polls the page while it loads.
  await page.addInitScript(() => {
    window.footfallReady = new Promise((resolve) => {
      const filled = () => {
        const app = document.getElementById('app');
        const realtime = document.querySelector('[data-panel="realtime"]');
        return app?.dataset.state === 'ready' && realtime?.dataset.state === 'ready';
      };
      new MutationObserver((_, observer) => {
        if (filled()) {
          observer.disconnect();
          resolve(performance.now());
        }
      }).observe(document, { subtree: true, childList: true, attributes: true });
    });
  });
  await page.goto(url, { waitUntil: 'commit' });
  const readyMs = await Promise.race([
    page.evaluate(() => window.footfallReady),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`run ${run} ${visit}: not ready after 60 s`)), 60000)),
  ]);
  const failed = await page.$$eval('[data-state="error"]', (els) => els.map((el) => el.dataset.panel || el.className));
  console.log(JSON.stringify({ run, visit, ready_ms: readyMs, failed, errors }));
  await page.close();
}

try {
  for (let run = 0; run < Number(runs); run++) {
    const context = await browser.newContext();
    await load(context, run, 'first');
    await load(context, run, 'return');
    await context.close();
  }
} finally {
  await browser.close();
}
