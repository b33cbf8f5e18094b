// The one way the tests start a browser: Debian's Chromium through
// playwright-core, never a downloaded browser build.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.FOOTFALL_CHROMIUM || '/usr/bin/chromium';

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    ],
  });
}
