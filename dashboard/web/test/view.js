// The page's figures two ways: as the page shows them (read from its DOM)
// and as it should show them (the Stats API's answers for the same view,
// fetched by the test and formatted with the page's own format.js). The
// browser test asserts that the two are equal.
import { change, count, duration, percent, ratio } from '../src/format.js';
import { errorLine, logsTable } from '../src/panels/logs.js';
import { stats } from './pipeline.js';

// CARDS: each card's metric and how it reads.
const CARDS = { visitors: count, visits: count, pageviews: count, views_per_visit: ratio, bounce_rate: percent, visit_duration: duration };

const ROWS = 9;

// ask is how a list panel's tab asks the API for its rows and which
// figures it shows after a row's name: most show visitors; entry and exit
// pages visits (unique entrances and exits); searches, clicks and custom
// events say more, and two tabs leave rows out.
function ask(panel, tab) {
  switch (`${panel}/${tab}`) {
    case 'pages/entry':
    case 'pages/exit':
      return { metrics: ['visits'], columns: ['visits'] };
    case 'searches/searches':
      return { metrics: ['visitors', 'events', 'zero_results'], columns: ['events', 'zero_results'] };
    case 'searches/nothing':
      return { metrics: ['zero_results', 'visitors', 'events'], columns: ['zero_results', 'events'], keep: (r) => r.zero_results > 0 };
    case 'clicks/clicks':
      return { metrics: ['visitors', 'events'], columns: ['visitors', 'events'] };
    case 'events/events':
      return { metrics: ['visitors', 'events'], columns: ['visitors', 'events'], keep: (r) => r.name !== 'pageview', spare: 1 };
    default:
      return { metrics: ['visitors'], columns: ['visitors'] };
  }
}

// shownView reads the figures off the page.
export function shownView(page) {
  return page.evaluate(() => {
    const text = (el) => el?.textContent.trim() ?? null;
    const cards = {};
    for (const card of document.querySelectorAll('[data-panel=cards] [data-metric]')) {
      cards[card.dataset.metric] = { value: text(card.querySelector('.value')), change: text(card.querySelector('.change')) };
    }
    const lists = {};
    for (const panel of document.querySelectorAll('.panel.list')) {
      lists[panel.dataset.panel] = {
        tab: [panel.dataset.tab, panel.dataset.property],
        rows: [...panel.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map(text)),
      };
    }
    const funnel = document.querySelector('[data-panel=funnel]');
    const logs = document.querySelector('[data-panel=logs]');
    return {
      cards,
      chart: [...document.querySelectorAll('[data-panel=chart] tbody tr')].map((tr) => [...tr.children].map(text)),
      lists,
      funnel: funnel.hidden ? null : [...funnel.querySelectorAll('li')].map((li) => [...li.querySelectorAll('.name, .figure')].map(text)),
      realtime: text(document.querySelector('[data-panel=realtime] .figure')),
      logs: logs.hidden ? null : {
        levels: [...logs.querySelectorAll('thead th[data-level]')].map(text),
        rows: [...logs.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map(text)),
        errors: [...logs.querySelectorAll('.errors li')].map((li) => [...li.children].map(text)),
      },
    };
  });
}

// expectedView asks the API for what the page should show (the chart with
// its first metric, visitors): the period (and a custom one's date), the
// filters (as the API's filters string), the [tab, property] each list
// panel shows, and the funnel's steps as the API takes them with their
// labels, or none: without steps in the address the panel is hidden.
export async function expectedView(env, { period, date = '', filters, tabs, funnel }) {
  const common = { period, date, filters };
  // The API refuses views per visit with a page filter; the card says so.
  const asked = Object.keys(CARDS).filter((m) => !(m === 'views_per_visit' && /(^|;)event:page==/.test(filters)));
  const aggregate = (await stats(env, 'aggregate', { ...common, metrics: asked.join(','), compare: 'previous_period' })).results;
  const cards = Object.fromEntries(Object.entries(CARDS).map(([metric, format]) => [metric, asked.includes(metric)
    ? { value: format(aggregate[metric].value), change: change(metric, aggregate[metric].change).text }
    : { value: '–', change: 'n/a with a page filter' }]));

  const series = (await stats(env, 'timeseries', { ...common, metrics: 'visitors' })).results;
  const chart = series.map((r) => [r.date, count(r.visitors)]);

  const lists = {};
  await Promise.all(Object.entries(tabs).map(async ([panel, [tab, property]]) => {
    const { metrics, columns, keep = () => true, spare = 0 } = ask(panel, tab);
    const key = property.slice(property.indexOf(':') + 1);
    const { results } = await stats(env, 'breakdown', { ...common, property, metrics: metrics.join(','), limit: ROWS + spare });
    lists[panel] = {
      tab: [tab, property],
      rows: results.filter(keep).slice(0, ROWS).map((r) => [r[key] === '' ? '(none)' : String(r[key]), ...columns.map((m) => count(r[m]))]),
    };
  }));

  let steps = null;
  if (funnel) {
    const answer = await stats(env, 'funnel', { ...common, steps: funnel.steps });
    steps = answer.steps.map((s, i) => [funnel.labels[i], count(s.visitors), percent(s.conversion_rate)]);
  }
  const realtime = count(await stats(env, 'realtime/visitors'));

  // The logs panel shows the whole site's logs of the period, whatever
  // the filters; hidden when there are none.
  const { counts, recent_errors: recent } = (await stats(env, 'logs', { period, date })).results;
  const logs = counts.length ? { ...logsTable(counts), errors: recent.map(errorLine) } : null;
  return { cards, chart, lists, funnel: steps, realtime, logs };
}
