// What the end-to-end tests share: where the pipeline is, waiting on a
// condition with a deadline, and asking ClickHouse.

export const env = {
  collector: process.env.FOOTFALL_E2E_COLLECTOR,
  promotions: process.env.FOOTFALL_E2E_PROMOTIONS || 'http://127.0.0.1:8081',
  clickhouse: process.env.FOOTFALL_E2E_CLICKHOUSE_HTTP || 'http://127.0.0.1:8123',
};

// poll calls fn every interval ms until it returns a truthy value, which it
// resolves with, or fails after ms with what fn last saw.
export async function poll(what, ms, interval, fn) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn((seen) => (last = seen));
      if (v) return v;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: nothing after ${ms} ms; last seen: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

// query runs sql on ClickHouse's HTTP interface and returns its rows.
export async function query(sql) {
  const res = await fetch(env.clickhouse + '/', { method: 'POST', body: sql + ' FORMAT JSON' });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse HTTP ${res.status}: ${text.trim()}`);
  return JSON.parse(text).data;
}
