import net from 'node:net';
import { once } from 'node:events';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Duplex } from 'node:stream';
import { encodeHandshake, encodeMessage, WireDecoder, type WireItem } from '../wire/codec';
import type { PeerMessage } from '../wire/messages';
import { duplexPair } from './duplex-pair';
import {
  MAX_UNKNOWN_MESSAGES,
  PeerConnection,
  type PeerConnectionOptions,
} from './peer-connection';

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
  it('handshakes both ways over TCP and exchanges request and piece (PW-01, PW-02)', async () => {
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

  it('closes on a handshake for another torrent (AD-26)', async () => {
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

  /** Both sides set the Fast extension bit when `fast`. */
  async function connectedTo(
    pieceCount: number,
    fast = false,
  ): Promise<{ raw: net.Socket; conn: PeerConnection; reasons: string[] }> {
    const [a, b] = await socketPair();
    const conn = new PeerConnection(b, {
      infoHash,
      peerId: idB,
      pieceCount,
      outgoing: false,
      fast,
    });
    const reasons: string[] = [];
    conn.on('close', (r) => reasons.push(r));
    conn.start();
    const reserved = new Uint8Array(8);
    if (fast) reserved[7] = 0x04;
    a.write(encodeHandshake({ reserved, infoHash, peerId: idA }));
    return { raw: a, conn, reasons };
  }

  it('closes on a bitfield of the wrong length or with spare bits set (AD-28, PW-05)', async () => {
    const wrong = await connectedTo(10);
    wrong.raw.write(encodeMessage({ type: 'bitfield', bitfield: new Uint8Array(3) }));
    await until(() => wrong.reasons.length === 1);
    expect(wrong.reasons[0]).toMatch(/bitfield of 3 bytes for 10 pieces/);

    const spare = await connectedTo(10);
    spare.raw.write(encodeMessage({ type: 'bitfield', bitfield: Uint8Array.from([0xff, 0xff]) }));
    await until(() => spare.reasons.length === 1);
    expect(spare.reasons[0]).toMatch(/past the last piece/);
  });

  it('takes a later bitfield as the new state (aria2 does this) but not a late have-all (PW-07 deviation)', async () => {
    const late = await connectedTo(10, true);
    const got = collect(late.conn);
    late.raw.write(encodeMessage({ type: 'have', index: 1 }));
    late.raw.write(encodeMessage({ type: 'bitfield', bitfield: Uint8Array.from([0x60, 0]) }));
    await until(() => got.length === 2);
    expect(late.reasons).toEqual([]);
    late.raw.write(encodeMessage({ type: 'have-all' }));
    await until(() => late.reasons.length === 1);
    expect(late.reasons[0]).toMatch(/have-all after other messages/);
  });

  it('closes on Fast extension messages when the extension was not negotiated (FX-01)', async () => {
    for (const m of [
      { type: 'have-all' },
      { type: 'have-none' },
      { type: 'reject', index: 0, begin: 0, length: 16384 },
      { type: 'allowed-fast', index: 1 },
      { type: 'suggest', index: 1 },
    ] as const) {
      const plain = await connectedTo(10);
      plain.raw.write(encodeMessage(m));
      await until(() => plain.reasons.length === 1);
      expect(plain.reasons[0]).toMatch(new RegExp(`${m.type} without the Fast extension`));
    }
    const fast = await connectedTo(10, true);
    const got = collect(fast.conn);
    fast.raw.write(encodeMessage({ type: 'have-none' }));
    fast.raw.write(encodeMessage({ type: 'reject', index: 0, begin: 0, length: 16384 }));
    await until(() => got.length === 2);
    expect(fast.conn.fastExtension).toBe(true);
    expect(fast.reasons).toEqual([]);
  });

  it('closes on have beyond the last piece (PW-09)', async () => {
    const have = await connectedTo(10);
    have.raw.write(encodeMessage({ type: 'have', index: 10 }));
    await until(() => have.reasons.length === 1);
    expect(have.reasons[0]).toMatch(/have for piece 10 of 10/);
  });

  it('closes on a length prefix of 2^31 (PW-04, AD-27)', async () => {
    const huge = await connectedTo(10);
    huge.raw.write(Uint8Array.from([0x80, 0, 0, 0, 7]));
    await until(() => huge.reasons.length === 1);
    expect(huge.reasons[0]).toMatch(/exceeds/);
  });

  it('closes a peer that never handshakes (PW-17, AD-31)', async () => {
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

/** What a raw peer reads back from the connection under test, decoded. */
function readAll(raw: Duplex): WireItem[] {
  const d = new WireDecoder();
  const items: WireItem[] = [];
  raw.on('data', (chunk: Buffer) => {
    d.push(chunk);
    items.push(...d.takeAll());
  });
  return items;
}

/** A PeerConnection on one end of an in-memory pair, a raw scripted peer on the other. */
function inMemory(opts: Partial<PeerConnectionOptions> = {}) {
  const [raw, ours] = duplexPair();
  const conn = new PeerConnection(ours, {
    infoHash,
    peerId: idB,
    pieceCount: 10,
    outgoing: false,
    ...opts,
  });
  const reasons: string[] = [];
  const got = collect(conn);
  conn.on('close', (r) => reasons.push(r));
  const received = readAll(raw);
  conn.start();
  const reserved = new Uint8Array(8);
  if (opts.fast) reserved[7] = 0x04;
  const handshake = () => raw.write(encodeHandshake({ reserved, infoHash, peerId: idA }));
  const sendRaw = (m: PeerMessage) => raw.write(encodeMessage(m));
  return { raw, conn, reasons, got, received, handshake, sendRaw };
}

describe('PeerConnection in memory (STYLE.md 10)', () => {
  it('two connections exchange interest, request and piece over a duplex pair', async () => {
    const [a, b] = duplexPair();
    const out = new PeerConnection(a, { infoHash, peerId: idA, pieceCount: 4, outgoing: true });
    const inc = new PeerConnection(b, { infoHash, peerId: idB, pieceCount: 4, outgoing: false });
    const outMsgs = collect(out);
    const incMsgs = collect(inc);
    const peerIds: string[] = [];
    out.on('handshake', (id) => peerIds.push(Buffer.from(id).toString()));
    inc.on('handshake', (id) => peerIds.push(Buffer.from(id).toString()));
    out.start();
    inc.start();
    await until(() => peerIds.length === 2);
    expect(peerIds.sort()).toEqual([idA.toString(), idB.toString()].sort());
    expect(out.peerId && Buffer.from(out.peerId).toString()).toBe(idB.toString());

    inc.send({ type: 'bitfield', bitfield: Uint8Array.from([0xf0]) });
    out.send({ type: 'interested' });
    expect(out.amInterested).toBe(true);
    await until(() => incMsgs.length === 1 && outMsgs.length === 1);
    expect(inc.peerInterested).toBe(true);
    expect(out.peerPieceCount).toBe(4);

    inc.send({ type: 'unchoke' });
    expect(inc.amChoking).toBe(false);
    await until(() => !out.peerChoking);
    out.send({ type: 'request', index: 2, begin: 0, length: 5 });
    await until(() => incMsgs.length === 2);
    expect(incMsgs[1]).toEqual({ type: 'request', index: 2, begin: 0, length: 5 });
    const block = Uint8Array.from([5, 4, 3, 2, 1]);
    expect(inc.sendPiece(2, 0, block)).toBe(true);
    await until(() => outMsgs.length === 3);
    expect(outMsgs[2]).toMatchObject({ type: 'piece', index: 2, begin: 0 });
    expect([...(outMsgs[2] as { block: Uint8Array }).block]).toEqual([5, 4, 3, 2, 1]);
    expect(out.payloadBytesReceived).toBe(5);
    expect(inc.payloadBytesSent).toBe(5);
    // Totals: 68-byte handshake + bitfield (6) + unchoke (5) + piece (13 + 5).
    expect(inc.bytesSent).toBe(68 + 6 + 5 + 18);
    expect(out.bytesReceived).toBe(inc.bytesSent);

    out.close('done');
    await until(() => inc.closed);
  });

  it('an incoming connection sends nothing before the peer handshakes, and nothing to a wrong info-hash (PW-02, AD-26)', async () => {
    const t = inMemory();
    await new Promise((r) => setTimeout(r, 20));
    expect(t.received).toEqual([]);
    t.raw.write(
      encodeHandshake({ reserved: new Uint8Array(8), infoHash: new Uint8Array(20), peerId: idA }),
    );
    await until(() => t.reasons.length === 1);
    expect(t.reasons[0]).toMatch(/info-hash mismatch/);
    expect(t.received).toEqual([]);
  });

  it('refuses a wrong protocol string before anything is sent (PW-02)', async () => {
    const t = inMemory();
    t.raw.write(Buffer.from('\x13BitTorrent protocoX'));
    await until(() => t.reasons.length === 1);
    expect(t.reasons[0]).toMatch(/BitTorrent protocol/);
    expect(t.received).toEqual([]);
  });

  it('closes a connection to ourselves (PW-03)', async () => {
    const t = inMemory({ peerId: idA });
    t.handshake();
    await until(() => t.reasons.length === 1);
    expect(t.reasons[0]).toMatch(/ourselves/);
  });

  it('keeps the peer bitfield: bitfield, repeated have counted once, have-all with spare bits clear (PW-08, PW-09)', async () => {
    const t = inMemory();
    t.handshake();
    t.sendRaw({ type: 'bitfield', bitfield: Uint8Array.from([0b1000_0000, 0b0100_0000]) });
    t.sendRaw({ type: 'have', index: 2 });
    t.sendRaw({ type: 'have', index: 2 });
    await until(() => t.got.length === 3);
    expect([...t.conn.peerBitfield]).toEqual([0b1010_0000, 0b0100_0000]);
    expect(t.conn.peerPieceCount).toBe(3);

    const all = inMemory({ fast: true });
    all.handshake();
    all.sendRaw({ type: 'have-all' });
    await until(() => all.got.length === 1);
    expect([...all.conn.peerBitfield]).toEqual([0xff, 0b1100_0000]);
    expect(all.conn.peerPieceCount).toBe(10);
  });

  it('skips unknown ids without emitting them, and closes after too many (PW-06)', async () => {
    const t = inMemory();
    t.handshake();
    for (let i = 0; i < MAX_UNKNOWN_MESSAGES; i++)
      t.sendRaw({ type: 'unknown', id: 99, payload: Uint8Array.from([1, 2, 3, 4, 5]) });
    t.sendRaw({ type: 'interested' });
    await until(() => t.got.length === 1);
    expect(t.got).toEqual([{ type: 'interested' }]);
    expect(t.conn.unknownMessagesReceived).toBe(MAX_UNKNOWN_MESSAGES);
    expect(t.reasons).toEqual([]);
    t.sendRaw({ type: 'unknown', id: 99, payload: new Uint8Array(0) });
    await until(() => t.reasons.length === 1);
    expect(t.reasons[0]).toMatch(/unknown ids/);
  });

  it('sends a keep-alive when it has sent nothing for keepAliveIntervalMs (PW-17)', async () => {
    const t = inMemory({ keepAliveIntervalMs: 40 });
    t.handshake();
    await until(() => t.received.length === 1); // our handshake
    expect(t.received[0]?.kind).toBe('handshake');
    await until(() => t.received.length >= 2, 1000);
    expect(t.received[1]).toEqual({ kind: 'message', message: { type: 'keep-alive' } });
    expect(t.reasons).toEqual([]);
    t.conn.close('test over');
  });

  it('closes after idleTimeoutMs with nothing received, but the peer’s keep-alives hold it open (PW-17)', async () => {
    const kept = inMemory({ idleTimeoutMs: 80 });
    kept.handshake();
    const started = Date.now();
    while (Date.now() - started < 250) {
      kept.sendRaw({ type: 'keep-alive' });
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(kept.reasons).toEqual([]);
    kept.conn.close('test over');

    const idle = inMemory({ idleTimeoutMs: 80 });
    idle.handshake();
    await until(() => idle.reasons.length === 1, 1000);
    expect(idle.reasons[0]).toMatch(/nothing received/);
  });

  it('reports backpressure when the peer stops reading, and drained() resolves when it reads again', async () => {
    const [raw, ours] = duplexPair();
    const conn = new PeerConnection(ours, {
      infoHash,
      peerId: idB,
      pieceCount: 10,
      outgoing: true,
      highWaterMarkBytes: 64 * 1024,
    });
    conn.start();
    // The raw side reads nothing (never attaches a 'data' listener).
    const block = new Uint8Array(16384);
    let sent = 0;
    while (conn.sendPiece(0, 0, block) && sent < 1000) sent++;
    expect(sent).toBeLessThan(1000);
    expect(conn.writableNeedsDrain).toBe(true);
    const drained = conn.drained();
    raw.resume();
    await drained;
    expect(conn.writableNeedsDrain).toBe(false);
    conn.close('test over');
  });

  it('emits close once, nothing after it, and send after close is a no-op', async () => {
    const t = inMemory();
    t.handshake();
    await until(() => t.conn.peerId !== null);
    t.conn.close('first');
    t.conn.close('second');
    t.sendRaw({ type: 'interested' });
    expect(t.conn.send({ type: 'unchoke' })).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    expect(t.reasons).toEqual(['first']);
    expect(t.got).toEqual([]);
    expect(t.conn.amChoking).toBe(true);
  });

  it('closes when the other side ends the stream', async () => {
    const t = inMemory();
    t.handshake();
    t.raw.end();
    await until(() => t.reasons.length === 1);
    expect(t.reasons[0]).toMatch(/closed/);
  });
});

describe('PeerConnection against random bytes (fuzz, AD-27, AD-28)', () => {
  it('after a valid handshake, any bytes leave it open or closed for a protocol error, never anything else', async () => {
    const settle = () => new Promise((r) => setImmediate(r));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }),
        async (chunks) => {
          const t = inMemory({ pieceCount: 12 });
          t.handshake();
          for (const c of chunks) t.raw.write(c);
          await settle();
          await settle();
          expect(t.reasons.length).toBeLessThanOrEqual(1);
          if (t.reasons.length === 1) expect(t.reasons[0]).toMatch(/^protocol error: /);
          t.conn.close('test over');
        },
      ),
      { numRuns: 150 },
    );
  });
});
