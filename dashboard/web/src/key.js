// The Stats API key. It arrives in the address's fragment, the one part a
// browser never sends to a server (`make up` prints
// /#site=demo&key=…), is kept in this browser's localStorage and is taken
// out of the address bar at once, so that it does not end up in a
// bookmark, a shared link or a screenshot. It is never put in a query
// string. Without one, the page asks for it.
import { h } from './dom.js';

const KEYS = 'footfall.dashboard.keys';
const LAST_SITE = 'footfall.dashboard.site';

function keys() {
  try {
    return JSON.parse(localStorage.getItem(KEYS)) || {};
  } catch {
    return {};
  }
}

export function rememberKey(site, key) {
  localStorage.setItem(KEYS, JSON.stringify({ ...keys(), [site]: key }));
  localStorage.setItem(LAST_SITE, site);
}

export function forgetKey(site) {
  const all = keys();
  delete all[site];
  localStorage.setItem(KEYS, JSON.stringify(all));
}

export function storedKey(site) {
  return keys()[site] || '';
}

export function lastSite() {
  return localStorage.getItem(LAST_SITE) || '';
}

// takeKeyFromFragment stores a #site=…&key=… fragment's key and returns
// the site, having replaced the address with one that has the site in its
// query and no fragment. Without such a fragment it returns ''.
export function takeKeyFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const site = fragment.get('site');
  const key = fragment.get('key');
  if (!site || !key) return '';
  rememberKey(site, key);
  const query = new URLSearchParams(location.search);
  query.set('site', site);
  history.replaceState(null, '', `${location.pathname}?${query.toString().replace(/%2F/g, '/')}`);
  return site;
}

// askForKey shows a small form in root and resolves with {site, key} once
// it is submitted. problem, if given, says why it is asked again.
export function askForKey(root, { site = '', problem = '' } = {}) {
  return new Promise((resolve) => {
    const siteInput = h('input', { name: 'site', value: site, required: true, autocomplete: 'off', spellcheck: false });
    const keyInput = h('input', { name: 'key', type: 'password', required: true, autocomplete: 'off' });
    const form = h('form', { className: 'key-form', 'aria-label': 'Stats API key' },
      h('h1', {}, 'Footfall'),
      h('p', {}, 'Enter the site id and its Stats API key (', h('code', {}, 'make up'), ' prints a link with both). The key stays in this browser.'),
      problem ? h('p', { className: 'key-problem', role: 'alert' }, problem) : null,
      h('label', {}, 'Site id', siteInput),
      h('label', {}, 'Stats API key', keyInput),
      h('button', { type: 'submit' }, 'Show the dashboard'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const chosen = { site: siteInput.value.trim(), key: keyInput.value.trim() };
      rememberKey(chosen.site, chosen.key);
      resolve(chosen);
    });
    root.replaceChildren(form);
    (site ? keyInput : siteInput).focus();
  });
}
