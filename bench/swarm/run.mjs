// Bundles one TypeScript bench script with esbuild (already a dev dependency) and runs it, so
// benchmarks need no TS loader: node bench/swarm/run.mjs <script-name> [args...]
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diskThreadDefine } from '../../scripts/disk-thread-source.mjs';

const [name, ...args] = process.argv.slice(2);
if (!name) {
  console.error('usage: node bench/swarm/run.mjs <script-name> [args...]');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
// Inside the project, so that the bundle's external packages (playwright, esbuild) resolve.
mkdirSync(join(here, '..', '..', 'node_modules', '.cache'), { recursive: true });
const dir = mkdtempSync(join(here, '..', '..', 'node_modules', '.cache', 'tessera-bench-'));
try {
  const outfile = join(dir, `${name.replace(/[/.]+/g, '_')}.mjs`);
  await build({
    entryPoints: [join(here, `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'warning',
    // Scripts that run the engine in-process (warm-engine) start its disk worker from this.
    define: diskThreadDefine(),
  });
  const r = spawnSync(process.execPath, [outfile, ...args], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
