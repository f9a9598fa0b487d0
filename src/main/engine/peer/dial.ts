import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { PeerAddress } from '../torrent/peer-directory';

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
    : net.connect({ host: address.ip, port: address.port, localAddress: opts.bindAddress });
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
