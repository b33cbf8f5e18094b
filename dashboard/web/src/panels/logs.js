// The logs panel: the site's application logs of the period (POST
// /v1/logs on the collector, docs/logs.md), as Footfall's logs report
// answers them: how many records each service wrote at each severity
// level, the services with most errors first, and the latest errors. It
// shows the whole site's logs whatever the page's filters, which are
// about visits; it stays hidden where a site sends no logs, or where the
// API has no logs report.
import { h } from '../dom.js';
import { count, logTime } from '../format.js';

// LEVELS are the severity levels in the order the table shows them; a
// level no service wrote in the period gets no column.
export const LEVELS = ['FATAL', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE', 'UNSPECIFIED'];

// logsTable turns the report's counts into the table's header and rows
// (service, then a figure per level shown), in the report's service order.
export function logsTable(counts) {
  const levels = LEVELS.filter((l) => counts.some((c) => c.severity === l));
  const services = [];
  const byService = new Map();
  for (const c of counts) {
    if (!byService.has(c.service)) {
      byService.set(c.service, {});
      services.push(c.service);
    }
    byService.get(c.service)[c.severity] = c.count;
  }
  return { levels, rows: services.map((s) => [s, ...levels.map((l) => count(byService.get(s)[l] || 0))]) };
}

// errorLine is how one recent error reads: [time, service, level, body].
export const errorLine = (e) => [logTime(e.time), e.service, e.severity, e.body];

export function createLogsPanel() {
  const head = h('tr');
  const body = h('tbody');
  const errors = h('ol', { className: 'errors' });
  const message = h('p', { className: 'message' });
  const element = h('section', { className: 'panel logs', 'data-panel': 'logs', hidden: true },
    h('header', {}, h('h2', {}, 'Logs'), h('span', { className: 'hint' }, 'records by service and level, whole site, UTC')),
    h('table', {}, h('thead', {}, head), body),
    h('h3', {}, 'Latest errors'),
    errors, message);

  return {
    element,
    loading() {
      element.dataset.state = 'loading';
    },
    hide() {
      element.hidden = true;
      element.dataset.state = 'hidden';
    },
    failed(problem) {
      element.hidden = false;
      body.replaceChildren();
      errors.replaceChildren();
      message.textContent = `Could not load: ${problem}`;
      element.dataset.state = 'error';
    },
    // show draws {counts, recent_errors}; no records in the period: hidden.
    show({ counts, recent_errors: recent }) {
      if (!counts.length) {
        this.hide();
        return;
      }
      const { levels, rows } = logsTable(counts);
      head.replaceChildren(h('th', {}, 'Service'), ...levels.map((l) => h('th', { className: 'figure', 'data-level': l }, l)));
      body.replaceChildren(...rows.map(([service, ...figures]) => h('tr', {},
        h('td', { className: 'label' }, h('span', { className: 'name' }, service)),
        ...figures.map((f, i) => h('td', { className: f === '0' ? 'figure' : `figure level-${levels[i].toLowerCase()}` }, f)))));
      errors.replaceChildren(...recent.map((e) => h('li', {}, ...errorLine(e).map((part, i) =>
        h('span', { className: ['time', 'service', 'level', 'body'][i] }, part)))));
      message.textContent = recent.length ? '' : 'No errors in this period.';
      element.hidden = false;
      element.dataset.state = 'ready';
    },
  };
}
