// How figures read on the page. The browser test formats the API's numbers
// with these same functions and compares them with what the page shows, so
// a figure is checked as the shop owner sees it. The locale is fixed: the
// page must read the same on every machine the test runs on.

const LOCALE = 'en-US';
const whole = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat(LOCALE, { notation: 'compact', maximumFractionDigits: 1 });
const twoDecimals = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 2 });

// count: 1,234 below ten thousand, 12.3K above, where a card has room for
// the first digits only.
export function count(n) {
  if (n == null || Number.isNaN(Number(n))) return '–';
  n = Number(n);
  return Math.abs(n) < 10000 ? whole.format(n) : compact.format(n);
}

// ratio: views per visit, two decimals at most.
export function ratio(n) {
  if (n == null || Number.isNaN(Number(n))) return '–';
  return twoDecimals.format(Number(n));
}

// percent: the API's bounce and conversion rates, already in percent.
export function percent(n) {
  if (n == null || Number.isNaN(Number(n))) return '–';
  return `${twoDecimals.format(Math.round(Number(n) * 10) / 10)}%`;
}

// duration: seconds as a person says them: 45s, 3m 20s, 1h 5m.
export function duration(seconds) {
  if (seconds == null || Number.isNaN(Number(seconds))) return '–';
  const s = Math.round(Number(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

// METRICS names the six figures of the cards, in the order they are shown,
// with how each reads and whether a rise is good news.
export const METRICS = [
  { key: 'visitors', label: 'Unique visitors', format: count, higherIsBetter: true },
  { key: 'visits', label: 'Total visits', format: count, higherIsBetter: true },
  { key: 'pageviews', label: 'Total pageviews', format: count, higherIsBetter: true },
  { key: 'views_per_visit', label: 'Views per visit', format: ratio, higherIsBetter: true },
  { key: 'bounce_rate', label: 'Bounce rate', format: percent, higherIsBetter: false },
  { key: 'visit_duration', label: 'Visit duration', format: duration, higherIsBetter: true },
];

// change: the comparison against the previous period, as the API gives it
// (a change in percent; for the bounce rate, in percentage points). null
// means there was nothing to compare with.
export function change(metric, value) {
  if (value == null || Number.isNaN(Number(value))) return { text: '–', tone: 'flat' };
  const v = Number(value);
  const rounded = Math.round(Math.abs(v));
  if (rounded === 0) return { text: metric === 'bounce_rate' ? '0 pp' : '0%', tone: 'flat' };
  const arrow = v > 0 ? '↑' : '↓';
  const unit = metric === 'bounce_rate' ? ' pp' : '%';
  const good = (v > 0) === (METRICS.find((m) => m.key === metric)?.higherIsBetter ?? true);
  return { text: `${arrow} ${whole.format(rounded)}${unit}`, tone: good ? 'good' : 'bad' };
}

// logTime: a log record's time (RFC 3339, UTC) as "2026-12-02 10:04:05",
// the same on every machine.
export function logTime(iso) {
  return String(iso).replace('T', ' ').replace(/(\.\d+)?Z$/, '');
}
