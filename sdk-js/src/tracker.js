// The tracker: identity, the envelope, autocapture, privacy gates and the
// window.footfall API, on top of the outbox. init takes the options that the
// script tag gives as data- attributes (see README.md); every value may be
// a string, as a data- attribute is.
import { session, utm, searchKeyword, props, selector, text, clean, route, quarters } from './envelope.js';
import { outbox, put, retryAfter } from './outbox.js';

// The device's ids, under these keys in localStorage or cookies.
const AID = 'ff_aid';
const UID = 'ff_uid';
const SID = 'ff_sid';
const CONSENT = 'ff_ok';

// uuid makes event, device and session ids. crypto.randomUUID exists in
// secure contexts only, so the beacon needs https (or localhost), as
// shops serve their pages anyway.
const uuid = () => crypto.randomUUID();

export function init(o) {
  const w = window;
  const d = document;
  const n = navigator;
  const loc = location;
  const stub = w.footfall;
  if (stub?.anonymousId) return stub; // loaded twice

  // is(k, v): option k is the boolean v, given as a boolean or a string.
  const is = (k, v) => o[k] + '' == v;
  const no = (k) => is(k, 'false');
  const list = (k, def) => String(o[k] == null ? def : o[k]).split(',').filter(Boolean);
  const url = (o.endpoint || loc.origin).replace(/\/+$/, '') + '/v1/batch';
  const searchParams = list('searchParams', 'q,s,search,query');
  const strip = list('stripParams', 'email,token,password,secret');
  const mode = o.storage; // 'local' (default), 'cookie' or 'none'
  // Do Not Track and Global Privacy Control, when the site honours them,
  // turn the beacon off entirely: nothing stored, nothing sent.
  const blocked = is('respectDnt', 'true') && (n.doNotTrack == '1' || n.globalPrivacyControl);

  // Storage is localStorage, or a plain object (memory only) in cookieless
  // mode or where storage is blocked; both are read and written as
  // properties, which keeps the code small.
  let store = {};
  try {
    if (mode != 'none') store = localStorage; // throws where storage is blocked
  } catch (e) {}

  // keep reads (v undefined), writes or, with v empty, removes one id:
  // in a first-party cookie when the site asks for one (it can span
  // subdomains), else in storage.
  function keep(k, v) {
    if (mode != 'cookie') return v == null ? store[k] : put(store, k, v);
    // A cookie string parses as a query string once "; " is "&".
    if (v == null) return new URLSearchParams(d.cookie.replace(/; /g, '&')).get(k);
    // max-age 0 deletes.
    d.cookie = k + '=' + encodeURIComponent(v) + ';path=/;max-age=' + (v ? 4e7 : 0) + (o.cookieDomain ? ';domain=' + o.cookieDomain : '');
  }
  // mark sets ff_search, the keyword a search form just sent, and returns
  // the one before. The next page view reads and clears it, so the results
  // page, whose URL carries the keyword again, does not send it twice.
  function mark(v) {
    const was = store.ff_search;
    put(store, 'ff_search', v);
    return was;
  }

  function post(events, beacon) {
    // sent_at lets the collector correct every ts for this device's clock
    // (it keeps the time between an event and its sending, not the clock).
    const body = JSON.stringify({ site: o.site, sent_at: Date.now(), events });
    // sendBeacon says whether the browser took the batch: it refuses past
    // 64 KB in flight, and what it refused waits for the site's next page.
    if (beacon && n.sendBeacon) return n.sendBeacon(url, body);
    // A string body makes this text/plain: a CORS simple request, no
    // preflight, and cross-origin it carries no cookies. keepalive lets it
    // finish after the page is gone.
    return fetch(url, { method: 'POST', body, keepalive: true }).then(
      (r) => [r.status, retryAfter(r.headers.get('Retry-After'))],
      () => [0],
    );
  }
  const q = outbox(store, post, (count) => emit('custom', { name: 'footfall_dropped', props: { count } }), {
    size: +o.batchSize || 10,
    delay: +o.batchDelay || 1000,
    max: +o.maxQueue || 500,
    base: +o.retryBase || 1000,
  });

  let on = false; // tracking: consented and not blocked
  let aid = '';
  let uid = '';
  let last = ''; // route of the last page view
  let ref = d.referrer; // page.referrer: the previous page, also in a single-page app
  let reached = 0; // scroll quarters reached on this page view

  function start() {
    on = true;
    keep(AID, (aid = keep(AID) || uuid()));
    uid = keep(UID) || '';
  }

  function emit(type, extra) {
    if (!on) return;
    const now = Date.now();
    const [sid, stored] = session(keep(SID), now, uuid);
    keep(SID, stored);
    q.push({
      id: uuid(),
      type,
      ts: now,
      anonymous_id: aid,
      user_id: uid || undefined,
      session_id: sid,
      page: { url: cleaned(loc.href), path: loc.pathname, title: d.title, referrer: cleaned(ref) },
      context: {
        locale: n.language,
        tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
        screen: screen.width + 'x' + screen.height,
        utm: utm(loc.search),
      },
      ...extra,
    });
  }
  const cleaned = (u) => clean(u, strip, d.baseURI);
  const search = (keyword) => emit('search', { search: { keyword } });

  // pageview is called on load and on every history change; it sends one
  // page view per route, so replaceState on the same URL or an in-page
  // anchor adds none. In a single-page app the referrer is the previous
  // route, without its fragment, as browsers send it. A keyword in the URL is a search, unless it is the
  // one a search form just sent.
  function pageview() {
    const r = route(loc.href);
    if (!on || r == last) return;
    if (last) ref = last;
    last = r;
    reached = 0;
    if (!no('pageviews')) emit('pageview');
    const keyword = !no('searches') && searchKeyword(loc.search, searchParams);
    if (keyword && keyword.toLowerCase() != mark('')) search(keyword);
  }

  // Autocapture listens in the capture phase so that a page stopping
  // propagation does not hide its clicks and submits.
  const listen = (t, f, target = d) => target.addEventListener(t, f, true);

  if (!no('clicks')) listen('click', (ev) => {
    const el = ev.target.closest?.('[data-footfall-event],a,button');
    if (!el) return;
    const href = cleaned(el.getAttribute('href'));
    emit('click', {
      name: el.dataset.footfallEvent,
      click: { selector: selector(el), text: text(el.innerText || el.getAttribute('aria-label')), href, tag: el.localName },
      // An outbound link leaves the site (el.host is a link's host, '' for
      // mailto: and the like, undefined for anything but a link).
      props: el.host && el.host != loc.host ? { outbound: true } : undefined,
    });
  });

  // A submit is a search when the form is a search form (it has a search
  // field or a field named like a search parameter): its keyword is
  // the one input value ever read, because the search is the event. Any
  // other form reports its id and action, never its fields.
  listen('submit', (ev) => {
    const f = ev.target;
    const input = !no('searches') && f.querySelector(searchParams.map((p) => `input[name="${p}"],`).join('') + 'input[type=search]');
    if (input) {
      const keyword = input.value.trim();
      if (keyword && on) {
        mark(keyword.toLowerCase());
        search(keyword);
      }
    } else if (!no('forms')) {
      // getAttribute: f.id and f.action would be a field named "id" or "action".
      emit('form_submit', { form: { form_id: f.getAttribute('id') || f.getAttribute('name'), action: cleaned(f.getAttribute('action') || loc.href) } });
    }
  });

  if (!no('scroll')) listen('scroll', () => {
    for (const q = quarters(scrollY + innerHeight, d.documentElement.scrollHeight); reached < q; ) emit('scroll', { scroll: { depth_pct: ++reached * 25 } });
  }, w);

  // Single-page apps change the URL through history; wrap it to see that.
  for (const k of ['pushState', 'replaceState']) {
    const f = history[k];
    history[k] = function () {
      const r = f.apply(this, arguments);
      pageview();
      return r;
    };
  }
  listen('popstate', pageview, w);
  listen('hashchange', pageview, w);
  // A page restored from the back/forward cache is viewed again.
  listen('pageshow', (ev) => {
    if (ev.persisted) (last = ''), pageview(), q.send();
  }, w);
  // A hidden page may never be shown again, and pagehide is the last word
  // of one that goes (mobile browsers may skip it): send what waits.
  listen('visibilitychange', () => d.visibilityState == 'hidden' && q.leave());
  listen('pagehide', q.leave, w);
  listen('online', q.send, w);

  const api = {
    track(name, p) {
      if (name) emit('custom', { name: String(name), props: props(p) });
    },
    // identify links the anonymous id to the shop's user id; hash is the
    // shop server's HMAC of that id, sent as props.user_hash.
    identify(id, opts) {
      if (!on || !id) return;
      keep(UID, (uid = String(id)));
      emit('identify', { props: props({ user_hash: opts?.hash }) });
    },
    // reset forgets the user on logout: a new anonymous id and session.
    reset() {
      if (!on) return;
      keep(UID, (uid = ''));
      keep(SID, '');
      keep(AID, (aid = uuid()));
    },
    // consent(true) starts tracking where the site requires consent, and is
    // remembered; consent(false) stops it and removes everything stored.
    consent(given) {
      if (given && !on && !blocked) {
        start();
        keep(CONSENT, '1');
        pageview();
      } else if (!given) {
        on = false;
        for (const k of [AID, UID, SID, CONSENT]) keep(k, '');
        q.clear();
        mark('');
        aid = uid = last = '';
      }
    },
    anonymousId: () => aid,
  };
  w.footfall = api;

  if (!blocked && (!is('requireConsent', 'true') || keep(CONSENT))) start();
  // Calls queued by the stub run first, so that an early identify already
  // applies to this page's page view.
  for (const [m, args] of stub?.q || []) if (api[m]) api[m].apply(api, args);
  pageview();
  return api;
}
