// The filters in force, one removable chip each ("Page is /cart ×"). They
// apply to every panel; the address holds them too.
import { h } from '../dom.js';
import { property } from '../properties.js';

export function createChips(root, { onRemove }) {
  return {
    show(filters) {
      root.replaceChildren(...filters.map((f) => h('span', { className: 'chip', 'data-filter': f.property },
        `${property(f.property).label} is `, h('strong', {}, f.value),
        h('button', { type: 'button', 'aria-label': `Remove filter ${property(f.property).label}`, onclick: () => onRemove(f.property) }, '×'))));
      root.hidden = filters.length === 0;
    },
  };
}
