// The disk worker's code (src/main/engine/storage/disk-thread.ts) bundled into one CommonJS
// text, for esbuild's and vitest's `define` of TESSERA_DISK_THREAD_SOURCE. The engine starts
// the worker from this text (`new Worker(source, { eval: true })`), so the worker needs no
// file of its own next to the bundle: it runs the same from dist/, from Electron's asar
// archive and from the TypeScript sources under test.
import { buildSync } from 'esbuild';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../src/main/engine/storage/disk-thread.ts', import.meta.url));

/** `{ TESSERA_DISK_THREAD_SOURCE: '"…"' }`, ready to spread into a `define`. */
export function diskThreadDefine() {
  const out = buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    logLevel: 'warning',
  });
  return { TESSERA_DISK_THREAD_SOURCE: JSON.stringify(out.outputFiles[0].text) };
}
