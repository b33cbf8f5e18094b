// Builds dist/footfall.js, the minified IIFE the collector embeds and serves,
// and prints its size. With --check it builds in memory and fails when the
// checked-in dist differs, so a source change cannot ship without its build.
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { bundle, root } from './bundle.mjs';

const dist = root + 'dist/footfall.js';
const code = await bundle();
console.log(`footfall.js: ${code.length} B minified, ${gzipSync(code, { level: 9 }).length} B min+gzip`);

if (!process.argv.includes('--check')) {
  writeFileSync(dist, code);
} else {
  let current;
  try {
    current = readFileSync(dist);
  } catch {
    current = Buffer.alloc(0);
  }
  if (!current.equals(code)) {
    console.error('dist/footfall.js is out of date: run `npm run build` and keep dist/footfall.js with the change');
    process.exitCode = 1;
  } else {
    console.log('dist/footfall.js is up to date');
  }
}
