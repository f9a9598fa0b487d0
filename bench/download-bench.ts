// Tessera against the native engines on the same swarm (issue 5). Builds a loopback swarm of real
// seeders (qBittorrent, aria2, Transmission) behind opentracker, then downloads the same torrent in
// turn with Tessera, aria2c, qbittorrent-nox and rtorrent, alternating, several runs each, and
// prints a table.
//
//   npm run bench                       # every case, 3 runs each
//   npm run bench -- --quick            # one small case
//   npm run bench -- --cases single-256M-256K --runs 5
//   npm run bench:ci                    # 64 MiB, 2 runs; fails only on a gross regression
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import {
  allocateHost,
  compareTrees,
  makeTempDir,
  startSwarm,
  type FileSpec,
  type SeederKind,
  type Swarm,
} from '../test/harness';
import { allocPieceBuffer } from '../src/main/engine/storage/piece-buffers';
import {
  downloadWithReference,
  isReferenceClient,
  REFERENCE_CLIENTS,
  runTessera,
  tesseraEnv,
  type Measured,
} from './download-clients';
import { dropCleanPageCache, readTree, writeBackEverything } from './page-cache';
import { cpuSecOf, pidByCommandLine, watchProcess } from './proc-status';
import { median } from './stats';
import { cpuBoundNote } from './cpu-bound';

const MiB = 1 << 20;
const root = process.cwd();

interface Case {
  name: string;
  files: FileSpec[] | { single: number; name: string };
  pieceLengthLog2: number;
  bytes: number;
}

function smallFiles(count: number): FileSpec[] {
  // Deterministic sizes between 16 and 512 KiB.
  let x = 12345;
  return Array.from({ length: count }, (_, i) => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return { path: `dir${i % 20}/file-${i}.bin`, bytes: 16 * 1024 + (x % (496 * 1024)) };
  });
}

function total(files: Case['files']): number {
  return 'single' in files ? files.single : files.reduce((n, f) => n + f.bytes, 0);
}

function makeCase(name: string, files: Case['files'], pieceLengthLog2: number): Case {
  return { name, files, pieceLengthLog2, bytes: total(files) };
}

const CASES: Case[] = [
  makeCase('single-64M-256K', { single: 64 * MiB, name: 'single-64M.bin' }, 18),
  makeCase('single-256M-256K', { single: 256 * MiB, name: 'single-256M.bin' }, 18),
  makeCase('single-256M-4M', { single: 256 * MiB, name: 'single-256M-4M.bin' }, 22),
  makeCase('single-1G-4M', { single: 1024 * MiB, name: 'single-1G.bin' }, 22),
  makeCase(
    'multi-256M-256K',
    Array.from({ length: 16 }, (_, i) => ({ path: `part-${i}/data-${i}.bin`, bytes: 16 * MiB })),
    18,
  ),
  makeCase('small-files-2000', smallFiles(2000), 18),
];

/** The swarm's seeders unless --seeders says otherwise. */
const DEFAULT_SEEDERS: SeederKind[] = ['qbittorrent', 'aria2', 'transmission'];
const SEEDER_KINDS: SeederKind[] = ['qbittorrent', 'aria2', 'transmission', 'rtorrent'];

function parseSeeders(list: string): SeederKind[] {
  const kinds = list.split(',');
  const unknown = kinds.filter((k) => !(SEEDER_KINDS as string[]).includes(k));
  if (unknown.length > 0)
    throw new Error(`unknown seeder ${unknown.join(', ')}; seeders: ${SEEDER_KINDS.join(', ')}`);
  return kinds as SeederKind[];
}

/** Every downloader the benchmark knows, and its default set. */
const CLIENTS = ['tessera', 'tessera-warm', ...REFERENCE_CLIENTS];

function parseArgs(argv: string[]) {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const clients = (get('--clients') ?? CLIENTS.join(',')).split(',');
  const unknown = clients.filter((client) => !CLIENTS.includes(client));
  if (unknown.length > 0)
    throw new Error(`unknown client ${unknown.join(', ')}; clients: ${CLIENTS.join(', ')}`);
  return {
    quick: argv.includes('--quick'),
    ci: argv.includes('--ci'),
    runs: Number(get('--runs') ?? (argv.includes('--ci') ? 2 : 3)),
    cases: get('--cases')?.split(','),
    seeders: parseSeeders(get('--seeders') ?? DEFAULT_SEEDERS.join(',')),
    clients,
  };
}

async function measureOnce(
  client: string,
  swarm: Swarm,
  work: string,
  run: number,
  verify: boolean,
  warm: WarmEngine | null,
): Promise<Measured> {
  const out = path.join(work, `${client}-${run}`);
  const seedersBefore = await seedersCpuSec(swarm);
  const stealBefore = await stealSec();
  let m: Measured;
  if (client === 'tessera')
    m = await runTessera({
      torrent: swarm.torrentPath,
      out,
      resumeDir: path.join(work, `resume-${run}`),
    });
  else if (client === 'tessera-warm') {
    if (!warm) throw new Error('tessera-warm: no warm engine');
    m = await warm.measure(swarm.torrentPath, out);
  } else if (isReferenceClient(client)) {
    m = await downloadWithReference(client, { torrent: swarm.torrentPath, out, work, run });
  } else {
    throw new Error(`unknown client ${client}`);
  }
  const seedersAfter = await seedersCpuSec(swarm);
  const stealAfter = await stealSec();
  m.seedersCpuSec =
    seedersBefore === null || seedersAfter === null ? null : seedersAfter - seedersBefore;
  m.stealSec = stealBefore === null || stealAfter === null ? null : stealAfter - stealBefore;
  m.round = run;
  if (verify)
    await compareTrees(
      path.join(swarm.sourceDir, swarm.contentName),
      path.join(out, swarm.contentName),
    );
  // The download stays until the case is over (see main): deleting thousands of files between
  // runs made the next runs' file creation slower and slower.
  return m;
}

/**
 * Drops the clean page cache (the download just synced, and every earlier one), then reads the
 * swarm's content back in so that the seeders serve from memory as before. False where the
 * kernel does not allow it (not root): then nothing is dropped.
 *
 * Why: on the benchmark's VM (Firecracker, with free page reporting), a fresh page costs more
 * the more memory the guest already holds. Touching 2 GiB of new memory cost 1.0-1.4 s of
 * system time, and the next 2 GiB 2.6-3.0 s. With each run's download left in the page cache,
 * clients that write through it slowed down run by run: aria2c's system time on a held 1 GiB
 * swarm went 1.37, 1.51, 3.63, 4.15, 5.80 s over five runs, and stayed at 1.1-2.0 s with the
 * cache dropped between runs. That was the "step change" in the middle of cases.
 */
let warnedPageCache = false;

async function dropPageCache(swarm: Swarm): Promise<boolean> {
  if (!(await dropCleanPageCache())) return false;
  await readTree(path.join(swarm.sourceDir, swarm.contentName));
  // The clients' programs were dropped too: without this, Tessera's timed start read Node's
  // 99 MB binary from disk (0.27 s to print its version, 0.14 s warm), while qBittorrent's
  // daemon starts before its timing does.
  for (const program of [process.execPath, path.join(root, 'dist'), ...programPaths()])
    await readTree(program).catch(() => undefined);
  return true;
}

/** The reference clients' executables, where they are on the PATH. */
function programPaths(): string[] {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return ['aria2c', 'qbittorrent-nox', 'rtorrent'].flatMap((name) =>
    dirs
      .map((dir) => path.join(dir, name))
      .filter((file) => existsSync(file))
      .slice(0, 1),
  );
}

/**
 * CPU seconds the seeders have used so far (user + system, from /proc). The seeders share the
 * machine's cores with the downloader: this shows how much of the machine was left to it.
 */
async function seedersCpuSec(swarm: Swarm): Promise<number | null> {
  let total = 0;
  for (const seeder of swarm.seeders) {
    try {
      total += await cpuSecOf(seeder.pid);
    } catch {
      return null;
    }
  }
  return total;
}

/** Steal time so far, all cores, in seconds (/proc/stat's eighth `cpu` field); null if unknown. */
async function stealSec(): Promise<number | null> {
  try {
    const cpu = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0]!.trim().split(/\s+/);
    const steal = Number(cpu[8]);
    return Number.isFinite(steal) ? steal / 100 : null; // USER_HZ on Linux
  } catch {
    return null;
  }
}

/**
 * The `tessera-warm` client: one engine process for the whole case (bench/warm-engine.ts in
 * `--serve` mode), as the app and `tessera serve` run it, warmed up by one download of the
 * case's torrent before the timed runs (its data kept to the end of the case like every run's,
 * the page cache dropped). It shows the engine once V8 has compiled its hot code; `tessera`
 * pays that in every run.
 */
class WarmEngine {
  private readonly lines: AsyncIterator<string>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly pid: number,
  ) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  static async start(work: string, swarm: Swarm): Promise<WarmEngine> {
    // run.mjs bundles the script and runs it as its child, with our pipes.
    const child = spawn(
      process.execPath,
      [path.join(root, 'bench/swarm/run.mjs'), '../warm-engine', '--serve', work, allocateHost()],
      { stdio: ['pipe', 'pipe', 'inherit'], env: tesseraEnv() },
    );
    // The bundle's node process (run.mjs's own command line names the script too, not the
    // bundle in node_modules/.cache).
    let pid: number | null = null;
    for (let i = 0; i < 300 && pid === null; i++) {
      await new Promise((r) => setTimeout(r, 20));
      pid = await pidByCommandLine(['tessera-bench-', '_warm-engine.mjs', '--serve', work]);
    }
    if (pid === null) throw new Error('warm engine did not start');
    const engine = new WarmEngine(child, pid);
    // Its download stays until the case is over, like every run's (see main): deleting it here
    // made the first client after it create its files past thousands of just-deleted inodes.
    await engine.measure(swarm.torrentPath, path.join(work, 'tessera-warm-up'));
    await writeBackEverything();
    await dropPageCache(swarm);
    return engine;
  }

  async measure(torrent: string, out: string): Promise<Measured> {
    const watch = watchProcess(async () => this.pid);
    // /proc samples (every 20 ms) before the start and after the end, to interpolate between.
    const settle = () => new Promise((r) => setTimeout(r, 60));
    await settle();
    const started = Date.now();
    this.child.stdin!.write(`${JSON.stringify({ torrent, out })}\n`);
    const added = JSON.parse(await this.nextLine()) as { event: string };
    const addedAt = Date.now();
    const done = JSON.parse(await this.nextLine()) as {
      event: string;
      eventLoopDelayMs?: Measured['loopDelay'];
    };
    const doneAt = Date.now();
    await settle();
    const usage = watch.stop();
    if (added.event !== 'added' || done.event !== 'done')
      throw new Error(`warm engine: ${added.event}, ${done.event}`);
    return {
      client: 'tessera-warm',
      wallMs: doneAt - started,
      cpuSec: usage.cpuBetween(started, doneAt),
      transferCpuSec: usage.cpuBetween(addedAt, doneAt),
      transferMs: doneAt - addedAt,
      peakRssMb: usage.peakRssKb === null ? null : usage.peakRssKb / 1024,
      loopDelay: done.eventLoopDelayMs,
    };
  }

  private async nextLine(): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('warm engine: no reply in 600 s')), 600_000);
    });
    try {
      const next = await Promise.race([this.lines.next(), timeout]);
      if (next.done) throw new Error('warm engine: exited');
      return next.value;
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  }
}

// ---- the machine's ceilings, measured on the spot ----

function sha1Throughput(): number {
  const buf = randomBytes(256 * 1024);
  const started = performance.now();
  let bytes = 0;
  while (performance.now() - started < 1000) {
    createHash('sha1').update(buf).digest();
    bytes += buf.length;
  }
  return bytes / ((performance.now() - started) / 1000);
}

/**
 * Sequential writes of 512 MiB in 4 MiB chunks, then fsync, both ways a downloader may write:
 * through the page cache, and with O_DIRECT (as Tessera writes whole pages). The ceiling is the
 * faster of the two: on this VM O_DIRECT is the faster, and a ceiling measured through the page
 * cache alone was beaten by a third on the 1 GiB case. `direct` is null where the filesystem
 * refuses O_DIRECT (tmpfs).
 */
async function writeThroughput(dir: string): Promise<{ buffered: number; direct: number | null }> {
  const file = path.join(dir, 'write-test.bin');
  const chunk = allocPieceBuffer(4 * MiB);
  chunk.set(randomBytes(chunk.length));
  const timed = async (flags: number): Promise<number> => {
    const started = performance.now();
    const fh = await open(file, flags, 0o644);
    try {
      for (let i = 0; i < 128; i++) await fh.write(chunk, 0, chunk.length, i * chunk.length);
      await fh.sync();
    } finally {
      await fh.close();
    }
    const rate = (512 * MiB) / ((performance.now() - started) / 1000);
    await rm(file, { force: true });
    return rate;
  };
  const create = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC;
  const buffered = await timed(create);
  const direct =
    constants.O_DIRECT === undefined
      ? null
      : await timed(create | constants.O_DIRECT).catch(() => null);
  return { buffered, direct };
}

async function loopbackThroughput(): Promise<number> {
  const server = net.createServer((s) => s.resume());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const chunk = Buffer.alloc(MiB);
  const started = performance.now();
  for (let i = 0; i < 1024; i++) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  }
  await new Promise<void>((r) => socket.end(r));
  const rate = (1024 * MiB) / ((performance.now() - started) / 1000);
  socket.destroy();
  server.close();
  return rate;
}

// ---- reporting ----

const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
const pad = (s: string, n: number) => s.padStart(n);

function table(
  c: Case,
  results: Measured[],
  ceilings: { sha1: number; lowest: number },
): {
  ratios: Record<string, number>;
  tessera: number | null;
  paired: ReturnType<typeof pairedRatios>;
} {
  const byClient = new Map<string, Measured[]>();
  for (const r of results) byClient.set(r.client, [...(byClient.get(r.client) ?? []), r]);
  const medianRate = new Map<string, number>();
  for (const [client, rs] of byClient)
    medianRate.set(client, mbps(c.bytes, median(rs.map((r) => r.wallMs))));
  console.log(
    `\n${c.name}: ${(c.bytes / MiB).toFixed(0)} MiB, pieces ${2 ** c.pieceLengthLog2 / 1024} KiB ` +
      '(CPU s/GiB: the whole process; transfer: from the torrent added to 100 %, medians)',
  );
  console.log(
    `${'client'.padEnd(12)}${pad('wall med', 10)}${pad('min', 8)}${pad('max', 8)}${pad('add→done', 10)}${pad('MB/s', 9)}${pad('CPU s/GiB', 11)}${pad('transfer', 10)}${pad('RSS MB', 9)}${pad('loop p50/p99 ms', 18)}${pad('seeders CPU s', 15)}${pad('cores busy', 12)}${pad('steal', 8)}`,
  );
  for (const [client, rs] of byClient) {
    const walls = rs.map((r) => r.wallMs / 1000);
    const transfers = rs.map((r) => r.transferMs).filter((x): x is number => x !== null);
    const cpu = rs.map((r) => r.cpuSec).filter((x): x is number => x !== null);
    const transferCpu = rs.map((r) => r.transferCpuSec).filter((x): x is number => x !== null);
    const perGiB = (xs: number[]) =>
      xs.length ? (median(xs) / (c.bytes / 2 ** 30)).toFixed(2) : 'n/a';
    const rss = rs.map((r) => r.peakRssMb).filter((x): x is number => x !== null);
    const loop = rs.map((r) => r.loopDelay).filter((x) => x !== undefined);
    const seeders = rs
      .map((r) => r.seedersCpuSec)
      .filter((x): x is number => typeof x === 'number');
    // Downloader and seeders together, as a share of every core for the download's wall time.
    const busy = rs
      .filter((r) => r.cpuSec !== null && typeof r.seedersCpuSec === 'number')
      .map((r) => (r.cpuSec! + r.seedersCpuSec!) / (os.cpus().length * (r.wallMs / 1000)));
    const steal = rs
      .filter((r) => typeof r.stealSec === 'number')
      .map((r) => r.stealSec! / (os.cpus().length * (r.wallMs / 1000)));
    console.log(
      `${client.padEnd(12)}${pad(median(walls).toFixed(2), 10)}${pad(Math.min(...walls).toFixed(2), 8)}${pad(Math.max(...walls).toFixed(2), 8)}` +
        `${pad(transfers.length ? (median(transfers) / 1000).toFixed(2) : 'n/a', 10)}${pad(medianRate.get(client)!.toFixed(1), 9)}` +
        `${pad(perGiB(cpu), 11)}${pad(perGiB(transferCpu), 10)}${pad(rss.length ? Math.max(...rss).toFixed(0) : 'n/a', 9)}` +
        `${pad(loop.length ? `${median(loop.map((l) => l!.p50)).toFixed(1)}/${Math.max(...loop.map((l) => l!.p99)).toFixed(1)}` : '', 18)}` +
        `${pad(seeders.length ? median(seeders).toFixed(2) : 'n/a', 15)}${pad(busy.length ? `${(100 * median(busy)).toFixed(0)} %` : 'n/a', 12)}` +
        `${pad(steal.length ? `${(100 * median(steal)).toFixed(0)} %` : 'n/a', 8)}`,
    );
  }
  const tessera = medianRate.get('tessera') ?? null;
  const ratios: Record<string, number> = {};
  if (tessera !== null) {
    for (const [client, rate] of medianRate)
      if (client !== 'tessera') ratios[client] = tessera / rate;
    console.log(
      `Tessera's throughput ratio: ${Object.entries(ratios)
        .map(([k, v]) => `${v.toFixed(2)}× ${k}`)
        .join(
          ', ',
        )}; ${((100 * tessera * 1e6) / ceilings.lowest).toFixed(0)} % of the machine's ceiling (${(ceilings.lowest / 1e6).toFixed(0)} MB/s, the lowest of the three)`,
    );
  }
  const transferOf = (client: string) => {
    const ms = (byClient.get(client) ?? [])
      .map((r) => r.transferMs)
      .filter((x): x is number => x !== null);
    return ms.length ? median(ms) : null;
  };
  const tesseraTransfer = transferOf('tessera');
  if (tesseraTransfer !== null) {
    const others = [...byClient.keys()]
      .filter((client) => client !== 'tessera' && transferOf(client) !== null)
      .map((client) => `${(transferOf(client)! / tesseraTransfer).toFixed(2)}× ${client}`);
    if (others.length > 0)
      console.log(
        `From the torrent added to 100 % (start-up and shutdown left out on both sides): Tessera ${others.join(', ')}`,
      );
  }
  const paired = pairedRatios(results);
  if (Object.keys(paired).length > 0)
    console.log(
      `Round by round (each client ran once per round, back to back), Tessera's speed ratio: ${Object.entries(
        paired,
      )
        .map(([k, v]) => `${v.median.toFixed(2)}× ${k} (${v.min.toFixed(2)}–${v.max.toFixed(2)})`)
        .join(', ')}`,
    );
  const warmRate = medianRate.get('tessera-warm');
  if (warmRate !== undefined) {
    const references = [...medianRate].filter(([client]) => !client.startsWith('tessera'));
    const warmPaired = pairedRatios(results, 'tessera-warm');
    const warmTransfer = transferOf('tessera-warm');
    console.log(
      `The warm engine (one process for the whole case, warmed up by one download first): ${references
        .map(([client, rate]) => {
          const paired = warmPaired[client];
          const theirs = transferOf(client);
          return (
            `${(warmRate / rate).toFixed(2)}× ${client}` +
            (paired ? ` (round by round ${paired.median.toFixed(2)}×` : ' (') +
            (theirs !== null && warmTransfer !== null
              ? `, added to 100 % ${(theirs / warmTransfer).toFixed(2)}×)`
              : ')')
          );
        })
        .join(', ')}`,
    );
  }
  const seederCpuPerByte = results
    .filter((r) => typeof r.seedersCpuSec === 'number' && r.seedersCpuSec > 0)
    .map((r) => r.seedersCpuSec! / c.bytes);
  if (seederCpuPerByte.length > 0) {
    const tesseraCpu = (byClient.get('tessera') ?? [])
      .map((r) => r.cpuSec)
      .filter((x): x is number => x !== null);
    console.log(
      cpuBoundNote({
        cores: os.cpus().length,
        seederCpuPerGiB: median(seederCpuPerByte) * 2 ** 30,
        tessera:
          tessera !== null && tesseraCpu.length > 0
            ? { cpuPerGiB: median(tesseraCpu) / (c.bytes / 2 ** 30), bytesPerSec: tessera * 1e6 }
            : null,
        ceilings,
      }),
    );
  }
  return { ratios, tessera, paired };
}

/**
 * Tessera's speed over each other client's within the same round, then the median over
 * rounds. Clients in a round run minutes apart at most, so a host that slows down for a while
 * (steal time) weighs on both sides of a ratio, where it skews a ratio of whole-case medians.
 */
function pairedRatios(
  results: Measured[],
  subject = 'tessera',
): Record<string, { median: number; min: number; max: number }> {
  const byRound = new Map<number, Map<string, number>>();
  for (const r of results) {
    if (r.round === undefined) continue;
    const round = byRound.get(r.round) ?? new Map<string, number>();
    round.set(r.client, r.wallMs);
    byRound.set(r.round, round);
  }
  const ratios = new Map<string, number[]>();
  for (const round of byRound.values()) {
    const own = round.get(subject);
    if (own === undefined) continue;
    for (const [client, wallMs] of round)
      if (client !== subject) ratios.set(client, [...(ratios.get(client) ?? []), wallMs / own]);
  }
  const out: Record<string, { median: number; min: number; max: number }> = {};
  for (const [client, xs] of ratios)
    out[client] = { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
  return out;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const selected =
    args.ci || args.quick
      ? CASES.filter((c) => c.name === 'single-64M-256K')
      : args.cases
        ? CASES.filter((c) => args.cases!.includes(c.name))
        : CASES.filter((c) => c.name !== 'single-64M-256K');
  if (selected.length === 0)
    throw new Error(`no such case; cases: ${CASES.map((c) => c.name).join(', ')}`);
  const tmp = await makeTempDir();
  const report: Record<string, unknown> = {
    machine: {
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    seeders: args.seeders,
    cases: {},
  };
  let failed = false;
  try {
    console.log(
      `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    );
    const sha1 = sha1Throughput();
    const writes = await writeThroughput(tmp.path);
    const ceilings = {
      sha1,
      write: Math.max(writes.buffered, writes.direct ?? 0),
      writeBuffered: writes.buffered,
      writeDirect: writes.direct,
      loopback: await loopbackThroughput(),
    };
    report.ceilings = ceilings;
    const direct = writes.direct === null ? 'refused' : `${(writes.direct / 1e6).toFixed(0)} MB/s`;
    console.log(
      `Ceilings: SHA-1 ${(ceilings.sha1 / 1e6).toFixed(0)} MB/s (one core), sequential write ${(ceilings.write / 1e6).toFixed(0)} MB/s with fsync (page cache ${(writes.buffered / 1e6).toFixed(0)} MB/s, O_DIRECT ${direct}), loopback TCP ${(ceilings.loopback / 1e6).toFixed(0)} MB/s`,
    );
    for (const c of selected) {
      const work = path.join(tmp.path, c.name);
      await mkdir(work, { recursive: true });
      process.stdout.write(
        `\nBuilding the ${c.name} swarm (seeders: ${args.seeders.join(', ')})… `,
      );
      const swarm = await startSwarm({
        workDir: work,
        files: c.files,
        name: c.name,
        pieceLengthLog2: c.pieceLengthLog2,
        seeders: args.seeders,
        seed: 77,
        readyTimeoutMs: 300_000,
      });
      // The content was written just now: the kernel wrote it back during the first run (the
      // first small-files run took 2.7-4.1 s where the others took 2.0-2.5), so it is written
      // back now, and the page cache starts as it does before every other run.
      await writeBackEverything();
      await dropPageCache(swarm);
      // Transmission holds back new peers for ~10 s; let every seeder be ready for every client.
      await new Promise((r) => setTimeout(r, 11_000));
      console.log('ready.');
      const results: Measured[] = [];
      let warm: WarmEngine | null = null;
      try {
        if (args.clients.includes('tessera-warm')) warm = await WarmEngine.start(work, swarm);
        for (let run = 0; run < args.runs; run++) {
          // The order rotates from run to run, so that no client always goes first after the
          // swarm is built or last after the others have filled the disk.
          const order = args.clients.map((_, i) => args.clients[(i + run) % args.clients.length]!);
          for (const client of order) {
            const m = await measureOnce(client, swarm, work, run, run === 0, warm);
            await writeBackEverything();
            if (!(await dropPageCache(swarm)) && !warnedPageCache) {
              warnedPageCache = true;
              console.log(
                '  (the page cache cannot be dropped between runs without root: later runs of a case may be slower for every client, see bench/swarm/README.md)',
              );
            }
            results.push(m);
            console.log(
              `  run ${run + 1} ${client.padEnd(12)} ${(m.wallMs / 1000).toFixed(2)} s  ${mbps(c.bytes, m.wallMs).toFixed(1)} MB/s`,
            );
          }
        }
      } finally {
        await warm?.stop();
        await swarm.stop();
        // Deleted together at the end: on ext4, creating files right after deleting thousands
        // scans past the recently deleted inodes, which made every small-files run slower than
        // the one before (kernel time 1.9 -> 4.6 s over four runs) whichever client ran it.
        for (const entry of await readdir(work))
          if (args.clients.some((client) => entry.startsWith(`${client}-`)))
            await rm(path.join(work, entry), { recursive: true, force: true });
      }
      const { ratios, paired } = table(c, results, {
        sha1: ceilings.sha1,
        lowest: Math.min(ceilings.sha1, ceilings.write, ceilings.loopback),
      });
      (report.cases as Record<string, unknown>)[c.name] = {
        bytes: c.bytes,
        results,
        ratios,
        pairedRatios: paired,
      };
      if (args.ci && ratios.aria2c !== undefined && ratios.aria2c < 0.5) {
        console.error(
          `REGRESSION: Tessera is slower than half of aria2c on ${c.name} (${ratios.aria2c.toFixed(2)}×)`,
        );
        failed = true;
      }
    }
  } finally {
    await tmp.remove();
  }
  await mkdir(path.join(root, 'bench/results'), { recursive: true });
  const file = path.join(
    root,
    'bench/results',
    `download-bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  );
  await writeFile(file, JSON.stringify(report, null, 2));
  console.log(`\nResults: ${path.relative(root, file)}`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
