// footfall.js, the beacon a shop puts on its pages:
//
//   <script defer src="https://COLLECTOR/footfall.js" data-site="WRITE_KEY"></script>
//
// This is the script tag's entry point: its data- attributes are the
// options (data-retry-base -> retryBase, see README.md), and events go to
// the origin the script came from unless data-endpoint says otherwise.
// It needs a secure context (https, or localhost) and is silent elsewhere.
import { init } from './tracker.js';

const s = document.currentScript || document.querySelector('script[data-site]');
if (s?.dataset.site && isSecureContext) init({ endpoint: new URL(s.src, location.href).origin, ...s.dataset });
