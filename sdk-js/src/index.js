// The ESM entry for bundlers: call init once, early, with the options that
// the script tag takes as data- attributes (camelCase here):
//
//   import { init } from '@footfall/sdk-js';
//   const footfall = init({ site: 'WRITE_KEY', endpoint: 'https://collector.example' });
//
// Without endpoint, events go to the page's own origin. init also sets
// window.footfall, so calls queued by the snippet's stub are replayed.
export { init } from './tracker.js';
