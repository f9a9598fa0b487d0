// Process and socket plumbing shared by every wrapper: spawn with output to a log file, stop by
// PID with a bounded grace period, bounded polling, free ports and fresh loopback addresses.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { HarnessError } from './errors';

export interface Managed {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves once the process has exited (immediately if it already has). */
  exited(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `cmd` with stdout and stderr appended to `logFile`; never inherits our stdio. */
export function spawnLogged(
  cmd: string,
  args: readonly string[],
  opts: {
    logFile: string;
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    /** Own process group, stopped as a group (for wrappers like /usr/bin/time). */
    group?: boolean;
  },
): Managed {
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: opts.group === true,
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) {
    throw new HarnessError('SPAWN_FAILED', `could not start ${cmd} (see ${opts.logFile})`);
  }
  const pid = child.pid;
  // Signals go to our child's PID, or to the process group we created for it (negative PID).
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(opts.group === true ? -pid : pid, sig);
    } catch {
      // already gone
    }
  };
  let done = child.exitCode !== null || child.signalCode !== null;
  const exitedPromise = new Promise<void>((resolve) => {
    if (done) resolve();
    child.once('exit', () => {
      done = true;
      resolve();
    });
    child.once('error', () => {
      done = true;
      resolve();
    });
  });
  return {
    pid,
    child,
    logFile: opts.logFile,
    exited: () => exitedPromise,
    async stop(graceMs = 5_000): Promise<void> {
      if (done) return;
      signal('SIGTERM');
      if ((await raceTimeout(exitedPromise, graceMs)) === 'timeout' && !done) {
        signal('SIGKILL');
        await raceTimeout(exitedPromise, 2_000);
      }
    },
  };
}

/** Runs a command to completion (bounded) and returns its stdout; throws with stderr on failure. */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs: number; cwd?: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new HarnessError('TIMEOUT', `${cmd} did not finish within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new HarnessError('SPAWN_FAILED', `could not start ${cmd}: ${e.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else
        reject(
          new HarnessError('COMMAND_FAILED', `${cmd} ${args.join(' ')} exited ${code}: ${err}`),
        );
    });
  });
}

/** `p`'s value, or 'timeout' after `ms`; the timer is cleared so it never holds the process open. */
export async function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Polls `probe` until it returns a value other than undefined. Probe errors count as "not yet"
 * (a daemon that is still starting refuses connections); the last one is quoted on timeout.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; managed?: Managed },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = '';
  for (;;) {
    if (opts.managed && opts.managed.child.exitCode !== null) {
      throw new HarnessError(
        'EXITED',
        `${what}: process ${opts.managed.pid} exited with ${opts.managed.child.exitCode}; log ${opts.managed.logFile}:\n${tail(opts.managed.logFile)}`,
      );
    }
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() >= deadline) {
      const log = opts.managed
        ? `; log ${opts.managed.logFile}:\n${tail(opts.managed.logFile)}`
        : '';
      throw new HarnessError(
        'TIMEOUT',
        `${what}: not ready within ${opts.timeoutMs} ms${lastError ? ` (last error: ${lastError})` : ''}${log}`,
      );
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A port that was free on `host` a moment ago (the usual small race; good enough on loopback). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host, port: 0 }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A UDP port that was free on `host` (IPv4 or IPv6) a moment ago. */
export function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = host.includes(':')
      ? createSocket({ type: 'udp6', ipv6Only: true })
      : createSocket('udp4');
    s.once('error', reject);
    s.bind(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** True if a TCP connection to host:port succeeds within `timeoutMs`. */
export function canConnect(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.end();
      resolve(true);
    });
    sock.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

// Every program gets its own 127.x.y.z: opentracker hands out the announcing source address,
// libtorrent limits connections per IP, and Transmission remembers addresses it has seen. The
// second octet comes from our PID so two test processes on one machine rarely collide.
let hostCounter = 0;
const hostBase = 100 + (process.pid % 120);

/** A loopback address nobody in this process has used yet (never 127.0.0.1). */
export function allocateHost(): string {
  const n = hostCounter++;
  const third = Math.floor(n / 250) % 250;
  const fourth = 2 + (n % 250);
  return `127.${hostBase}.${third}.${fourth}`;
}
