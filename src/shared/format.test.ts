import { describe, expect, it } from 'vitest';
import { formatBytes, formatEta, formatRate } from './format';

describe('format', () => {
  it('formats bytes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(256 * 1024 * 1024)).toBe('256.0 MiB');
  });
  it('formats rates in MB/s', () => {
    expect(formatRate(12_345_678)).toBe('12.3 MB/s');
  });
  it('formats ETA as h:mm:ss or m:ss', () => {
    expect(formatEta(null)).toBe('--');
    expect(formatEta(65)).toBe('1:05');
    expect(formatEta(3725)).toBe('1:02:05');
  });
});
