// bundle builds the beacon in memory with the one set of options that
// dist/footfall.js is made with; the browser tests serve the same bytes.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

export async function bundle() {
  const result = await build({
    entryPoints: [root + 'src/footfall.js'],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2017',
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
  });
  return Buffer.from(result.outputFiles[0].contents);
}
