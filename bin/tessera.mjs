#!/usr/bin/env node
// The `tessera` command. The TypeScript sources are bundled into dist/ by `npm run build`
// (which `npm install` runs through the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.mjs', import.meta.url));
if (!existsSync(cli)) {
  console.error(
    'tessera: not built yet. Run `npm install` (or `npm run build`) in the project first.',
  );
  process.exit(2);
}
await import(pathToFileURL(cli).href);
