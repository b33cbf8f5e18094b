// The page's layout and its one load cycle: every change of state (period,
// filter, funnel) fetches every panel's report again, in parallel, and each
// panel draws as soon as its answer comes. A panel draws only the answer to
// its latest request; older answers are dropped, not aborted, so that no
// request is ever cut off mid-flight.
import { ApiError } from './api.js';
import { createChart } from './chart.js';
import { h } from './dom.js';
import { METRICS } from './format.js';
import { createCards } from './panels/cards.js';
import { createChips } from './panels/chips.js';
import { createFunnelPanel, stepFilter } from './panels/funnel.js';
import { createListPanel } from './panels/list.js';
import { createLogsPanel } from './panels/logs.js';
import { createPeriodPicker } from './panels/period.js';
import { createRealtime } from './panels/realtime.js';
import { LIST_PANELS } from './panels/specs.js';
import { withFilter, withoutFilter } from './state.js';

// cardMetrics are the metrics the cards ask for. Views per visit means
// nothing for one page, and the API refuses it with a page filter (as
// Plausible's does); its card then says so.
export function cardMetrics(filters) {
  const onePage = filters.some((f) => f.property === 'event:page');
  return METRICS.map((m) => m.key).filter((m) => !(onePage && m === 'views_per_visit'));
}

// chartMetric is the metric on the chart: the chosen card's, or visitors
// where the view cannot have it.
function chartMetric(state) {
  return cardMetrics(state.filters).includes(state.metric) ? state.metric : 'visitors';
}

// createDashboard draws the page into root. navigate(state) is how a
// control asks for another view; onRefused() is called when the API
// refuses the key.
export function createDashboard(root, { site, client, navigate, onRefused, onSignOut }) {
  let state;

  const controls = h('div', { className: 'controls' });
  const live = h('div', { className: 'live' });
  const chipRow = h('div', { className: 'chips', 'aria-label': 'Filters' });
  const cardRow = h('section', { className: 'cards', 'data-panel': 'cards' });
  const chartPanel = h('section', { className: 'panel chart', 'data-panel': 'chart' });
  const grid = h('div', { className: 'grid' });

  root.replaceChildren(
    h('header', { className: 'top' },
      h('h1', {}, 'Footfall ', h('span', { className: 'site' }, site)),
      live, controls),
    chipRow, cardRow, chartPanel, grid,
    h('footer', {}, 'Figures from the Footfall Stats API · ',
      h('a', { href: '#', onclick: (event) => { event.preventDefault(); onSignOut(); } }, 'use another key')));

  const picker = createPeriodPicker(controls, { onChange: (period, date) => navigate({ ...state, period, date }) });
  const chips = createChips(chipRow, { onRemove: (property) => navigate(withoutFilter(state, property)) });
  const cards = createCards(cardRow, { onSelect: (metric) => navigate({ ...state, metric }) });
  const chart = createChart(chartPanel);
  const realtime = createRealtime(live, () => client.realtime());

  const lists = LIST_PANELS.map((spec) => {
    const panel = createListPanel(spec, {
      onTab: () => track([loadList(panel)]),
      onFilter: (property, value) => navigate(withFilter(state, property, value)),
    });
    grid.append(panel.element);
    return panel;
  });
  const funnel = createFunnelPanel();
  const logs = createLogsPanel();
  grid.append(funnel.element, logs.element);

  // latest numbers each request of a panel and returns whether this one is
  // still that panel's latest when its answer comes.
  const issued = new Map();
  function latest(panel) {
    const n = (issued.get(panel) || 0) + 1;
    issued.set(panel, n);
    return () => issued.get(panel) === n;
  }

  // refused hands a 401 up; any other error is the panel's to show.
  function refused(err) {
    if (err instanceof ApiError && err.status === 401) {
      onRefused(err.message);
      return true;
    }
    return false;
  }

  async function loadCards() {
    const mine = latest(cardRow);
    cardRow.dataset.state = 'loading';
    try {
      const results = await client.aggregate(state, cardMetrics(state.filters));
      if (!mine()) return;
      cards.update(results);
      cardRow.dataset.state = 'ready';
    } catch (err) {
      if (!mine() || refused(err)) return;
      cards.failed(err.message);
      cardRow.dataset.state = 'error';
    }
  }

  async function loadChart() {
    const mine = latest(chartPanel);
    const metric = chartMetric(state);
    chartPanel.dataset.state = 'loading';
    try {
      const results = await client.timeseries(state, metric);
      if (!mine()) return;
      chart.update(results, metric, METRICS.find((m) => m.key === metric).label);
      chartPanel.dataset.state = 'ready';
    } catch (err) {
      if (!mine() || refused(err)) return;
      chart.failed(err.message);
      chartPanel.dataset.state = 'error';
    }
  }

  async function loadList(panel) {
    const mine = latest(panel);
    const { property, metrics, limit } = panel.query();
    panel.loading();
    try {
      const rows = await client.breakdown(state, property, metrics, limit);
      if (mine()) panel.show(rows);
    } catch (err) {
      if (mine() && !refused(err)) panel.failed(err.message);
    }
  }

  // The funnel shows only where the address names its steps: it reads raw
  // events (seconds on a busy month), the rest of the page the rollups.
  // The report is Footfall's own; where the API answers 404 or 400 for it
  // (an older server, steps it cannot read) the panel is hidden.
  async function loadFunnel() {
    const mine = latest(funnel);
    const steps = state.funnel;
    if (!steps.length) {
      funnel.hide();
      return;
    }
    funnel.loading();
    try {
      const answer = await client.funnel(state, steps.map(stepFilter));
      if (mine()) funnel.show(answer, steps);
    } catch (err) {
      if (!mine() || refused(err)) return;
      if (err instanceof ApiError && (err.status === 404 || err.status === 400)) funnel.hide();
      else funnel.failed(err.message);
    }
  }

  // The logs panel is hidden until an answer has records; where the API
  // has no logs report (404, an older server) it stays hidden.
  async function loadLogs() {
    const mine = latest(logs);
    logs.loading();
    try {
      const answer = await client.logs(state);
      if (mine()) logs.show(answer);
    } catch (err) {
      if (!mine() || refused(err)) return;
      if (err instanceof ApiError && (err.status === 404 || err.status === 400)) logs.hide();
      else logs.failed(err.message);
    }
  }

  // track marks the page ready when no request is in flight: what the
  // browser test waits for.
  let inFlight = 0;
  async function track(loads) {
    inFlight += loads.length;
    root.dataset.state = 'loading';
    await Promise.all(loads.map((load) => load.finally(() => inFlight--)));
    if (inFlight === 0) root.dataset.state = 'ready';
  }

  return {
    show(next) {
      state = next;
      picker.show(state);
      chips.show(state.filters);
      cards.select(chartMetric(state));
      track([realtime, loadCards(), loadChart(), ...lists.map((p) => loadList(p)), loadFunnel(), loadLogs()]);
    },
  };
}
