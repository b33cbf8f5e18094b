// The one way the tests start a browser: Debian's Chromium through
// playwright-core, never a downloaded browser build.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.FOOTFALL_CHROMIUM || '/usr/bin/chromium';

// launch starts the browser. userAgent, when given, is every request's
// User-Agent header, the beacons a page sends as it unloads included (a
// context's userAgent option misses those).
export function launch({ userAgent } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
      ...(userAgent ? [`--user-agent=${userAgent}`] : []),
    ],
  });
}
