// footfall.js, the beacon a shop puts on its pages:
//
//   <script defer src="https://COLLECTOR/footfall.js" data-site="WRITE_KEY"></script>
//
// It sends a pageview on load, a search when a search form is submitted or
// the URL carries a keyword, link and button clicks, and whatever the page
// reports through window.footfall. Events are batched and posted as
// text/plain (no CORS preflight) to {endpoint}/v1/batch.
import { uuid, session, utm, searchKeyword, SEARCH_PARAMS, pendingSearch, isSubmitted, props, selector, text } from './envelope.js';
import { queue } from './queue.js';

(function (w, d) {
  const stub = w.footfall;
  if (stub && stub.anonymousId) return; // loaded twice
  const script = d.currentScript || d.querySelector('script[data-site]');
  const site = script && script.dataset.site;
  if (!site) return;
  const url = (script.dataset.endpoint || new URL(script.src, location.href).origin).replace(/\/+$/, '') + '/v1/batch';

  // store reads (v undefined) or writes a first-party value: localStorage,
  // or a cookie where storage is blocked.
  function store(k, v) {
    try {
      if (v === undefined) return localStorage.getItem(k);
      return localStorage.setItem(k, v);
    } catch (e) {
      if (v === undefined) {
        const m = d.cookie.match('(?:^|; )' + k + '=([^;]*)');
        return m && decodeURIComponent(m[1]);
      }
      d.cookie = k + '=' + encodeURIComponent(v) + ';path=/;max-age=31536000;samesite=lax';
    }
  }
  function tab(k, v) {
    try {
      return v === undefined ? sessionStorage.getItem(k) : sessionStorage.setItem(k, v);
    } catch (e) {}
  }

  let aid = store('ff_aid');
  if (!aid) store('ff_aid', (aid = uuid()));
  let uid = store('ff_uid') || '';

  function send(events) {
    const body = JSON.stringify({ site, events });
    try {
      if (navigator.sendBeacon(url, body)) return;
    } catch (e) {}
    fetch(url, { method: 'POST', body, keepalive: true, headers: { 'Content-Type': 'text/plain' }, credentials: 'omit' }).catch(() => {});
  }
  const q = queue(send);

  function emit(type, extra) {
    const now = Date.now();
    const [sid, stored] = session(store('ff_sid'), now, uuid);
    store('ff_sid', stored);
    const e = {
      id: uuid(),
      type,
      ts: now,
      anonymous_id: aid,
      session_id: sid,
      page: { url: location.href, path: location.pathname, title: d.title, referrer: d.referrer },
      context: {
        locale: navigator.language,
        tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
        screen: screen.width + 'x' + screen.height,
        utm: utm(location.search),
      },
    };
    if (uid) e.user_id = uid;
    q.push(Object.assign(e, extra));
  }

  // Autocapture listens in the capture phase so that a page stopping
  // propagation does not hide its clicks and searches.
  d.addEventListener('click', (ev) => {
    const el = ev.target.closest && ev.target.closest('a,button');
    if (!el) return;
    emit('click', {
      click: {
        selector: selector(el),
        text: text(el.innerText || el.getAttribute('aria-label')),
        href: (typeof el.href == 'string' && el.href) || undefined, // SVG links have an object here
        tag: el.tagName.toLowerCase(),
      },
    });
  }, true);

  // The search keyword is the one input value the beacon reads, and only
  // from a search form; it is remembered for this tab so that the results
  // page, whose URL carries it again, does not send it a second time.
  d.addEventListener('submit', (ev) => {
    const f = ev.target;
    const names = SEARCH_PARAMS.map((n) => `input[name="${n}"]`).join();
    const input = f.querySelector('input[type=search]') || f.querySelector(names) ||
      (f.getAttribute('role') == 'search' && f.querySelector('input[type=text],input:not([type])'));
    const keyword = input && input.value.trim();
    if (!keyword) return;
    tab('ff_search', pendingSearch(keyword, Date.now()));
    emit('search', { search: { keyword } });
  }, true);

  d.addEventListener('visibilitychange', () => d.visibilityState == 'hidden' && q.flush());
  w.addEventListener('pagehide', q.flush);

  const api = {
    track(name, p) {
      if (name) emit('custom', { name: String(name), props: props(p) });
    },
    identify(id) {
      if (!id) return;
      store('ff_uid', (uid = String(id)));
      emit('identify');
    },
    anonymousId: () => aid,
  };
  w.footfall = api;

  // Calls queued by the stub run first, so that an early identify already
  // applies to this page's pageview.
  for (const [m, args] of (stub && stub.q) || []) if (api[m]) api[m].apply(api, args);

  emit('pageview');
  const keyword = searchKeyword(location.search);
  if (keyword && !isSubmitted(keyword, tab('ff_search'), Date.now())) emit('search', { search: { keyword } });
  if (keyword) tab('ff_search', '');
})(window, document);
