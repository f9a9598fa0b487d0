import { Duplex } from 'node:stream';

/**
 * Two Duplex streams joined back to back, in memory: what one writes, the other reads. Lets a
 * PeerConnection be tested without ports (STYLE.md 10); Node 20 has no `stream.duplexPair`.
 *
 * Backpressure is real: a write completes only once the other side has room (its reader asked
 * for more), so a side that stops reading makes the writer's `writableLength` grow, as a slow
 * TCP peer would. Ending or destroying one side ends the other's readable side.
 */
export function duplexPair(options: { highWaterMark?: number } = {}): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  // A write waiting for the other side to want more, per side.
  const waiting: ((() => void) | null)[] = [null, null];
  // Whether a side's readable end has been pushed (nothing may be pushed after it).
  const eof = [false, false];
  const end = (side: number): void => {
    if (eof[side] || sides[side]!.destroyed) return;
    eof[side] = true;
    sides[side]!.push(null);
  };

  const make = (me: 0 | 1): Duplex => {
    const other = (): Duplex => sides[1 - me]!;
    return new Duplex({
      highWaterMark: options.highWaterMark,
      read() {
        // The other side's pending write can complete now.
        const release = waiting[1 - me];
        waiting[1 - me] = null;
        release?.();
      },
      write(chunk: Buffer, _encoding, callback) {
        const peer = other();
        if (peer.destroyed || eof[1 - me]) {
          callback();
          return;
        }
        if (peer.push(chunk)) callback();
        else waiting[me] = () => callback();
      },
      final(callback) {
        end(1 - me);
        callback();
      },
      destroy(err, callback) {
        end(1 - me);
        const release = waiting[me];
        waiting[me] = null;
        release?.();
        callback(err);
      },
    });
  };

  sides.push(make(0), make(1));
  return [sides[0]!, sides[1]!];
}
