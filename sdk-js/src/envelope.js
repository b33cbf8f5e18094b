// The parts of the event envelope that need no DOM: the session rule,
// URL parameters, props, the search de-duplication rule, the route rule and
// scroll milestones. Kept pure so they can be unit-tested in node; tracker.js
// wires them to the page.

// SESSION_MS is the inactivity after which a new session starts.
export const SESSION_MS = 30 * 60 * 1000;

// session returns the session id to use now and the value to store back.
// stored is "id|last-activity-ms" or empty.
export function session(stored, now, newId) {
  const [id, last] = (stored || '').split('|');
  const sid = id && now - last < SESSION_MS ? id : newId();
  return [sid, sid + '|' + now];
}

// utm reads the utm_ parameters of a query string (the collector keeps
// source, medium, campaign, term and content); undefined when there are
// none, so the envelope stays small.
export function utm(query) {
  let out;
  for (const [k, v] of new URLSearchParams(query)) if (v && k.startsWith('utm_')) (out = out || {})[k.slice(4)] = v;
  return out;
}

// searchKeyword returns the first non-empty, trimmed value that one of
// params (the query parameters that carry a keyword) has in query, or ''.
export function searchKeyword(query, params) {
  const p = new URLSearchParams(query);
  for (const k of params) {
    const v = (p.get(k) || '').trim();
    if (v) return v;
  }
  return '';
}

// props keeps the flat string, number and bool values the collector
// accepts and drops everything else.
export function props(p) {
  let out;
  for (const k in p) {
    const v = p[k];
    const t = typeof v;
    if (t == 'string' || t == 'boolean' || (t == 'number' && isFinite(v))) (out = out || {})[k] = v;
  }
  return out;
}

// selector describes an element for click reports: tag, id or first two
// classes, and up to two ancestors, stopping at the first id.
export function selector(el) {
  let out = '';
  for (let i = 3; i-- && el && !/#/.test(out); el = el.parentElement) {
    const cls = [...el.classList].slice(0, 2).join('.');
    out = el.localName + (el.id ? '#' + el.id : cls && '.' + cls) + (out && ' > ' + out);
  }
  return out;
}

// text is an element's visible text, whitespace-collapsed, at most 100 chars.
export function text(s) {
  return (s || '').replace(/\s+/g, ' ').trim().slice(0, 100);
}

// clean returns url, resolved against base, without the query parameters
// named in strip (e-mail addresses, tokens: what must never leave the
// page). Only a URL that has one of them is re-serialised, so every other
// URL is sent exactly as the browser shows it. No URL gives undefined.
export function clean(url, strip, base) {
  if (!url) return;
  try {
    const u = new URL(url, base);
    for (const p of strip) if (u.searchParams.has(p)) u.searchParams.delete(p);
    return u.href;
  } catch (e) {
    return url;
  }
}

// route is what makes two URLs the same page view: the URL without its
// fragment, unless the fragment is a hash-router route ("#/cart", "#!/cart").
// So an in-page anchor (#reviews) is no new page view, and a hash-routed
// single-page app's screens are.
export function route(href) {
  const [url, hash] = href.split('#');
  return /^!?\//.test(hash) ? href : url;
}

// quarters is how many quarters (25 % scroll-depth milestones, up to 4)
// of a document height px tall a view whose bottom edge is at bottom px has
// shown. A pixel of slack absorbs the fractional scroll positions of
// zoomed pages.
export function quarters(bottom, height) {
  return Math.min(4, ((bottom + 1) / height) * 4) | 0;
}
