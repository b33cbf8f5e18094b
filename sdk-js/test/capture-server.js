// A stand-in collector for the browser tests: it serves the freshly built
// beacon and its ES module build, the demo shop, test pages and fake
// promotions, and records every POST /v1/batch so a test can wait for the
// events it expects.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { bundle, root } from '../scripts/bundle.mjs';

export const WRITE_KEY = 'test-key';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.json': 'application/json' };

export async function startCaptureServer() {
  const [beacon, esm] = await Promise.all([bundle(), bundle(true)]);
  const batches = [];
  const waiters = new Set();
  const script = []; // [status, headers] for the next POSTs

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': 'Content-Type' };
    if (url.pathname === '/v1/batch') {
      if (req.method === 'OPTIONS') return res.writeHead(204, cors).end();
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const raw = Buffer.concat(chunks).toString();
      let body = null;
      try {
        body = JSON.parse(raw);
      } catch {}
      // Scripted answers first (a collector that refuses), then 204.
      const [status, headers] = script.shift() || [204, {}];
      batches.push({
        at: Date.now(),
        status,
        // sendBeacon sends no-cors; fetch, keepalive or not, sends cors.
        beacon: req.headers['sec-fetch-mode'] === 'no-cors',
        contentType: req.headers['content-type'],
        bytes: Buffer.concat(chunks).length,
        raw,
        body,
      });
      for (const w of waiters) w();
      return res.writeHead(status, { ...cors, ...headers }).end();
    }
    if (url.pathname === '/footfall.js') return send(res, 200, TYPES['.js'], beacon);
    if (url.pathname === '/footfall.esm.js') return send(res, 200, TYPES['.js'], esm);
    if (url.pathname === '/demo/config.json') {
      const cfg = { site: WRITE_KEY, site_id: 'demo', promotions_url: origin() };
      return send(res, 200, TYPES['.json'], JSON.stringify(cfg));
    }
    if (url.pathname === '/v1/promotions') {
      const user = url.searchParams.get('user');
      const promotions = [
        { id: 'promo-humidifier', title: 'Humidifier deal: 20% off', url: '/demo/product.html?id=mist-humidifier', image: '/missing.png', score: 12.5, reason: 'search:humidifier' },
        { id: 'promo-kettle', title: 'Kettles from €19', url: '/demo/product.html?id=steel-kettle', score: 3, reason: 'default' },
      ];
      return send(res, 200, TYPES['.json'], JSON.stringify({ site: url.searchParams.get('site'), user, promotions }), cors);
    }
    const file = url.pathname.startsWith('/demo/')
      ? join(root, 'demo', normalize(url.pathname.slice('/demo/'.length)))
      : join(root, 'test', 'fixtures', normalize(url.pathname));
    try {
      return send(res, 200, TYPES[extname(file)] || 'application/octet-stream', await readFile(file));
    } catch {
      return send(res, 404, 'text/plain', 'not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = () => `http://127.0.0.1:${server.address().port}`;

  // events returns every event accepted so far (a scripted refusal is not
  // delivery), optionally only those of one visitor.
  function events(anonymousId) {
    const all = batches.filter((b) => b.status < 300).flatMap((b) => (b.body && b.body.events) || []);
    return anonymousId ? all.filter((e) => e.anonymous_id === anonymousId) : all;
  }

  // waitFor resolves with pred's first truthy answer, re-asked on every
  // batch, or fails after ms.
  function waitFor(pred, ms = 5000, what = 'events') {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = pred();
        if (!v) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; the last events: ${JSON.stringify(events().slice(-5))}`));
      }, ms);
      waiters.add(check);
      check();
    });
  }

  return {
    origin: origin(),
    batches,
    events,
    // answer makes the next POSTs get these [status, headers] answers.
    answer: (...answers) => script.push(...answers),
    waitFor,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}
