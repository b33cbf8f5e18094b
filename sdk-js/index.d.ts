// Types for the ES module build (dist/footfall.esm.js). The script tag
// takes the same options as data- attributes: retryBase is
// data-retry-base. Every option may be given as a string, as an attribute is.

export interface Options {
  /** The site's write key. Required. */
  site: string;
  /** The collector's origin (events go to ENDPOINT/v1/batch). Default: the page's origin. */
  endpoint?: string;
  /** Autocapture switches, each on by default; false (or "false") turns one off. */
  pageviews?: boolean | string;
  clicks?: boolean | string;
  searches?: boolean | string;
  forms?: boolean | string;
  scroll?: boolean | string;
  /** Query parameters that carry a site-search keyword, comma-separated. Default "q,s,search,query". */
  searchParams?: string;
  /** Query parameters removed from every URL sent, comma-separated. Default "email,token,password,secret". */
  stripParams?: string;
  /** Where ids live: "local" (localStorage, the default), "cookie" (first-party cookies) or "none" (cookieless: nothing stored). */
  storage?: 'local' | 'cookie' | 'none';
  /** Cookie domain with storage "cookie", such as ".shop.example" to share the ids with subdomains. */
  cookieDomain?: string;
  /** true: nothing is stored or sent until consent(true). */
  requireConsent?: boolean | string;
  /** true: browsers that send Do Not Track or Global Privacy Control are not tracked at all. */
  respectDnt?: boolean | string;
  /** Events per batch (default 10) and the most a batch waits, in ms (default 1000). */
  batchSize?: number | string;
  batchDelay?: number | string;
  /** Most events kept while the collector is unreachable; the oldest are dropped past it (default 500). */
  maxQueue?: number | string;
  /** First retry delay in ms, doubled per failure up to 5 minutes (default 1000). */
  retryBase?: number | string;
}

/** Flat event properties: what the collector accepts. Other values are dropped. */
export type Props = Record<string, string | number | boolean>;

export interface Footfall {
  /** Sends a custom event. */
  track(name: string, props?: Props): void;
  /** Sets the shop's user id; hash is the shop server's HMAC of it, so the pipeline can trust it. */
  identify(userId: string, options?: { hash?: string }): void;
  /** Forgets the user (on logout): a new anonymous id and session. */
  reset(): void;
  /** Gives (true) or withdraws (false) consent; withdrawing removes everything stored. */
  consent(given: boolean): void;
  /** The device's anonymous id, or "" while not tracking. */
  anonymousId(): string;
}

/** Starts the tracker once per page and sets window.footfall; needs a secure context (https or localhost). */
export function init(options: Options): Footfall;
