// bundle builds the page in memory with the one set of options dist/ is
// made with: app.js (the ES modules of src/ and uPlot, minified), app.css
// (uPlot's styles and the page's) and index.html, which names both with a
// hash of their content so that a browser never mixes an old script with a
// new page after an upgrade.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

// BUDGET is the most app.js and app.css may weigh together, minified and
// gzipped. uPlot is about 22 KB of it.
export const BUDGET = 40 * 1024;

// bundle returns {'index.html': Buffer, 'app.js': Buffer, 'app.css': Buffer}.
export async function bundle() {
  const result = await build({
    entryPoints: [root + 'src/main.js'],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2020',
    legalComments: 'none',
    logLevel: 'warning',
    outdir: root + 'dist',
    entryNames: 'app',
    write: false,
  });
  const files = {};
  for (const out of result.outputFiles) files[out.path.slice(out.path.lastIndexOf('/') + 1)] = Buffer.from(out.contents);
  const hash = (name) => createHash('sha256').update(files[name]).digest('hex').slice(0, 10);
  const html = readFileSync(root + 'src/index.html', 'utf8')
    .replace('href="app.css"', `href="app.css?v=${hash('app.css')}"`)
    .replace('src="app.js"', `src="app.js?v=${hash('app.js')}"`);
  files['index.html'] = Buffer.from(html);
  return files;
}
