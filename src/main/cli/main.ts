import { EngineError } from '../engine';
import { UsageError } from './args';
import { DOWNLOAD_USAGE, runDownload } from './download-command';
import { INFO_USAGE, runInfo } from './info-command';
import { runServe, SERVE_USAGE } from '../server/serve-command';

const USAGE = `Tessera — a BitTorrent client that shows the swarm.

usage:
  ${DOWNLOAD_USAGE}
  ${INFO_USAGE}
  ${SERVE_USAGE}
  tessera --help | --version`;

/** Each command's own usage, printed for `tessera <command> --help`. */
const COMMAND_USAGE: Record<string, string> = {
  download: DOWNLOAD_USAGE,
  info: INFO_USAGE,
  serve: SERVE_USAGE,
};

/** --help or -h among a command's options (not after `--`, where words are file names). */
function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && COMMAND_USAGE[command] !== undefined && asksForHelp(rest)) {
    process.stdout.write(`usage: ${COMMAND_USAGE[command]}\n`);
    return 0;
  }
  switch (command) {
    case 'download':
      return runDownload(rest);
    case 'info':
      return runInfo(rest);
    case 'serve':
      return runServe(rest);
    case '--version':
    case '-v':
      process.stdout.write('tessera 0.1.0\n');
      return 0;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

/** Errors a person can act on are one line; anything else is a bug, reported as one. */
function describe(err: unknown): { message: string; code: number } {
  if (err instanceof UsageError) return { message: err.message, code: 2 };
  if (err instanceof EngineError) return { message: err.message, code: 1 };
  if (err instanceof Error && 'code' in err && typeof err.code === 'string')
    return { message: err.message, code: 1 };
  const message = err instanceof Error ? err.message : String(err);
  return { message: `internal error: ${message} (please report this)`, code: 70 };
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now; if a stray handle (a half-closed socket) lingers, do not hang.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    const { message, code } = describe(err);
    if (process.env.TESSERA_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.stderr.write(`tessera: ${message}\n`);
    process.exitCode = code;
    setTimeout(() => process.exit(code), 2000).unref();
  },
);
