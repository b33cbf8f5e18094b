// The page's only source of figures: Footfall's Stats API, which answers
// like Plausible's Stats API v1 (GET, Authorization: Bearer KEY, site_id,
// {"results": …}). The page is served by the same process, so requests go
// to the page's own origin, relative to it.
import { apiFilters } from './state.js';

// ApiError carries the HTTP status, so that callers can tell a refused key
// (401) or an unsupported report (400, 404) from a failure.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

// createClient returns the Stats API calls for one site and key.
export function createClient({ site, key, base = document.baseURI }) {
  async function get(path, params) {
    const url = new URL(`api/v1/stats/${path}`, base);
    url.searchParams.set('site_id', site);
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== '') url.searchParams.set(name, value);
    }
    const res = await fetch(url, { headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' } });
    const text = await res.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError(res.status, `${path}: HTTP ${res.status}, not JSON`);
    }
    if (!res.ok) throw new ApiError(res.status, body.error || `${path}: HTTP ${res.status}`);
    return body;
  }

  // period returns the parameters that every report shares.
  const period = (query) => ({
    period: query.period,
    date: query.period === 'custom' ? query.date : undefined,
    filters: apiFilters(query.filters),
  });

  return {
    // realtime is the number of visitors in the last minutes; Plausible
    // answers it with a bare number.
    realtime: () => get('realtime/visitors', {}),

    aggregate: async (query, metrics) =>
      (await get('aggregate', { ...period(query), metrics: metrics.join(','), compare: 'previous_period' })).results,

    timeseries: async (query, metric, interval) =>
      (await get('timeseries', { ...period(query), metrics: metric, interval })).results,

    breakdown: async (query, property, metrics, limit = 9) =>
      (await get('breakdown', { ...period(query), property, metrics: metrics.join(','), limit })).results,

    // logs is Footfall's logs report: the site's log records of the
    // period by service and level, and the latest errors. Filters are
    // about visits and do not apply.
    logs: async (query) => (await get('logs', { period: query.period, date: query.period === 'custom' ? query.date : undefined })).results,

    funnel: async (query, steps) => (await get('funnel', { ...period(query), steps: steps.join('|') })).steps,
  };
}
