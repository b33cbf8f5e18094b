// The Stats API properties the page breaks figures down by. Each has the
// name the API knows it by, the key its breakdown rows carry, the short
// name it has in the page's address (?page=/cart) and how a person says it
// in a filter chip ("Page is /cart").

const PROPERTIES = [
  { api: 'event:page', param: 'page', label: 'Page' },
  { api: 'visit:entry_page', param: 'entry_page', label: 'Entry page' },
  { api: 'visit:exit_page', param: 'exit_page', label: 'Exit page' },
  { api: 'visit:source', param: 'source', label: 'Source' },
  { api: 'visit:channel', param: 'channel', label: 'Channel' },
  { api: 'visit:referrer', param: 'referrer', label: 'Referrer' },
  { api: 'visit:utm_medium', param: 'utm_medium', label: 'UTM medium' },
  { api: 'visit:utm_source', param: 'utm_source', label: 'UTM source' },
  { api: 'visit:utm_campaign', param: 'utm_campaign', label: 'UTM campaign' },
  { api: 'visit:utm_term', param: 'utm_term', label: 'UTM term' },
  { api: 'visit:utm_content', param: 'utm_content', label: 'UTM content' },
  { api: 'visit:device', param: 'device', label: 'Device' },
  { api: 'visit:browser', param: 'browser', label: 'Browser' },
  { api: 'visit:os', param: 'os', label: 'OS' },
  { api: 'event:name', param: 'event', label: 'Event' },
  { api: 'event:search', param: 'search', label: 'Search' },
  { api: 'event:click', param: 'click', label: 'Click' },
];

const byApi = new Map(PROPERTIES.map((p) => [p.api, p]));
const byParam = new Map(PROPERTIES.map((p) => [p.param, p]));

// property returns the entry for an API name (event:page) or undefined.
export function property(api) {
  return byApi.get(api);
}

// propertyForParam returns the entry for an address parameter (page).
export function propertyForParam(param) {
  return byParam.get(param);
}

// rowKey is the field that names a breakdown row: event:page rows are
// {page, visitors}, visit:utm_medium rows {utm_medium, visitors}.
export function rowKey(api) {
  return api.slice(api.indexOf(':') + 1);
}

export const FILTER_PARAMS = PROPERTIES.map((p) => p.param);
