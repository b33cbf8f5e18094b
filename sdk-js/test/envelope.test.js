import { test } from 'node:test';
import assert from 'node:assert/strict';
import { session, utm, searchKeyword, props, selector, text, clean, route, quarters, SESSION_MS } from '../src/envelope.js';

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

test('utm reads the utm_ parameters and nothing else', () => {
  const cases = [
    ['', undefined],
    ['?q=kettle', undefined],
    ['?utm_source=news&utm_medium=email&utm_campaign=spring%20sale&utm_term=fan&utm_content=b',
      { source: 'news', medium: 'email', campaign: 'spring sale', term: 'fan', content: 'b' }],
    ['?utm_source=&utm_medium=cpc', { medium: 'cpc' }],
  ];
  for (const [query, want] of cases) assert.deepEqual(utm(query), want, query);
});

test('searchKeyword finds the first configured parameter with a keyword', () => {
  const defaults = ['q', 's', 'search', 'query'];
  const cases = [
    ['', defaults, ''],
    ['?page=2', defaults, ''],
    ['?q=humidifier', defaults, 'humidifier'],
    ['?q=cool+mist%20humidifier', defaults, 'cool mist humidifier'],
    ['?s=kettle', defaults, 'kettle'],
    ['?query=%20blanket%20', defaults, 'blanket'],
    ['?q=&s=fan', defaults, 'fan'],
    ['?q=+++', defaults, ''],
    ['?qq=fan', defaults, ''],
    ['?q=fan&term=lamp', ['term'], 'lamp'],
    ['?q=fan', [], ''],
  ];
  for (const [query, params, want] of cases) assert.equal(searchKeyword(query, params), want, query);
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
  const el = (localName, id, classes, parentElement) => ({ localName, id, classList: classes, parentElement });
  const body = el('body', '', [], null);
  const main = el('main', 'content', [], body);
  const ul = el('ul', '', ['menu', 'top', 'extra'], main);
  const li = el('li', '', [], ul);
  const a = el('a', '', ['link'], li);
  assert.equal(selector(a), 'ul.menu.top > li > a.link');
  assert.equal(selector(el('button', '', ['buy'], main)), 'main#content > button.buy');
  assert.equal(selector(el('button', 'buy', ['x'], main)), 'button#buy');
  assert.equal(selector(el('a', '', [], body)), 'body > a');
});

test('text collapses whitespace and keeps at most 100 characters', () => {
  assert.equal(text('  Buy\n\t now  '), 'Buy now');
  assert.equal(text(undefined), '');
  assert.equal(text(null), '');
  assert.equal(text('x'.repeat(150)).length, 100);
});

test('clean strips the configured parameters and leaves every other URL as it was', () => {
  const strip = ['email', 'token'];
  const base = 'https://shop.example/cart/';
  const cases = [
    ['https://shop.example/a?email=a%40b.c&x=1', 'https://shop.example/a?x=1'],
    ['https://shop.example/a?token=t&email=e', 'https://shop.example/a'],
    ['https://shop.example/a?x=1&token=t#top', 'https://shop.example/a?x=1#top'],
    ['/login?email=e', 'https://shop.example/login'],
    ['checkout', 'https://shop.example/cart/checkout'],
    ['https://shop.example/a?emailx=1', 'https://shop.example/a?emailx=1'],
    ['https://shop.example/a?q=cool%20mist', 'https://shop.example/a?q=cool%20mist'],
    ['mailto:me@example.com', 'mailto:me@example.com'],
    ['', undefined],
    [null, undefined],
  ];
  for (const [url, want] of cases) assert.equal(clean(url, strip, base), want, String(url));
});

test('route: an anchor is the same page view, a hash-router route is not', () => {
  const cases = [
    ['https://s.example/p?q=1', 'https://s.example/p?q=1'],
    ['https://s.example/p#reviews', 'https://s.example/p'],
    ['https://s.example/#/cart', 'https://s.example/#/cart'],
    ['https://s.example/#!/cart', 'https://s.example/#!/cart'],
    ['https://s.example/p#', 'https://s.example/p'],
  ];
  for (const [href, want] of cases) assert.equal(route(href), want, href);
});

test('quarters counts the 25 % milestones reached, up to 4', () => {
  const cases = [
    [500, 2000, 1], [499, 2000, 1], [498, 2000, 0], [1000, 2000, 2], [1999.5, 2000, 4],
    [2000, 2000, 4], [2600, 2000, 4], [800, 800, 4], [0, 2000, 0],
  ];
  for (const [bottom, height, want] of cases) assert.equal(quarters(bottom, height), want, `${bottom}/${height}`);
});
