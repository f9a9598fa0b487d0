/** A parsed command line: positional words and --flags (repeatable ones collect into lists). */
export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string[]>;
}

export class UsageError extends Error {
  readonly code = 'usage';
}

/**
 * Parses `--name value`, `--name=value` and boolean `--name`. Only the flags a command
 * declares are accepted, so a typo is an error rather than silently ignored.
 */
export function parseArgs(
  argv: readonly string[],
  spec: { booleans: readonly string[]; values: readonly string[] },
): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  const push = (name: string, value: string) =>
    flags.set(name, [...(flags.get(name) ?? []), value]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '--') {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq >= 0 ? eq : undefined);
    if (spec.booleans.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      push(name, 'true');
    } else if (spec.values.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
      push(name, value);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return { positional, flags };
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.flags.has(name);
}

export function value(args: ParsedArgs, name: string): string | undefined {
  const values = args.flags.get(name);
  return values?.[values.length - 1];
}

export function values(args: ParsedArgs, name: string): string[] {
  return args.flags.get(name) ?? [];
}
