// The parts of the event envelope that need no DOM: ids, the session rule,
// URL parameters, props and the search de-duplication rule. Kept pure so
// they can be unit-tested in node; footfall.js wires them to the page.

// SESSION_MS is the inactivity after which a new session starts.
export const SESSION_MS = 30 * 60 * 1000;

// SEARCH_MS is how long a search-form submit suppresses the same keyword
// read from the URL of the page it navigates to.
export const SEARCH_MS = 30 * 1000;

// uuid returns a random (v4) UUID. crypto.randomUUID exists only in secure
// contexts, so plain-http shops fall back to getRandomValues.
export function uuid(c = crypto) {
  if (c.randomUUID) return c.randomUUID();
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  let s = '';
  for (let i = 0; i < 16; i++) {
    s += (b[i] + 256).toString(16).slice(1) + (i == 3 || i == 5 || i == 7 || i == 9 ? '-' : '');
  }
  return s;
}

// session returns the session id to use now and the value to store back.
// stored is "id|last-activity-ms" or empty.
export function session(stored, now, newId) {
  const [id, last] = (stored || '').split('|');
  const sid = id && now - last < SESSION_MS ? id : newId();
  return [sid, sid + '|' + now];
}

// utm reads the five utm_ parameters of a query string; undefined when
// there are none, so the envelope stays small.
export function utm(query) {
  const p = new URLSearchParams(query);
  let out;
  for (const k of ['source', 'medium', 'campaign', 'term', 'content']) {
    const v = p.get('utm_' + k);
    if (v) (out = out || {})[k] = v;
  }
  return out;
}

// SEARCH_PARAMS are the query parameters and input names that carry a
// search keyword on most shops (q: most engines, s: WordPress).
export const SEARCH_PARAMS = ['q', 's', 'search', 'query'];

// searchKeyword returns the trimmed keyword a query string carries, or ''.
export function searchKeyword(query) {
  const p = new URLSearchParams(query);
  for (const k of SEARCH_PARAMS) {
    const v = (p.get(k) || '').trim();
    if (v) return v;
  }
  return '';
}

// pendingSearch is what a search-form submit remembers for the next page.
export function pendingSearch(keyword, now) {
  return JSON.stringify({ k: keyword.toLowerCase(), t: now });
}

// isSubmitted tells whether a keyword read from the URL is the one a search
// form just submitted (and so was already sent): one user search, one event.
export function isSubmitted(keyword, pending, now) {
  try {
    const p = JSON.parse(pending);
    return p.k === keyword.toLowerCase() && now - p.t < SEARCH_MS;
  } catch (e) {
    return false;
  }
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
  const parts = [];
  for (let i = 0; el && el.tagName && i < 3; i++, el = el.parentElement) {
    let s = el.tagName.toLowerCase();
    if (el.id) {
      parts.unshift(s + '#' + el.id);
      break;
    }
    const cls = typeof el.className == 'string' ? el.className.trim().split(/\s+/).slice(0, 2) : [];
    if (cls[0]) s += '.' + cls.join('.');
    parts.unshift(s);
  }
  return parts.join(' > ');
}

// text is an element's visible text, whitespace-collapsed, at most 100 chars.
export function text(s) {
  return (s || '').replace(/\s+/g, ' ').trim().slice(0, 100);
}
