// The realtime count: visitors on the site in the last minutes, refreshed
// every 30 seconds by itself, as long as the page is open. createRealtime
// returns the first refresh.
import { h } from '../dom.js';
import { count } from '../format.js';

export const REFRESH_MS = 30000;

export function createRealtime(root, fetchCount) {
  const figure = h('strong', { className: 'figure' }, '–');
  const element = h('span', { className: 'realtime', 'data-panel': 'realtime', title: 'visitors in the last 5 minutes; updates every 30 s' },
    h('span', { className: 'pulse', 'aria-hidden': 'true' }), figure, ' current visitors');
  root.append(element);

  async function refresh() {
    try {
      figure.textContent = count(await fetchCount());
      element.dataset.state = 'ready';
    } catch {
      element.dataset.state = 'error';
    }
  }
  setInterval(refresh, REFRESH_MS);
  // The first count, which the page waits for before it calls itself ready.
  return refresh();
}
