#!/usr/bin/env node
// The `yubin` command. Runs the bundled CLI in dist/yubin/ (built by `npm install`
// through the `prepare` script, or `npm run build`: scripts/build-cli.ts).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/yubin/main.js', import.meta.url));
if (!existsSync(compiled)) {
  console.error('yubin: dist/ is missing — run `npm install` (or `npm run build`) first');
  process.exit(1);
}
const { main } = await import(pathToFileURL(compiled).href);
await main(process.argv);
