import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openFileBudget } from './open-file-limit';

describe('openFileBudget', () => {
  it('is an eighth of the descriptor limit, between 16 and 1,024', () => {
    const budget = openFileBudget();
    expect(budget).toBeGreaterThanOrEqual(16);
    expect(budget).toBeLessThanOrEqual(1024);
    const soft = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    if (soft) expect(budget).toBe(Math.max(16, Math.min(1024, Math.floor(Number(soft) / 8))));
  });
});
