// The period picker: the Stats API's periods, and a custom range of two
// dates that is applied when both are set.
import { h } from '../dom.js';
import { PERIODS } from '../state.js';

export function createPeriodPicker(root, { onChange }) {
  const select = h('select', { className: 'period', 'aria-label': 'Period' },
    PERIODS.map((p) => h('option', { value: p.value }, p.label)));
  const from = h('input', { type: 'date', 'aria-label': 'From' });
  const to = h('input', { type: 'date', 'aria-label': 'To' });
  const apply = h('button', { type: 'button' }, 'Apply');
  const range = h('span', { className: 'range' }, from, '–', to, apply);
  root.append(select, range);

  select.addEventListener('change', () => {
    if (select.value === 'custom') {
      range.hidden = false;
      from.focus();
      return;
    }
    onChange(select.value, '');
  });
  apply.addEventListener('click', () => {
    if (!from.value || !to.value) return;
    const [a, b] = [from.value, to.value].sort();
    onChange('custom', `${a},${b}`);
  });

  return {
    show(state) {
      select.value = state.period;
      range.hidden = state.period !== 'custom';
      if (state.period === 'custom') [from.value, to.value] = state.date.split(',');
    },
  };
}
