import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { TorrentSummary } from '../../shared/torrent-types';
import { formatBytes, formatEta, formatRate } from '../../shared/format';

/** How a running download reports itself: a bar on a terminal, lines in a log, JSON for tools. */
export interface ProgressReporter {
  /** The torrent is added and about to download (JSON mode marks the moment for benchmarks). */
  start(s: TorrentSummary): void;
  update(s: TorrentSummary): void;
  finish(s: TorrentSummary, elapsedMs: number): void;
}

export function progressReporter(
  mode: 'tty' | 'plain' | 'json',
  out: NodeJS.WriteStream,
): ProgressReporter {
  switch (mode) {
    case 'tty':
      return new TerminalBar(out);
    case 'plain':
      return new PlainLines(out);
    case 'json':
      return new JsonLines(out);
  }
}

function statusLine(s: TorrentSummary): string {
  // A magnet link has no size yet: say whom we are asking for the metadata instead.
  if (s.state === 'fetching-metadata') return `fetching metadata: ${s.errorMessage ?? '…'}`;
  const pct = `${(s.progress * 100).toFixed(1)}%`.padStart(6);
  return `${pct}  ${formatBytes(s.doneBytes)} / ${formatBytes(s.totalBytes)}  ${formatRate(s.downBytesPerSec)}  peers ${s.peersConnected}  ETA ${formatEta(s.etaSec)}`;
}

class TerminalBar implements ProgressReporter {
  constructor(private readonly out: NodeJS.WriteStream) {}

  start(s: TorrentSummary): void {
    this.update(s);
  }

  update(s: TorrentSummary): void {
    const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - 70));
    const filled = Math.round(s.progress * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const state = s.state === 'checking' ? 'checking ' : '';
    this.out.write(`\r\x1b[K${state}${bar} ${statusLine(s)}`);
  }

  finish(s: TorrentSummary, elapsedMs: number): void {
    this.update(s);
    this.out.write(`\n${summaryText(s, elapsedMs)}\n`);
  }
}

/** Not a terminal: a line at most every 5 seconds or 10 %, so logs stay readable. */
class PlainLines implements ProgressReporter {
  private lastAt = 0;
  private lastProgress = -1;

  constructor(private readonly out: NodeJS.WriteStream) {}

  start(): void {}

  update(s: TorrentSummary): void {
    const now = Date.now();
    if (now - this.lastAt < 5000 && s.progress - this.lastProgress < 0.1) return;
    this.lastAt = now;
    this.lastProgress = s.progress;
    this.out.write(`${s.state} ${statusLine(s)}\n`);
  }

  finish(s: TorrentSummary, elapsedMs: number): void {
    this.out.write(`${summaryText(s, elapsedMs)}\n`);
  }
}

/**
 * The main thread's responsiveness during the download: hashing and disk work must stay off it.
 * Counted from the `added` line on, so Node's start-up and the parsing of the .torrent are not
 * in it. 1 ms sampling: the figure then is the delay itself, not the sampling interval plus it.
 */
const loopDelay = monitorEventLoopDelay({ resolution: 1 });

function eventLoopDelayMs(): { p50: number; p99: number; max: number } {
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  return {
    p50: ms(loopDelay.percentile(50)),
    p99: ms(loopDelay.percentile(99)),
    max: ms(loopDelay.max),
  };
}

class JsonLines implements ProgressReporter {
  constructor(private readonly out: NodeJS.WriteStream) {}

  start(s: TorrentSummary): void {
    loopDelay.reset();
    loopDelay.enable();
    this.out.write(`${JSON.stringify({ event: 'added', ...pick(s) })}\n`);
  }

  update(s: TorrentSummary): void {
    this.out.write(`${JSON.stringify({ event: 'progress', ...pick(s) })}\n`);
  }

  finish(s: TorrentSummary, elapsedMs: number): void {
    const seconds = elapsedMs / 1000;
    this.out.write(
      `${JSON.stringify({
        event: 'done',
        ...pick(s),
        elapsedSec: seconds,
        averageBytesPerSec: Math.round(s.totalBytes / Math.max(seconds, 0.001)),
        eventLoopDelayMs: eventLoopDelayMs(),
      })}\n`,
    );
  }
}

function pick(s: TorrentSummary) {
  return {
    id: s.id,
    name: s.name,
    state: s.state,
    progress: s.progress,
    doneBytes: s.doneBytes,
    totalBytes: s.totalBytes,
    piecesDone: s.piecesDone,
    pieceCount: s.pieceCount,
    downBytesPerSec: s.downBytesPerSec,
    upBytesPerSec: s.upBytesPerSec,
    downloadedBytes: s.downloadedBytes,
    wastedBytes: s.wastedBytes,
    peersConnected: s.peersConnected,
    etaSec: s.etaSec,
    note: s.errorMessage,
  };
}

function summaryText(s: TorrentSummary, elapsedMs: number): string {
  const seconds = elapsedMs / 1000;
  return `Done: ${s.name} — ${formatBytes(s.totalBytes)} in ${seconds.toFixed(1)} s (${formatRate(s.totalBytes / Math.max(seconds, 0.001))}), every piece verified. Wasted: ${formatBytes(s.wastedBytes)}.`;
}
