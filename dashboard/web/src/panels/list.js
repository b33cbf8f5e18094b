// A panel of top rows with tabs, the shape of most of the page: top pages
// (pages, entry pages, exit pages), sources (channels, sources, UTM),
// devices (devices, browsers, OS), searches, clicks, custom events. Each
// tab is one Stats API breakdown; a row's name is a link that filters the
// whole page by it.
import { h } from '../dom.js';
import { rowKey } from '../properties.js';

// ROWS is how many rows a panel shows: the top of each list.
export const ROWS = 9;

// createListPanel builds the panel described by spec (see specs.js) and
// returns its element and the calls the dashboard makes on it. The tab
// chosen is remembered in this browser, as Plausible does.
export function createListPanel(spec, { onTab, onFilter }) {
  const remembered = `footfall.tab.${spec.id}`;
  let tab = spec.tabs.find((t) => t.id === localStorage.getItem(remembered)) || spec.tabs[0];
  const choice = {};
  const tabButtons = spec.tabs.map((t) =>
    h('button', { type: 'button', role: 'tab', 'data-tab': t.id, onclick: () => chooseTab(t) }, t.label));
  const select = h('select', { className: 'choice', 'aria-label': 'UTM parameter', onchange: () => chooseProperty(select.value) });
  const head = h('tr');
  const body = h('tbody');
  const message = h('p', { className: 'message' });
  const element = h('section', { className: `panel list ${spec.id}`, 'data-panel': spec.id },
    h('header', {}, h('h2', {}, spec.title), h('div', { className: 'tabs', role: 'tablist' }, tabButtons)),
    select,
    h('table', {}, h('thead', {}, head), body),
    message,
    spec.note ? h('p', { className: 'note' }, spec.note) : null);

  const property = () => choice[tab.id] || tab.property;

  function chooseTab(t) {
    tab = t;
    localStorage.setItem(remembered, t.id);
    onTab();
  }

  function chooseProperty(p) {
    choice[tab.id] = p;
    onTab();
  }

  function drawFrame() {
    for (const b of tabButtons) b.setAttribute('aria-selected', String(b.dataset.tab === tab.id));
    select.hidden = !tab.choices;
    if (tab.choices) {
      select.replaceChildren(...tab.choices.map((c) => h('option', { value: c.property, selected: c.property === property() }, c.label)));
    }
    head.replaceChildren(h('th', {}, tab.heading), ...tab.columns.map((c) => h('th', { className: 'figure' }, c.label)));
    element.dataset.tab = tab.id;
    element.dataset.property = property();
  }

  function drawRow(row, key, top) {
    const value = String(row[key] ?? '');
    const name = value === '' ? '(none)' : value;
    const first = Number(row[tab.columns[0].metric]) || 0;
    const marked = (c) => c.mark && Number(row[c.metric]) > 0;
    const link = h('a', { className: 'name', href: '#', title: `Filter by ${name}` }, name);
    link.addEventListener('click', (event) => {
      event.preventDefault();
      onFilter(property(), value);
    });
    return h('tr', { 'data-value': value, className: tab.columns.some(marked) ? 'marked' : '' },
      h('td', { className: 'label' }, h('span', { className: 'bar', style: `width: ${(first / top) * 100}%` }), link),
      ...tab.columns.map((c) => h('td', { className: marked(c) ? 'figure mark' : 'figure', 'data-metric': c.metric }, c.format(row[c.metric]))));
  }

  drawFrame();

  return {
    element,
    // query is what to fetch for the tab on show: the property, the
    // metrics (the first ranks the rows; visitors rank by the count that
    // goes with them, pageviews, visits or events, as the API ranks) and
    // enough rows to fill the panel after those keep() leaves out.
    query() {
      drawFrame();
      return { property: property(), metrics: tab.metrics || tab.columns.map((c) => c.metric), limit: ROWS + (tab.spare || 0) };
    },
    loading() {
      element.dataset.state = 'loading';
    },
    failed(problem) {
      body.replaceChildren();
      message.textContent = `Could not load: ${problem}`;
      element.dataset.state = 'error';
    },
    // show draws a breakdown's rows; bars are to scale with the top row's
    // first figure.
    show(rows) {
      const key = rowKey(property());
      rows = rows.filter((r) => !tab.keep || tab.keep(r)).slice(0, ROWS);
      const top = Math.max(1, ...rows.map((r) => Number(r[tab.columns[0].metric]) || 0));
      body.replaceChildren(...rows.map((row) => drawRow(row, key, top)));
      message.textContent = rows.length ? '' : tab.empty || 'Nothing in this period.';
      element.dataset.state = 'ready';
    },
  };
}
