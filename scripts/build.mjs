// Builds every runnable piece of Tessera into dist/:
//   dist/cli.mjs                 the `tessera` command line (download, info, serve)
//   dist/main/electron-main.cjs  the Electron main process
//   dist/preload/preload.cjs     the Electron preload (sandboxed, so CommonJS)
//   dist/renderer/               the React UI, built by Vite (served by Electron and `tessera serve`)
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { diskThreadDefine } from './disk-thread-source.mjs';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  packages: 'external',
  logLevel: 'warning',
  define: diskThreadDefine(),
};

await build({
  ...common,
  entryPoints: ['src/main/cli/main.ts'],
  format: 'esm',
  outfile: 'dist/cli.mjs',
});

if (existsSync('src/main/electron/main.ts')) {
  await build({
    ...common,
    entryPoints: ['src/main/electron/main.ts'],
    format: 'cjs',
    outfile: 'dist/main/electron-main.cjs',
    external: ['electron'],
  });
}
if (existsSync('src/preload/preload.ts')) {
  await build({
    ...common,
    entryPoints: ['src/preload/preload.ts'],
    format: 'cjs',
    outfile: 'dist/preload/preload.cjs',
    external: ['electron'],
  });
}
if (existsSync('src/renderer/index.html')) {
  const vite = spawnSync(
    process.execPath,
    ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'warn'],
    {
      stdio: 'inherit',
    },
  );
  if (vite.status !== 0) process.exit(vite.status ?? 1);
}
