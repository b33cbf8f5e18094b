// Builds dist/ (index.html, app.js, app.css), which embed.go carries into
// the binary; prints the size and fails when over budget. With --check it
// builds in memory and fails when a checked-in file differs, so a source
// change cannot ship without its build.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { bundle, root, BUDGET } from './bundle.mjs';

const check = process.argv.includes('--check');
const files = await bundle();

const size = (name) => ({ min: files[name].length, gz: gzipSync(files[name], { level: 9 }).length });
const js = size('app.js');
const css = size('app.css');
const total = js.gz + css.gz;
console.log(`app.js ${js.min} B minified, ${js.gz} B min+gzip; app.css ${css.min} B, ${css.gz} B gzip; ` +
  `together ${total} B min+gzip (budget ${BUDGET} B)`);
if (total > BUDGET) {
  console.error(`the page is ${total - BUDGET} B over its budget of ${BUDGET} B min+gzip`);
  process.exit(1);
}

mkdirSync(root + 'dist', { recursive: true });
for (const [name, content] of Object.entries(files)) {
  const path = `${root}dist/${name}`;
  if (!check) {
    writeFileSync(path, content);
    continue;
  }
  let current;
  try {
    current = readFileSync(path);
  } catch {
    current = Buffer.alloc(0);
  }
  if (!current.equals(content)) {
    console.error(`dist/${name} is out of date: run \`npm run build\` in dashboard/web and keep dist/ with the change`);
    process.exitCode = 1;
  }
}
if (check && !process.exitCode) console.log('dist/ is up to date');
