// The six metric cards across the top, each with its change against the
// previous period. A card is a button: choosing one puts its metric on the
// chart below, as on Plausible.
import { h } from '../dom.js';
import { METRICS, change } from '../format.js';

// NOT_ASKED stands under a card whose metric the view cannot have (views
// per visit of one page).
const NOT_ASKED = 'n/a with a page filter';

export function createCards(root, { onSelect }) {
  const cards = new Map();
  for (const metric of METRICS) {
    const value = h('span', { className: 'value' }, '–');
    const delta = h('span', { className: 'change' });
    const card = h('button', { type: 'button', className: 'card', 'data-metric': metric.key, onclick: () => onSelect(metric.key) },
      h('span', { className: 'label' }, metric.label), value, delta);
    cards.set(metric.key, { card, value, delta, metric });
    root.append(card);
  }

  return {
    // update shows the aggregate's results, {visitors: {value, change}, …}.
    update(results) {
      for (const [key, { value, delta, metric }] of cards) {
        const figure = results[key];
        if (!figure) {
          value.textContent = '–';
          delta.textContent = NOT_ASKED;
          delta.className = 'change flat';
          delta.title = '';
          continue;
        }
        value.textContent = metric.format(figure.value);
        const c = change(key, figure.change);
        delta.textContent = c.text;
        delta.className = `change ${c.tone}`;
        delta.title = 'against the previous period';
      }
    },
    failed(problem) {
      for (const { value, delta } of cards.values()) {
        value.textContent = '–';
        delta.textContent = 'could not load';
        delta.className = 'change flat';
        delta.title = problem;
      }
    },
    // select marks the card whose metric the chart shows.
    select(selected) {
      for (const [key, { card }] of cards) card.setAttribute('aria-pressed', String(key === selected));
    },
  };
}
