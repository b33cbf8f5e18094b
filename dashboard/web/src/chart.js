// The visitors chart: one uPlot line over the period, redrawn in place when
// the figures change and resized with its box. uPlot draws on a canvas in a
// few milliseconds and weighs about 20 KB gzipped, which is why it was
// chosen (see docs/dashboard.md).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom.js';
import { count, duration, percent, ratio } from './format.js';

const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];
const FORMATS = { visitors: count, visits: count, pageviews: count, views_per_visit: ratio, bounce_rate: percent, visit_duration: duration };

// parseTime reads the API's time labels as UTC seconds: "2024-05-01",
// "2024-05-01 13:00:00" (hourly) or "2024-05" (monthly).
function parseTime(label) {
  const [day, time = '00:00:00'] = String(label).split(/[ T]/);
  const [y, m = '01', d = '01'] = day.split('-');
  return Date.UTC(Number(y), Number(m) - 1, Number(d), ...time.split(':').map(Number)) / 1000;
}

// createChart draws into root, under a title and a readout of the point
// under the cursor, and returns {update(results, metric, label), failed}.
export function createChart(root) {
  const title = h('h2');
  const readout = h('span', { className: 'readout' });
  const box = h('div', { 'aria-hidden': 'true' });
  // The canvas says nothing to a screen reader: the same figures as a
  // table, visually hidden.
  const points = h('tbody');
  const table = h('table', { className: 'visually-hidden' }, h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'Value'))), points);
  root.append(h('header', {}, title, readout), box, table);
  let plot;
  let current = { hourly: false, metric: 'visitors' };
  const width = () => Math.max(box.clientWidth, 200);

  function options(metric, label, hourly) {
    const format = FORMATS[metric] || count;
    const axis = { stroke: '#6b7280', grid: { stroke: '#eef0f3', width: 1 }, ticks: { show: false }, font: '12px system-ui, sans-serif' };
    return {
      width: width(),
      height: 240,
      // Times are the site's days and hours as the API labels them: shown
      // as given, not shifted into the viewer's zone.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      cursor: { points: { size: 8 }, drag: { x: false, y: false } },
      legend: { show: false },
      hooks: { setCursor: [(u) => showReadout(u, format, hourly)] },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max * 1.1, 1)] } },
      axes: [
        { ...axis, values: hourly ? '{HH}:{mm}' : undefined },
        // Counts step in whole numbers: no "1.5 visitors".
        { ...axis, size: 50, values: (u, ticks) => ticks.map(format), incrs: format === count ? WHOLE_STEPS : undefined },
      ],
      series: [
        {},
        {
          label,
          stroke: '#4f46e5',
          width: 2,
          fill: 'rgba(79, 70, 229, 0.08)',
          points: { show: (u) => u.data[0].length <= 31, size: 5 },
        },
      ],
    };
  }

  function showReadout(u, format, hourly) {
    const i = u.cursor.idx;
    if (i == null) {
      readout.textContent = '';
      return;
    }
    const when = new Date(u.data[0][i] * 1000);
    const day = when.toLocaleDateString('en-US', { timeZone: 'UTC', month: 'short', day: 'numeric', year: hourly ? undefined : 'numeric' });
    const hour = hourly ? `, ${when.toISOString().slice(11, 16)}` : '';
    readout.textContent = `${day}${hour}: ${format(u.data[1][i])}`;
  }

  new ResizeObserver(() => plot?.setSize({ width: width(), height: 240 })).observe(box);

  return {
    failed(problem) {
      points.replaceChildren();
      plot?.destroy();
      plot = undefined;
      readout.textContent = `Could not load: ${problem}`;
    },
    update(results, metric, label) {
      readout.textContent = '';
      const format = FORMATS[metric] || count;
      points.replaceChildren(...results.map((r) => h('tr', {}, h('th', {}, r.date), h('td', {}, format(r[metric])))));
      const xs = results.map((r) => parseTime(r.date));
      const ys = results.map((r) => r[metric] ?? null);
      const hourly = results.some((r) => / \d/.test(String(r.date)));
      if (plot && current.hourly === hourly && current.metric === metric) {
        plot.setData([xs, ys]);
        return;
      }
      plot?.destroy();
      current = { hourly, metric };
      title.textContent = label;
      plot = new uPlot(options(metric, label, hourly), [xs, ys], box);
    },
  };
}
