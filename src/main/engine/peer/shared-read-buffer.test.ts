import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectWithSharedReadBuffer, takeReads } from './shared-read-buffer';

const MiB = 1024 * 1024;
let server: net.Server | null = null;
afterEach(() => {
  server?.close();
  server = null;
});

/** A loopback server that writes `data` to whoever connects, then closes. */
async function serve(data: Buffer): Promise<number> {
  server = net.createServer((socket) => socket.end(data));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

describe('connectWithSharedReadBuffer', () => {
  it('hands over every byte in order, but at most about 1 MiB per turn of the event loop', async () => {
    const data = randomBytes(8 * MiB);
    const port = await serve(data);
    // Let the whole payload pile up in the kernel before the first read, as it does while the
    // thread is busy elsewhere.
    const socket = connectWithSharedReadBuffer({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const received: Buffer[] = [];
    const perTurn: number[] = [0];
    let turns = true;
    const countTurns = () => {
      perTurn.push(0);
      if (turns) setImmediate(countTurns);
    };
    setImmediate(countTurns);
    takeReads(socket, (chunk) => {
      // The chunk is the shared buffer: copy what is kept.
      received.push(Buffer.from(chunk));
      perTurn[perTurn.length - 1]! += chunk.length;
    });
    await new Promise<void>((resolve) => socket.once('end', resolve));
    turns = false;
    expect(Buffer.concat(received).equals(data)).toBe(true);
    // One chunk (up to 256 KiB) may go past the budget before the socket pauses.
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(MiB + 256 * 1024);
    expect(perTurn.filter((b) => b > 0).length).toBeGreaterThanOrEqual(7);
    socket.destroy();
  });
});
