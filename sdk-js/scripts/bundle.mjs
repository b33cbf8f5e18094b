// bundle builds the beacon in memory with the one set of options that dist/
// is made with; the browser tests serve the same bytes.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

// BUDGET is the most the IIFE may weigh, minified and gzipped.
export const BUDGET = 3072;

// bundle returns the IIFE for the script tag (src/footfall.js), or with esm
// the ES module for bundlers (src/index.js).
export async function bundle(esm = false) {
  const result = await build({
    entryPoints: [root + (esm ? 'src/index.js' : 'src/footfall.js')],
    bundle: true,
    minify: true,
    format: esm ? 'esm' : 'iife',
    target: 'es2020',
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
  });
  return Buffer.from(result.outputFiles[0].contents);
}
