// The address is the view: what it holds, how it reads, and the filters it
// turns into for the Stats API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiFilters, readState, withFilter, withoutFilter, writeSearch } from '../src/state.js';

test('an address round-trips and stays readable', () => {
  const cases = [
    ['', { site: '', period: '30d', date: '', filters: [], funnel: [], metric: 'visitors' }, ''],
    ['?site=demo&period=7d&page=/p/1&source=Google', {
      site: 'demo', period: '7d', date: '', metric: 'visitors', funnel: [],
      filters: [{ property: 'event:page', value: '/p/1' }, { property: 'visit:source', value: 'Google' }],
    }, '?site=demo&period=7d&page=/p/1&source=Google'],
    ['?site=demo&period=custom&date=2024-05-01,2024-05-31&funnel=/|/p/*|add_to_basket&metric=pageviews', {
      site: 'demo', period: 'custom', date: '2024-05-01,2024-05-31', filters: [],
      funnel: ['/', '/p/*', 'add_to_basket'], metric: 'pageviews',
    }, '?site=demo&period=custom&date=2024-05-01,2024-05-31&funnel=/|/p/*|add_to_basket&metric=pageviews'],
    // No funnel unless the address names its steps.
    ['?site=demo&funnel=/|/p/*|/cart', {
      site: 'demo', period: '30d', date: '', filters: [], funnel: ['/', '/p/*', '/cart'], metric: 'visitors',
    }, '?site=demo&funnel=/|/p/*|/cart'],
    ['?site=demo&funnel=', { site: 'demo', period: '30d', date: '', filters: [], funnel: [], metric: 'visitors' }, '?site=demo'],
    // Malformed parts fall back to defaults rather than breaking the page.
    ['?site=demo&period=forever&metric=revenue', { site: 'demo', period: '30d', date: '', filters: [], funnel: [], metric: 'visitors' }, '?site=demo'],
    ['?period=custom&date=yesterday', { site: '', period: '30d', date: '', filters: [], funnel: [], metric: 'visitors' }, ''],
    ['?site=demo&utm_campaign=spring%20sale&browser=Firefox', {
      site: 'demo', period: '30d', date: '', funnel: [], metric: 'visitors',
      filters: [{ property: 'visit:utm_campaign', value: 'spring sale' }, { property: 'visit:browser', value: 'Firefox' }],
    }, '?site=demo&utm_campaign=spring%20sale&browser=Firefox'],
  ];
  for (const [search, want, written] of cases) {
    const state = readState(search);
    assert.deepEqual(state, want, search);
    assert.equal(writeSearch(state), written, search);
  }
});

test('a filter replaces one on the same property and can be removed', () => {
  let state = readState('?site=demo&page=/');
  state = withFilter(state, 'visit:source', 'Google');
  state = withFilter(state, 'event:page', '/cart');
  assert.deepEqual(state.filters, [{ property: 'visit:source', value: 'Google' }, { property: 'event:page', value: '/cart' }]);
  assert.deepEqual(withoutFilter(state, 'visit:source').filters, [{ property: 'event:page', value: '/cart' }]);
});

test('filters are written in the Stats API syntax, separators escaped', () => {
  assert.equal(apiFilters([]), '');
  assert.equal(apiFilters([{ property: 'event:page', value: '/p/1' }, { property: 'visit:source', value: 'Google' }]),
    'event:page==/p/1;visit:source==Google');
  assert.equal(apiFilters([{ property: 'event:search', value: 'a|b;c' }]), 'event:search==a\\|b\\;c');
});
