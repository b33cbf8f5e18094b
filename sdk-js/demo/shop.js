// Demo-only glue shared by the demo shop's pages: a tiny product list and
// the loader that puts the beacon on the page. A real shop does none of
// this: it pastes the snippet with its own write key,
//   <script defer src="https://COLLECTOR/footfall.js" data-site="WRITE_KEY"></script>
// The demo cannot know its write key in advance, so it asks the collector
// (/demo/config.json) and injects the same tag.

export const PRODUCTS = [
  { id: 'mist-humidifier', name: 'Cool-Mist Humidifier 4 L', price: 49.9, tags: 'humidifier humidity air' },
  { id: 'aroma-humidifier', name: 'Ultrasonic Aroma Humidifier', price: 34.5, tags: 'humidifier diffuser air' },
  { id: 'steel-kettle', name: 'Brushed Steel Kettle 1.7 L', price: 29.0, tags: 'kettle tea kitchen' },
  { id: 'glass-kettle', name: 'Glass Kettle with Temperature Control', price: 44.0, tags: 'kettle tea kitchen' },
  { id: 'tower-fan', name: 'Quiet Tower Fan', price: 59.0, tags: 'fan cooling air' },
  { id: 'desk-fan', name: 'USB Desk Fan', price: 14.9, tags: 'fan cooling desk' },
  { id: 'wool-blanket', name: 'Merino Wool Blanket', price: 89.0, tags: 'blanket bedroom warm' },
  { id: 'fleece-blanket', name: 'Fleece Throw Blanket', price: 24.9, tags: 'blanket sofa warm' },
];

// search returns the products whose name or tags contain every word of q
// (a trailing plural "s" is ignored, so "fans" finds fans).
export function search(q) {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean).map((w) => (w.length > 3 ? w.replace(/s$/, '') : w));
  if (!words.length) return [];
  return PRODUCTS.filter((p) => {
    const hay = (p.name + ' ' + p.tags).toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

// productLink renders one product as a link to its page.
export function productLink(p) {
  const a = document.createElement('a');
  a.className = 'product';
  a.href = 'product.html?id=' + encodeURIComponent(p.id);
  a.textContent = `${p.name} — €${p.price.toFixed(2)}`;
  return a;
}

// loadBeacon fetches the demo's config and injects the beacon tag with the
// demo site's write key; it resolves with the config once the beacon runs.
export async function loadBeacon() {
  const res = await fetch('/demo/config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  const cfg = await res.json();
  await new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = '/footfall.js';
    s.dataset.site = cfg.site;
    s.onload = resolve;
    s.onerror = () => reject(new Error('footfall.js did not load'));
    document.head.append(s);
  });
  return cfg;
}
