// The UI's two responsiveness figures (issue 3):
//  1. the piece map's frame time with 100,000 pieces, drawn in Debian's Chromium;
//  2. the main process's event-loop delay during a 256 MiB loopback download from real seeders
//     (the engine runs in the Electron main process, so this is how much the window could stutter).
// Run: node bench/swarm/run.mjs ../ui-bench [sizeMiB]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright';
import { chromiumLaunchOptions } from '../e2e/chromium';
import { allocateHost, makeTempDir, startSwarm } from '../test/harness';

// npm scripts run from the project root; so does this script.
const root = process.cwd();
const sizeMiB = Number(process.argv[2] ?? 256);

async function pieceMapFrameTime(): Promise<{ fullDrawMs: number; incrementalFrameMs: number }> {
  const bundle = await build({
    entryPoints: [path.join(root, 'src/renderer/piece-map/draw.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    globalName: 'PieceMapDraw',
    logLevel: 'warning',
  });
  const browser = await chromium.launch(chromiumLaunchOptions);
  try {
    const page = await browser.newPage();
    await page.setContent('<canvas id="c" width="900" height="300"></canvas>');
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
    return await page.evaluate(() => {
      const ctx = (document.getElementById('c') as HTMLCanvasElement).getContext('2d')!;
      const lib = (
        globalThis as unknown as {
          PieceMapDraw: {
            benchmarkPieceMap: (
              c: CanvasRenderingContext2D,
              n: number,
              frames: number,
            ) => { fullDrawMs: number; incrementalFrameMs: number };
          };
        }
      ).PieceMapDraw;
      lib.benchmarkPieceMap(ctx, 100_000, 5); // warm up
      return lib.benchmarkPieceMap(ctx, 100_000, 120);
    });
  } finally {
    await browser.close();
  }
}

async function eventLoopDelayDuringDownload(): Promise<{
  seconds: number;
  delay: { p50: number; p99: number; max: number };
}> {
  const tmp = await makeTempDir();
  const swarm = await startSwarm({
    workDir: tmp.path,
    files: { single: sizeMiB << 20, name: 'ui-bench.bin' },
    pieceLengthLog2: 18,
    seeders: ['qbittorrent', 'aria2', 'transmission'],
    seed: 9,
  });
  try {
    const child = spawn(
      process.execPath,
      [
        path.join(root, 'bin/tessera.mjs'),
        'download',
        swarm.torrentPath,
        '--out',
        path.join(tmp.path, 'out'),
        '--json',
        '--bind',
        allocateHost(),
        '--timeout',
        '300',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    if (code !== 0) throw new Error(`tessera exited with ${code}`);
    const done = JSON.parse(out.trim().split('\n').at(-1)!) as {
      elapsedSec: number;
      eventLoopDelayMs: { p50: number; p99: number; max: number };
    };
    return { seconds: done.elapsedSec, delay: done.eventLoopDelayMs };
  } finally {
    await swarm.stop();
    await tmp.remove();
  }
}

const map = await pieceMapFrameTime();
console.log(
  `piece map, 100,000 pieces in Chromium: full draw ${map.fullDrawMs.toFixed(1)} ms, incremental frame ${map.incrementalFrameMs.toFixed(2)} ms (budget 16.7 ms)`,
);
const loop = await eventLoopDelayDuringDownload();
console.log(
  `event-loop delay during a ${sizeMiB} MiB loopback download (${loop.seconds.toFixed(2)} s): p50 ${loop.delay.p50} ms, p99 ${loop.delay.p99} ms, max ${loop.delay.max} ms`,
);
