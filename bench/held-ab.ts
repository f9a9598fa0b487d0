// A/B downloads against a swarm held up by hold-swarm.ts: Tessera builds, Node flags and the
// reference clients, alternating round by round, each run from the same page cache. For
// measuring one change (is it faster, does it use less CPU?) without building a swarm per run.
//
//   node bench/swarm/run.mjs ../held-ab <file.torrent> <source-dir> [--runs N] <label=spec>...
//
// spec is one of:
//   tessera                      this checkout's build (bin/tessera.mjs)
//   tessera:<path/to/cli.mjs>    another build, e.g. a worktree of the commit before
//   tessera@<node flags>         either of the above with flags for node, space-separated
//   aria2c | qbittorrent | rtorrent
//
// e.g. `… held-ab /tmp/h/x.torrent /tmp/h/source --runs 8 new=tessera old=tessera:/tmp/o/dist/cli.mjs`
//
// Each contender's first download is compared with the source byte for byte. Prints each run,
// then per label the median (and range) of wall time, added→100 % time, CPU seconds (whole
// process, and added→100 %) and peak RSS.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import {
  downloadWithReference,
  isReferenceClient,
  runTessera,
  type Measured,
} from './download-clients';
import { compareTrees } from '../test/harness';
import { dropCleanPageCache, readTree, writeBackEverything } from './page-cache';
import { median } from './stats';

interface Contender {
  label: string;
  run(o: { out: string; work: string; round: number }): Promise<Measured>;
}

function parseContender(arg: string, torrent: string): Contender {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new Error(`expected label=spec, got "${arg}"`);
  const label = arg.slice(0, eq);
  const spec = arg.slice(eq + 1);
  if (isReferenceClient(spec))
    return {
      label,
      run: ({ out, work, round }) =>
        downloadWithReference(spec, { torrent, out, work, run: round }),
    };
  const m = /^tessera(?::([^@]+))?(?:@(.+))?$/.exec(spec);
  if (!m) throw new Error(`unknown client "${spec}" (tessera, aria2c, qbittorrent, rtorrent)`);
  const cli = m[1] ? path.resolve(m[1]) : undefined;
  const nodeFlags = m[2]?.split(' ').filter(Boolean);
  return {
    label,
    run: ({ out, work }) =>
      runTessera({
        torrent,
        out,
        resumeDir: path.join(work, 'resume'),
        cli,
        nodeFlags,
        client: label,
      }),
  };
}

function parseArgs(argv: string[]) {
  const [torrent, source, ...rest] = argv;
  if (!torrent || !source)
    throw new Error('usage: held-ab <file.torrent> <source-dir> [--runs N] <label=spec>...');
  let runs = 5;
  const specs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--runs') runs = Number(rest[++i]);
    else specs.push(rest[i]!);
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number ≥ 1');
  if (specs.length === 0) throw new Error('name at least one label=spec to run');
  return {
    source: path.resolve(source),
    runs,
    contenders: specs.map((s) => parseContender(s, path.resolve(torrent))),
  };
}

function summary(xs: (number | null)[], digits = 2): string {
  const got = xs.filter((x): x is number => x !== null);
  if (got.length === 0) return 'n/a';
  return `${median(got).toFixed(digits)} (${Math.min(...got).toFixed(digits)}–${Math.max(...got).toFixed(digits)})`;
}

async function main(): Promise<void> {
  const { source, runs, contenders } = parseArgs(process.argv.slice(2));
  const work = path.join(path.dirname(source), 'held-ab');
  const results = new Map<string, Measured[]>(contenders.map((c) => [c.label, []]));
  for (let round = 0; round < runs; round++) {
    // The order rotates, so that no contender always runs first or right after another.
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + round) % contenders.length]!;
      await rm(work, { recursive: true, force: true });
      await writeBackEverything();
      if (!(await dropCleanPageCache()))
        console.warn('(not root: the page cache is not dropped between runs)');
      await readTree(source);
      const out = path.join(work, 'out');
      const m = await c.run({ out, work, round });
      // Each contender's first download is compared with the source, byte for byte.
      if (round === 0) await compareTrees(source, out);
      results.get(c.label)!.push(m);
      console.log(
        `round ${round + 1} ${c.label.padEnd(12)} wall ${(m.wallMs / 1000).toFixed(2)} s` +
          (m.cpuSec !== null ? `  CPU ${m.cpuSec.toFixed(2)} s` : '') +
          (m.peakRssMb !== null ? `  RSS ${m.peakRssMb.toFixed(0)} MB` : ''),
      );
    }
  }
  await rm(work, { recursive: true, force: true });
  const columns = ['wall s', 'added→100 % s', 'CPU s', 'transfer CPU s', 'peak RSS MB'];
  console.log(
    `\n${'median (min–max)'.padEnd(18)}${columns
      .map((c) => c.padEnd(20))
      .join('')
      .trimEnd()}`,
  );
  for (const [label, ms] of results) {
    const cells = [
      summary(ms.map((m) => m.wallMs / 1000)),
      summary(ms.map((m) => (m.transferMs === null ? null : m.transferMs / 1000))),
      summary(ms.map((m) => m.cpuSec)),
      summary(ms.map((m) => m.transferCpuSec)),
      summary(
        ms.map((m) => m.peakRssMb),
        0,
      ),
    ];
    console.log(
      `${label.padEnd(18)}${cells
        .map((c) => c.padEnd(20))
        .join('')
        .trimEnd()}`,
    );
  }
}

await main();
