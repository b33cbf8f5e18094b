// The funnel: how many visitors went from one step to the next, say home
// page → a product page → the cart. Its steps come from the address
// (?funnel=/|/p/*|/cart); a step that starts with "/" is a page (with *
// wildcards), anything else a custom event's name. Without steps in the
// address the panel stays hidden.
import { h } from '../dom.js';
import { count, percent } from '../format.js';

// stepFilter writes a step the way the funnel API takes it.
export function stepFilter(step) {
  return step.startsWith('/') ? `event:page==${step}` : `event:name==${step}`;
}

export function createFunnelPanel() {
  const body = h('ol', { className: 'steps' });
  const message = h('p', { className: 'message' });
  const element = h('section', { className: 'panel funnel', 'data-panel': 'funnel', hidden: true },
    h('header', {}, h('h2', {}, 'Funnel'), h('span', { className: 'hint' }, 'visitors who went on to each step')),
    body, message);

  return {
    element,
    loading() {
      element.hidden = false;
      element.dataset.state = 'loading';
    },
    // hide takes the panel away where the API has no funnel report.
    hide() {
      element.hidden = true;
      element.dataset.state = 'hidden';
    },
    failed(problem) {
      element.hidden = false;
      body.replaceChildren();
      message.textContent = `Could not load: ${problem}`;
      element.dataset.state = 'error';
    },
    // show draws the steps: [{step, visitors, conversion_rate}], labelled
    // with the steps as the address names them.
    show(steps, labels) {
      element.hidden = false;
      const top = Math.max(1, Number(steps[0]?.visitors) || 0);
      body.replaceChildren(...steps.map((s, i) => h('li', { 'data-step': String(i) },
        h('span', { className: 'label' },
          h('span', { className: 'bar', style: `width: ${((Number(s.visitors) || 0) / top) * 100}%` }),
          h('span', { className: 'name' }, labels[i] ?? s.step)),
        h('span', { className: 'figure', 'data-metric': 'visitors' }, count(s.visitors)),
        h('span', { className: 'figure rate', 'data-metric': 'conversion_rate' }, percent(s.conversion_rate)))));
      message.textContent = '';
      element.dataset.state = 'ready';
    },
  };
}
