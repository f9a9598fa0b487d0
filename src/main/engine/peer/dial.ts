import type { Duplex } from 'node:stream';
import type { PeerAddress, PeerDirectory, PeerSource } from '../torrent/peer-directory';
import { connectWithSharedReadBuffer } from './shared-read-buffer';

export interface DialOptions {
  /** Local address to connect from. */
  bindAddress?: string;
  timeoutMs: number;
  /** Joins a peer without a socket (tests); "connects" on the next microtask. */
  dial?: (address: PeerAddress) => Duplex;
}

/**
 * Opens a TCP connection to a peer, bounded in time. Exactly one callback: the connected
 * stream, or why it failed (the socket is then already destroyed).
 */
export function dialPeer(
  address: PeerAddress,
  opts: DialOptions,
  done: (result: { socket: Duplex } | { error: string }) => void,
): void {
  const socket = opts.dial
    ? opts.dial(address)
    : connectWithSharedReadBuffer({
        host: address.ip,
        port: address.port,
        localAddress: opts.bindAddress,
      });
  let settled = false;
  const fail = (why: string) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.destroy();
    done({ error: why });
  };
  const timer = setTimeout(() => fail('connect timed out'), opts.timeoutMs);
  timer.unref();
  socket.once('error', (err: Error) => fail(err.message));
  const onConnect = () => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.removeAllListeners('error');
    done({ socket });
  };
  if (opts.dial) queueMicrotask(onConnect);
  else socket.once('connect', onConnect);
}

/** A connection the dialler made, offered to its owner. */
export interface Dialled {
  socket: Duplex;
  key: string;
  address: PeerAddress;
  source: PeerSource;
}

/**
 * Dials the addresses a directory says are due, a few at a time (half-open connections are
 * bounded), and keeps the directory's books: failures back off, connections the owner does
 * not take (stopped, or a duplicate) are closed and may be tried again later.
 */
export class PeerDialer {
  /** Connections being opened now. */
  connecting = 0;

  constructor(
    private readonly directory: PeerDirectory,
    private readonly opts: DialOptions & { maxHalfOpen: number },
  ) {}

  /**
   * Dials as many due addresses as `freeSlots` (connections the owner can still take) and the
   * half-open bound allow. `take` returns false to refuse a connection; `failed` hears why a
   * dial failed.
   */
  dialDue(
    freeSlots: number,
    take: (c: Dialled) => boolean,
    failed?: (key: string, why: string) => void,
  ): void {
    const free = Math.min(freeSlots - this.connecting, this.opts.maxHalfOpen - this.connecting);
    for (const { key, address, source } of this.directory.takeDialable(free)) {
      this.connecting++;
      dialPeer(address, this.opts, (result) => {
        this.connecting--;
        if ('error' in result) {
          this.directory.markClosed(key, true);
          failed?.(key, result.error);
          return;
        }
        if (!take({ socket: result.socket, key, address, source })) {
          result.socket.destroy();
          this.directory.markClosed(key, false);
        }
      });
    }
  }
}
