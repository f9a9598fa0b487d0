import { describe, expect, it } from 'vitest';
import { chooseUnchoked, type ChokeCandidate } from './choker';

const peer = (
  key: string,
  down: number,
  up = 0,
  over: Partial<ChokeCandidate> = {},
): ChokeCandidate => ({
  key,
  peerInterested: true,
  downBytesPerSec: down,
  upBytesPerSec: up,
  isSeed: false,
  ...over,
});

describe('chooseUnchoked', () => {
  it('unchokes the best uploaders to us while downloading, plus one optimistic', () => {
    const peers = [peer('a', 10), peer('b', 30), peer('c', 20), peer('d', 5)];
    const d = chooseUnchoked(peers, {
      slots: 2,
      seeding: false,
      previousOptimistic: null,
      rotateOptimistic: true,
      random: () => 0,
    });
    expect(d.unchoke.has('b')).toBe(true);
    expect(d.unchoke.has('c')).toBe(true);
    expect(d.optimistic).toBe('a');
    expect(d.unchoke.size).toBe(3);
  });

  it('ranks by our upload rate when seeding', () => {
    const peers = [peer('a', 0, 1), peer('b', 0, 9)];
    const d = chooseUnchoked(peers, {
      slots: 1,
      seeding: true,
      previousOptimistic: null,
      rotateOptimistic: false,
    });
    expect([...d.unchoke][0]).toBe('b');
  });

  it('never unchokes seeds or uninterested peers', () => {
    const peers = [
      peer('seed', 100, 0, { isSeed: true }),
      peer('bored', 50, 0, { peerInterested: false }),
    ];
    const d = chooseUnchoked(peers, {
      slots: 4,
      seeding: false,
      previousOptimistic: null,
      rotateOptimistic: true,
    });
    expect(d.unchoke.size).toBe(0);
    expect(d.optimistic).toBeNull();
  });

  it('keeps the optimistic unchoke until it is time to rotate', () => {
    const peers = [peer('a', 9), peer('b', 1), peer('c', 1)];
    const d = chooseUnchoked(peers, {
      slots: 1,
      seeding: false,
      previousOptimistic: 'c',
      rotateOptimistic: false,
      random: () => 0,
    });
    expect(d.optimistic).toBe('c');
  });
});
