import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError, value, values, flag } from './args';

describe('parseArgs', () => {
  const spec = { booleans: ['json'], values: ['out', 'peer'] };
  it('reads positionals, booleans, values and repeated values', () => {
    const a = parseArgs(
      ['x.torrent', '--out', 'dir', '--json', '--peer=1.2.3.4:5', '--peer', '6.7.8.9:10'],
      spec,
    );
    expect(a.positional).toEqual(['x.torrent']);
    expect(value(a, 'out')).toBe('dir');
    expect(flag(a, 'json')).toBe(true);
    expect(values(a, 'peer')).toEqual(['1.2.3.4:5', '6.7.8.9:10']);
  });
  it('refuses unknown options and missing values', () => {
    expect(() => parseArgs(['--outt', 'x'], spec)).toThrow(UsageError);
    expect(() => parseArgs(['--out'], spec)).toThrow(/--out needs a value/);
    expect(() => parseArgs(['--json=1'], spec)).toThrow(/takes no value/);
  });
});
