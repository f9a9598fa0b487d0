import { describe, expect, it } from 'vitest';
import { bencode } from '../bencode/encode';
import { encodeExtendedHandshake, parseExtendedHandshake } from './extended-handshake';

describe('BEP 10 extension handshake', () => {
  it('names ut_metadata and ut_pex with our ids, metadata_size, p, reqq and v (EX-01)', () => {
    const bytes = encodeExtendedHandshake({
      listenPort: 6881,
      requestQueue: 500,
      metadataSize: 31235,
      pex: true,
    });
    expect(Buffer.from(bytes).toString('latin1')).toBe(
      'd1:md11:ut_metadatai1e6:ut_pexi2ee13:metadata_sizei31235e1:pi6881e4:reqqi500e1:v13:Tessera 0.1.0e',
    );
  });

  it('leaves ut_pex out for private torrents and metadata_size out while we have none', () => {
    const text = Buffer.from(
      encodeExtendedHandshake({ listenPort: 0, requestQueue: 250, pex: false }),
    ).toString('latin1');
    expect(text).toBe('d1:md11:ut_metadatai1ee4:reqqi250e1:v13:Tessera 0.1.0e');
  });

  it("reads the peer's ids, with 0 meaning off and unknown names ignored (EX-02)", () => {
    const info = parseExtendedHandshake(
      bencode({
        m: { ut_metadata: 3, ut_pex: 0, lt_donthave: 7 },
        metadata_size: 40_000,
        p: 51413,
        reqq: 250,
        v: 'qBittorrent/4.5.2\u0007',
      }),
    );
    expect(info).toEqual({
      extensionIds: { ut_metadata: 3, ut_pex: 0 },
      metadataSize: 40_000,
      listenPort: 51413,
      requestQueue: 250,
      client: 'qBittorrent/4.5.2',
    });
  });

  it('ignores implausible metadata sizes and ids (MD-01)', () => {
    for (const size of [-1, 0, 2 ** 31])
      expect(parseExtendedHandshake(bencode({ metadata_size: size })).metadataSize).toBeNull();
    expect(parseExtendedHandshake(bencode({ m: { ut_metadata: 300 } })).extensionIds).toEqual({});
    expect(parseExtendedHandshake(Buffer.from('garbage')).extensionIds).toEqual({});
  });
});
