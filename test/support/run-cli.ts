// Runs `tessera …` as a person would, in a child process, bounded in time.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '..', '..', 'bin', 'tessera.mjs');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Parsed `--json` lines. */
  events: Record<string, unknown>[];
}

export function runCli(
  args: string[],
  o: {
    timeoutMs: number;
    /** XDG_STATE_HOME for the run, so resume data goes to the test's folder, not the user's. */
    stateHome: string;
    onEvent?: (e: Record<string, unknown>) => void;
  },
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, XDG_STATE_HOME: o.stateHome };
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let stdout = '';
    let stderr = '';
    const events: Record<string, unknown>[] = [];
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        // `--json` progress is one object per line; anything else (pretty output) is skipped.
        if (!line.startsWith('{') || !line.endsWith('}')) continue;
        const event = JSON.parse(line) as Record<string, unknown>;
        events.push(event);
        o.onEvent?.(event);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tessera ${args.join(' ')} did not finish in ${o.timeoutMs} ms\n${stderr}`));
    }, o.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, events });
    });
  });
}
