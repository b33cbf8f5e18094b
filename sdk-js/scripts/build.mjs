// Builds dist/footfall.js, the minified IIFE the collector embeds and
// serves, and dist/footfall.esm.js for bundlers; prints the IIFE's size and
// fails when it is over budget (BUDGET B minified + gzipped). With --check
// it builds in memory and fails when a checked-in file differs, so a source
// change cannot ship without its build.
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { bundle, root, BUDGET } from './bundle.mjs';

const check = process.argv.includes('--check');
const files = { 'dist/footfall.js': await bundle(), 'dist/footfall.esm.js': await bundle(true) };

const iife = files['dist/footfall.js'];
const gz = gzipSync(iife, { level: 9 }).length;
console.log(`footfall.js: ${iife.length} B minified, ${gz} B min+gzip (budget ${BUDGET} B)`);
if (gz > BUDGET) {
  console.error(`footfall.js is ${gz - BUDGET} B over its budget of ${BUDGET} B min+gzip`);
  process.exit(1);
}

for (const [name, code] of Object.entries(files)) {
  if (!check) {
    writeFileSync(root + name, code);
    continue;
  }
  let current;
  try {
    current = readFileSync(root + name);
  } catch {
    current = Buffer.alloc(0);
  }
  if (!current.equals(code)) {
    console.error(`${name} is out of date: run \`npm run build\` and keep dist/ with the change`);
    process.exitCode = 1;
  }
}
if (check && !process.exitCode) console.log('dist/ is up to date');
