import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import {
  uuid, session, utm, searchKeyword, pendingSearch, isSubmitted, props, selector, text, SESSION_MS, SEARCH_MS,
} from '../src/envelope.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('uuid is a v4 UUID with randomUUID and with the getRandomValues fallback', () => {
  const fallback = { getRandomValues: (b) => webcrypto.getRandomValues(b) };
  for (const c of [webcrypto, fallback]) {
    const seen = new Set();
    for (let i = 0; i < 200; i++) {
      const id = uuid(c);
      assert.match(id, UUID_V4);
      seen.add(id);
    }
    assert.equal(seen.size, 200);
  }
  const zeros = { getRandomValues: (b) => b.fill(0) };
  assert.equal(uuid(zeros), '00000000-0000-4000-8000-000000000000');
  const ones = { getRandomValues: (b) => b.fill(255) };
  assert.equal(uuid(ones), 'ffffffff-ffff-4fff-bfff-ffffffffffff');
});

test('session continues within 30 minutes of activity and restarts after', () => {
  let n = 0;
  const next = () => `s${++n}`;
  const t0 = 1_700_000_000_000;
  const cases = [
    { name: 'nothing stored', stored: null, now: t0, want: 's1' },
    { name: 'garbage stored', stored: 'x', now: t0, want: 's2' },
    { name: 'active', stored: `old|${t0}`, now: t0 + SESSION_MS - 1, want: 'old' },
    { name: 'expired', stored: `old|${t0}`, now: t0 + SESSION_MS, want: 's3' },
  ];
  for (const c of cases) {
    const [sid, stored] = session(c.stored, c.now, next);
    assert.equal(sid, c.want, c.name);
    assert.equal(stored, `${c.want}|${c.now}`, c.name);
  }
});

test('utm reads the five utm parameters and nothing else', () => {
  const cases = [
    ['', undefined],
    ['?q=kettle', undefined],
    ['?utm_source=news&utm_medium=email&utm_campaign=spring%20sale&utm_term=fan&utm_content=b&utm_id=9',
      { source: 'news', medium: 'email', campaign: 'spring sale', term: 'fan', content: 'b' }],
    ['?utm_source=&utm_medium=cpc', { medium: 'cpc' }],
  ];
  for (const [query, want] of cases) assert.deepEqual(utm(query), want, query);
});

test('searchKeyword finds q, s, search or query in a query string', () => {
  const cases = [
    ['', ''],
    ['?page=2', ''],
    ['?q=humidifier', 'humidifier'],
    ['?q=cool+mist%20humidifier', 'cool mist humidifier'],
    ['?s=kettle', 'kettle'],
    ['?search=fan', 'fan'],
    ['?query=%20blanket%20', 'blanket'],
    ['?q=&s=fan', 'fan'],
    ['?q=+++', ''],
    ['?qq=fan', ''],
  ];
  for (const [query, want] of cases) assert.equal(searchKeyword(query), want, query);
});

test('isSubmitted matches the same keyword within 30 s only', () => {
  const t0 = 1_700_000_000_000;
  const pending = pendingSearch('Humidifier', t0);
  const cases = [
    { name: 'same keyword, other case', kw: 'humidifier', pending, now: t0 + 1000, want: true },
    { name: 'just before the window ends', kw: 'HUMIDIFIER', pending, now: t0 + SEARCH_MS - 1, want: true },
    { name: 'too late', kw: 'humidifier', pending, now: t0 + SEARCH_MS, want: false },
    { name: 'other keyword', kw: 'kettle', pending, now: t0 + 1000, want: false },
    { name: 'nothing pending', kw: 'humidifier', pending: null, now: t0, want: false },
    { name: 'cleared', kw: 'humidifier', pending: '', now: t0, want: false },
    { name: 'garbage', kw: 'humidifier', pending: '{', now: t0, want: false },
  ];
  for (const c of cases) assert.equal(isSubmitted(c.kw, c.pending, c.now), c.want, c.name);
});

test('props keeps flat strings, finite numbers and bools', () => {
  assert.equal(props(undefined), undefined);
  assert.equal(props({ nested: { a: 1 } }), undefined);
  assert.deepEqual(
    props({ plan: 'pro', seats: 3, ok: false, zero: 0, nan: NaN, inf: Infinity, nil: null, list: [1], fn() {} }),
    { plan: 'pro', seats: 3, ok: false, zero: 0 },
  );
});

test('selector names the element and up to two ancestors, stopping at an id', () => {
  const el = (tagName, id, className, parentElement) => ({ tagName, id, className, parentElement });
  const body = el('BODY', '', '', null);
  const main = el('MAIN', 'content', '', body);
  const ul = el('UL', '', 'menu   top extra', main);
  const li = el('LI', '', '', ul);
  const a = el('A', '', 'link', li);
  assert.equal(selector(a), 'ul.menu.top > li > a.link');
  assert.equal(selector(el('BUTTON', '', 'buy', main)), 'main#content > button.buy');
  assert.equal(selector(el('BUTTON', 'buy', 'x', main)), 'button#buy');
  const svgLink = el('a', '', { baseVal: 'icon' }, body);
  assert.equal(selector(svgLink), 'body > a');
});

test('text collapses whitespace and keeps at most 100 characters', () => {
  assert.equal(text('  Buy\n\t now  '), 'Buy now');
  assert.equal(text(undefined), '');
  assert.equal(text(null), '');
  assert.equal(text('x'.repeat(150)).length, 100);
});
