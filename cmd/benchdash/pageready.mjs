// Times the dashboard page in headless Chromium: from navigation until
// every panel is filled, i.e. the page's root says data-state="ready"
// (set once all of a view's Stats API requests have answered; see
// dashboard/web/src/dashboard.js) and the realtime count has its figure.
// Each load runs in a fresh browser context: no cache, no stored key.
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
try {
  for (let run = 0; run < Number(runs); run++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
    // A MutationObserver installed before the page's own scripts notes
    // the moment (performance.now(): from the navigation's start) the
    // last panel is filled, exact to the DOM change that filled it.
    await page.addInitScript(() => {
      const filled = () => {
        const app = document.getElementById('app');
        const realtime = document.querySelector('[data-panel="realtime"]');
        return app?.dataset.state === 'ready' && realtime?.dataset.state === 'ready';
      };
      new MutationObserver((_, observer) => {
        if (filled()) {
          window.footfallReadyAt = performance.now();
          observer.disconnect();
        }
      }).observe(document, { subtree: true, childList: true, attributes: true });
    });
    await page.goto(url, { waitUntil: 'commit' });
    const readyMs = await (await page.waitForFunction(() => window.footfallReadyAt, null, { timeout: 60000 })).jsonValue();
    const failed = await page.$$eval('[data-state="error"]', (els) => els.map((el) => el.dataset.panel || el.className));
    console.log(JSON.stringify({ run, ready_ms: readyMs, failed, errors }));
    await context.close();
  }
} finally {
  await browser.close();
}
