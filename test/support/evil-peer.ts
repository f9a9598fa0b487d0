// A misbehaving BitTorrent peer for tests, on loopback: it handshakes properly, claims to have
// every piece, unchokes, and then does one bad thing, chosen by `mode`.
import net from 'node:net';
import { once } from 'node:events';
import { encodeHandshake, encodeMessage, WireDecoder } from '../../src/main/engine/wire/codec';
import { bencode } from '../../src/main/engine/bencode/encode';
import {
  decodeMetadataMessage,
  encodeMetadataMessage,
  METADATA_PIECE_SIZE,
} from '../../src/main/engine/magnet/ut-metadata';

/** The id this peer gives ut_metadata: not ours (1), to prove ids are per direction. */
const EVIL_UT_METADATA_ID = 3;

export type EvilMode =
  /** Serves every requested block with its bytes flipped: its pieces fail their hash. */
  | 'corrupt'
  /** Sends pieces nobody asked for. */
  | 'unrequested'
  /** Announces a message of 2^31 bytes. */
  | 'huge-length'
  /** A bitfield with bits set past the last piece. */
  | 'spare-bits'
  /** Answers requests one byte per second. */
  | 'trickle'
  /** Offers the metadata (BEP 9) and serves garbage of the right sizes. */
  | 'bad-metadata';

export interface EvilPeer {
  port: number;
  /** Connections it received, and how many blocks it served. */
  stats: { connections: number; blocksServed: number; closedByRemote: number };
  close(): Promise<void>;
}

export async function startEvilPeer(o: {
  infoHash: Uint8Array;
  pieceCount: number;
  content: Buffer;
  pieceLength: number;
  mode: EvilMode;
  /** Size of the info dict, for 'bad-metadata'. */
  metadataSize?: number;
}): Promise<EvilPeer> {
  const stats = { connections: 0, blocksServed: 0, closedByRemote: 0 };
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = net.createServer((socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.on('close', () => {
      stats.closedByRemote++;
      sockets.delete(socket);
    });
    socket.on('error', () => undefined);
    const decoder = new WireDecoder();
    const bitfield = new Uint8Array(Math.ceil(o.pieceCount / 8)).fill(0xff);
    const spare = bitfield.length * 8 - o.pieceCount;
    if (o.mode !== 'spare-bits' && spare > 0)
      bitfield[bitfield.length - 1] = (0xff << spare) & 0xff;
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (let item = decoder.next(); item; item = decoder.next()) {
        if (item.kind === 'handshake') {
          const reserved = new Uint8Array(8);
          if (o.mode === 'bad-metadata') reserved[5] = 0x10;
          socket.write(
            encodeHandshake({
              reserved,
              infoHash: o.infoHash,
              peerId: Buffer.from('-EV0001-evilevilevil'),
            }),
          );
          if (o.mode === 'bad-metadata') {
            const payload = bencode({
              m: { ut_metadata: EVIL_UT_METADATA_ID },
              metadata_size: o.metadataSize ?? 0,
            });
            socket.write(encodeMessage({ type: 'extended', id: 0, payload }));
            continue;
          }
          if (o.mode === 'huge-length') {
            socket.write(Uint8Array.from([0x80, 0, 0, 0, 7]));
            continue;
          }
          socket.write(encodeMessage({ type: 'bitfield', bitfield }));
          socket.write(encodeMessage({ type: 'unchoke' }));
          if (o.mode === 'unrequested') {
            for (let i = 0; i < Math.min(8, o.pieceCount); i++) {
              const block = o.content.subarray(i * o.pieceLength, i * o.pieceLength + 16384);
              socket.write(encodeMessage({ type: 'piece', index: i, begin: 0, block }));
            }
          }
          continue;
        }
        const m = item.message;
        if (m.type === 'extended' && m.id === EVIL_UT_METADATA_ID && o.metadataSize) {
          const request = decodeMetadataMessage(m.payload);
          if (request?.type !== 'request') continue;
          const size = o.metadataSize;
          const length = Math.min(METADATA_PIECE_SIZE, size - request.piece * METADATA_PIECE_SIZE);
          stats.blocksServed++;
          const reply = encodeMetadataMessage({
            type: 'data',
            piece: request.piece,
            totalSize: size,
            data: Buffer.alloc(length, 0x61),
          });
          // Our client's ut_metadata id is 1 (it says so in its handshake).
          socket.write(encodeMessage({ type: 'extended', id: 1, payload: reply }));
          continue;
        }
        if (m.type !== 'request') continue;
        const start = m.index * o.pieceLength + m.begin;
        const block = Buffer.from(o.content.subarray(start, start + m.length));
        if (o.mode === 'corrupt') for (let i = 0; i < block.length; i += 1000) block[i]! ^= 0xff;
        if (o.mode === 'trickle') {
          const bytes = encodeMessage({ type: 'piece', index: m.index, begin: m.begin, block });
          let at = 0;
          const t = setInterval(() => {
            if (socket.destroyed || at >= bytes.length) return clearInterval(t);
            socket.write(bytes.subarray(at, at + 1));
            at++;
          }, 1000);
          timers.add(t);
          continue;
        }
        stats.blocksServed++;
        socket.write(encodeMessage({ type: 'piece', index: m.index, begin: m.begin, block }));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    stats,
    async close() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
