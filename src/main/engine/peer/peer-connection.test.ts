import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeHandshake, encodeMessage } from '../wire/codec';
import type { PeerMessage } from '../wire/messages';
import { PeerConnection } from './peer-connection';

const infoHash = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
const idA = Buffer.from('-TS0100-aaaaaaaaaaaa');
const idB = Buffer.from('-TR3000-bbbbbbbbbbbb');
const sockets: net.Socket[] = [];
let server: net.Server | null = null;

afterEach(() => {
  for (const s of sockets) s.destroy();
  sockets.length = 0;
  server?.close();
  server = null;
});

/** A connected pair of real TCP sockets on loopback. */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [serverSide] = await accepted;
  sockets.push(client, serverSide);
  return [client, serverSide];
}

function collect(conn: PeerConnection): PeerMessage[] {
  const got: PeerMessage[] = [];
  conn.on('message', (m) => got.push(m));
  return got;
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('PeerConnection', () => {
  it('handshakes both ways and exchanges request and piece', async () => {
    const [a, b] = await socketPair();
    const out = new PeerConnection(a, {
      infoHash,
      peerId: idA,
      pieceCount: 10,
      outgoing: true,
      extensions: true,
    });
    const inc = new PeerConnection(b, { infoHash, peerId: idB, pieceCount: 10, outgoing: false });
    const handshakes: Uint8Array[] = [];
    out.on('handshake', (id, reserved) => handshakes.push(id, reserved));
    const incMsgs = collect(inc);
    const outMsgs = collect(out);
    out.start();
    inc.start();
    await until(() => handshakes.length === 2);
    expect(Buffer.from(handshakes[0]!).toString()).toBe(idB.toString());
    out.send({ type: 'interested' });
    out.sendRequests([{ index: 3, begin: 0, length: 4 }]);
    await until(() => incMsgs.length === 2);
    expect(inc.peerInterested).toBe(true);
    expect(incMsgs[1]).toEqual({ type: 'request', index: 3, begin: 0, length: 4 });
    inc.send({ type: 'unchoke' });
    inc.sendPiece(3, 0, Uint8Array.from([1, 2, 3, 4]));
    await until(() => outMsgs.length === 2);
    expect(out.peerChoking).toBe(false);
    expect(outMsgs[1]).toMatchObject({ type: 'piece', index: 3, begin: 0 });
    expect([...(outMsgs[1] as { block: Uint8Array }).block]).toEqual([1, 2, 3, 4]);
    expect(out.payloadBytesReceived).toBe(4);
    expect(inc.payloadBytesSent).toBe(4);
  });

  it('closes on a handshake for another torrent (hostile: wrong info-hash)', async () => {
    const [a, b] = await socketPair();
    const conn = new PeerConnection(b, { infoHash, peerId: idB, pieceCount: 10, outgoing: false });
    const closed = once(conn, 'close');
    conn.start();
    a.write(
      encodeHandshake({ reserved: new Uint8Array(8), infoHash: new Uint8Array(20), peerId: idA }),
    );
    const [reason] = await closed;
    expect(reason).toMatch(/info-hash mismatch/);
  });

  async function connectedTo(
    pieceCount: number,
  ): Promise<{ raw: net.Socket; conn: PeerConnection; reasons: string[] }> {
    const [a, b] = await socketPair();
    const conn = new PeerConnection(b, { infoHash, peerId: idB, pieceCount, outgoing: false });
    const reasons: string[] = [];
    conn.on('close', (r) => reasons.push(r));
    conn.start();
    a.write(encodeHandshake({ reserved: new Uint8Array(8), infoHash, peerId: idA }));
    return { raw: a, conn, reasons };
  }

  it('closes on a bitfield of the wrong length or with spare bits set', async () => {
    const wrong = await connectedTo(10);
    wrong.raw.write(encodeMessage({ type: 'bitfield', bitfield: new Uint8Array(3) }));
    await until(() => wrong.reasons.length === 1);
    expect(wrong.reasons[0]).toMatch(/bitfield of 3 bytes for 10 pieces/);

    const spare = await connectedTo(10);
    spare.raw.write(encodeMessage({ type: 'bitfield', bitfield: Uint8Array.from([0xff, 0xff]) }));
    await until(() => spare.reasons.length === 1);
    expect(spare.reasons[0]).toMatch(/past the last piece/);
  });

  it('takes a later bitfield as the new state (aria2 does this) but not a late have-all', async () => {
    const late = await connectedTo(10);
    const got = collect(late.conn);
    late.raw.write(encodeMessage({ type: 'have', index: 1 }));
    late.raw.write(encodeMessage({ type: 'bitfield', bitfield: Uint8Array.from([0x60, 0]) }));
    await until(() => got.length === 2);
    expect(late.reasons).toEqual([]);
    late.raw.write(encodeMessage({ type: 'have-all' }));
    await until(() => late.reasons.length === 1);
    expect(late.reasons[0]).toMatch(/have-all after other messages/);
  });

  it('closes on have beyond the last piece', async () => {
    const have = await connectedTo(10);
    have.raw.write(encodeMessage({ type: 'have', index: 10 }));
    await until(() => have.reasons.length === 1);
    expect(have.reasons[0]).toMatch(/have for piece 10 of 10/);
  });

  it('closes on a length prefix of 2^31 (hostile)', async () => {
    const huge = await connectedTo(10);
    huge.raw.write(Uint8Array.from([0x80, 0, 0, 0, 7]));
    await until(() => huge.reasons.length === 1);
    expect(huge.reasons[0]).toMatch(/exceeds/);
  });

  it('closes a peer that never handshakes', async () => {
    const [, b] = await socketPair();
    const conn = new PeerConnection(b, {
      infoHash,
      peerId: idB,
      pieceCount: 10,
      outgoing: false,
      handshakeTimeoutMs: 50,
    });
    const closed = once(conn, 'close');
    conn.start();
    const [reason] = await closed;
    expect(reason).toBe('no handshake in time');
  });

  it('emits close once', async () => {
    const [a, b] = await socketPair();
    const conn = new PeerConnection(b, { infoHash, peerId: idB, pieceCount: 10, outgoing: false });
    let closes = 0;
    conn.on('close', () => closes++);
    conn.start();
    a.destroy();
    await until(() => closes > 0);
    conn.close('again');
    await new Promise((r) => setTimeout(r, 20));
    expect(closes).toBe(1);
  });
});
