import { describe, expect, it } from 'vitest';
import { decodeClientFrame, decodeServerFrame, encodeFrame, FrameError } from './ws-codec';

describe('ws-codec', () => {
  it('round-trips byte arrays inside payloads', () => {
    const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) & 255);
    const frame = encodeFrame({
      kind: 'invoke',
      id: 1,
      name: 'torrent:add',
      args: { fileName: 'a', bytes },
    });
    const back = decodeClientFrame(frame);
    expect(back.args).toEqual({ fileName: 'a', bytes });
    const event = decodeServerFrame(
      encodeFrame({
        kind: 'event',
        name: 'torrent:detail',
        payload: { pieces: Uint8Array.from([0, 1, 2]) },
      }),
    );
    expect(event).toEqual({
      kind: 'event',
      name: 'torrent:detail',
      payload: { pieces: Uint8Array.from([0, 1, 2]) },
    });
  });

  it('refuses malformed frames with a FrameError', () => {
    for (const bad of [
      'not json',
      '[]',
      '{"kind":"invoke","id":-1,"name":"session:get"}',
      '{"kind":"invoke","id":1,"name":"fs:read"}',
      '{"kind":"invoke","id":1,"name":"session:get","args":{"$bytes":"!!"}}',
      '{"kind":"invoke","id":1,"name":"session:get","args":{"__proto__":{"x":1}}}',
    ]) {
      expect(() => decodeClientFrame(bad)).toThrow(FrameError);
    }
    expect(() => decodeClientFrame('x'.repeat(17 * 1024 * 1024))).toThrow(/too large/);
    expect(() => decodeServerFrame('{"kind":"event","name":"evil"}')).toThrow(FrameError);
  });
});
