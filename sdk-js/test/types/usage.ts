// Compiled by `npm run typecheck` (tsc --noEmit --strict), never run: it is
// how a bundler user calls the ES module, so a change to index.d.ts that
// breaks them, or lets a mistake through, fails the check: every line
// marked ts-expect-error below must be an error, or tsc fails.
import { init, type Footfall, type Options } from '@footfall/sdk-js';

const options: Options = {
  site: 'WRITE_KEY',
  endpoint: 'https://events.shop.example',
  scroll: false,
  forms: 'false',
  storage: 'cookie',
  cookieDomain: '.shop.example',
  requireConsent: true,
  batchSize: 20,
  retryBase: '500',
};
const footfall: Footfall = init(options);

footfall.track('added_to_cart', { sku: 'mist-humidifier', price: 49.9, gift: false });
footfall.track('newsletter');
footfall.identify('user-42', { hash: 'ab12' });
footfall.identify('user-42');
footfall.reset();
footfall.consent(true);
const id: string = footfall.anonymousId();
void id;

// @ts-expect-error site is required
init({ endpoint: 'https://events.shop.example' });
// @ts-expect-error storage is local, cookie or none
init({ site: 'k', storage: 'session' });
// @ts-expect-error props are flat: no nested objects
footfall.track('x', { cart: { items: 2 } });
// @ts-expect-error identify needs a user id
footfall.identify();
