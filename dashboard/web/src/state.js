// What the page shows is a function of its address: the site, the period,
// the filters and the funnel's steps all live in the query string, so a
// filtered view can be shared, bookmarked and reloaded. The API key never
// does (see key.js).
import { FILTER_PARAMS, property, propertyForParam } from './properties.js';

export const PERIODS = [
  { value: 'day', label: 'Today' },
  { value: '7d', label: 'Last 7 days' },
  { value: '30d', label: 'Last 30 days' },
  { value: 'month', label: 'This month' },
  { value: '6mo', label: 'Last 6 months' },
  { value: '12mo', label: 'Last 12 months' },
  { value: 'custom', label: 'Custom range' },
];

export const DEFAULT_PERIOD = '30d';

// A funnel is shown only where the address asks for one
// (?funnel=/|/p/*|/cart), as Plausible shows the funnels a site has set
// up: its report reads raw events, seconds on a month of a busy shop,
// while every panel of the default page reads the rollups.

const METRIC_KEYS = ['visitors', 'visits', 'pageviews', 'views_per_visit', 'bounce_rate', 'visit_duration'];
const DATE_RANGE = /^\d{4}-\d{2}-\d{2},\d{4}-\d{2}-\d{2}$/;

// readState parses a query string (location.search) into the page's state,
// falling back to defaults for anything missing or malformed.
export function readState(search) {
  const q = new URLSearchParams(search);
  let period = PERIODS.some((p) => p.value === q.get('period')) ? q.get('period') : DEFAULT_PERIOD;
  let date = q.get('date') || '';
  if (period === 'custom' && !DATE_RANGE.test(date)) {
    period = DEFAULT_PERIOD;
  }
  if (period !== 'custom') date = '';
  const filters = [];
  for (const param of FILTER_PARAMS) {
    const value = q.get(param);
    if (value) filters.push({ property: propertyForParam(param).api, value });
  }
  const funnel = (q.get('funnel') || '').split('|').filter(Boolean);
  const metric = METRIC_KEYS.includes(q.get('metric')) ? q.get('metric') : 'visitors';
  return { site: q.get('site') || '', period, date, filters, funnel, metric };
}

// writeSearch is readState's inverse. It leaves '/', '|', ':' and ',' as
// they are, legal in a query string, so the address stays readable:
// ?site=demo&period=7d&page=/p/1&funnel=/|/p/*|/cart
export function writeSearch(state) {
  const parts = [];
  const add = (name, value) => parts.push(`${name}=${readable(value)}`);
  if (state.site) add('site', state.site);
  if (state.period !== DEFAULT_PERIOD) add('period', state.period);
  if (state.period === 'custom') add('date', state.date);
  for (const f of state.filters) add(property(f.property).param, f.value);
  if (state.funnel.length) add('funnel', state.funnel.join('|'));
  if (state.metric !== 'visitors') add('metric', state.metric);
  return parts.length ? `?${parts.join('&')}` : '';
}

function readable(value) {
  return encodeURIComponent(value).replace(/%2F/g, '/').replace(/%7C/g, '|').replace(/%3A/g, ':').replace(/%2C/g, ',');
}

// withFilter adds a filter, replacing any on the same property: clicking
// another page swaps the page filter rather than asking for a visit that
// saw both.
export function withFilter(state, api, value) {
  const filters = state.filters.filter((f) => f.property !== api);
  filters.push({ property: api, value });
  return { ...state, filters };
}

export function withoutFilter(state, api) {
  return { ...state, filters: state.filters.filter((f) => f.property !== api) };
}

// apiFilters writes the filters in the Stats API v1 syntax,
// event:page==/p/1;visit:source==Google, escaping the separators a value
// may contain.
export function apiFilters(filters) {
  return filters.map((f) => `${f.property}==${f.value.replace(/[\\|;]/g, (c) => `\\${c}`)}`).join(';');
}
