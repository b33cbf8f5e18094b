// h builds an element: h('a', {href, className, onclick}, child, …).
// Properties are set as properties where the element has them (className,
// value, onclick) and as attributes otherwise (aria-*, data-*); children
// that are null or false are left out, strings become text.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (name in el && !name.startsWith('aria-') && !name.startsWith('data-')) el[name] = value;
    else el.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}
