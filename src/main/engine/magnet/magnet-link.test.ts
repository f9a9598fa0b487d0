import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidMagnetError, parseMagnetLink, parsePeerAddress } from './magnet-link';

const HEX = 'c9e15763f722f23e98a29decdfae341b98d53056';
// The same hash in RFC 4648 base32 (computed with Python's base64.b32encode).
const BASE32 = 'ZHQVOY7XELZD5GFCTXWN7LRUDOMNKMCW';

describe('parseMagnetLink', () => {
  it('reads hex, upper-case base32 and lower-case base32 as the same info-hash (MAG-01)', () => {
    for (const h of [HEX, HEX.toUpperCase(), BASE32, BASE32.toLowerCase()]) {
      expect(parseMagnetLink(`magnet:?xt=urn:btih:${h}`).infoHashHex).toBe(HEX);
    }
  });

  it('percent-decodes dn, collects every tr and x.pe in order (MAG-02)', () => {
    const link = parseMagnetLink(
      `magnet:?xt=urn:btih:${HEX}&dn=Debian%20ISO+%C3%A9t%C3%A9` +
        '&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr=udp://tracker.example:80' +
        '&x.pe=127.0.0.2:51413&x.pe=[::1]:6881&x.pe=seed.example:7000',
    );
    expect(link.displayName).toBe('Debian ISO été');
    expect(link.trackers).toEqual(['http://127.0.0.1:6969/announce', 'udp://tracker.example:80']);
    expect(link.peers).toEqual([
      { ip: '127.0.0.2', port: 51413 },
      { ip: '::1', port: 6881 },
      { ip: 'seed.example', port: 7000 },
    ]);
    expect(link.warnings).toEqual([]);
  });

  it('drops invalid trackers and peers with a warning each, keeping the rest', () => {
    const link = parseMagnetLink(
      `magnet:?xt=urn:btih:${HEX}&tr=ftp://x/y&tr=not a url&tr=http://ok.example/a` +
        '&x.pe=1.2.3.4&x.pe=1.2.3.4:0&x.pe=1.2.3.4:99999&x.pe=5.6.7.8:9',
    );
    expect(link.trackers).toEqual(['http://ok.example/a']);
    expect(link.peers).toEqual([{ ip: '5.6.7.8', port: 9 }]);
    expect(link.warnings).toHaveLength(5);
    expect(link.warnings[0]).toMatch(/ignored tracker "ftp:\/\/x\/y": scheme ftp: is not/);
  });

  it('refuses links without a usable info-hash, each with its own message', () => {
    const cases: [string, RegExp][] = [
      ['http://example.com', /must start with "magnet:\?"/],
      ['magnet:?dn=x', /no info-hash/],
      [`magnet:?xt=urn:btih:${HEX.slice(1)}`, /neither 40 hex digits nor 32 base32/],
      [`magnet:?xt=urn:btih:${BASE32.replace('Z', '1')}`, /neither 40 hex/],
      ['magnet:?xt=urn:btmh:1220' + 'ab'.repeat(32), /v2 hash \(urn:btmh\).*not supported/],
      ['magnet:?' + 'a'.repeat(70_000), /characters long/],
    ];
    for (const [uri, message] of cases) {
      expect(() => parseMagnetLink(uri)).toThrow(InvalidMagnetError);
      expect(() => parseMagnetLink(uri)).toThrow(message);
    }
  });

  it('uses btih when btmh is given too (MAG-03)', () => {
    const link = parseMagnetLink(
      `magnet:?xt=urn:btmh:1220${'ab'.repeat(32)}&xt=urn:btih:${HEX}&dn=hybrid`,
    );
    expect(link.infoHashHex).toBe(HEX);
  });

  it('strips control and bidi characters from the display name (EL-13)', () => {
    const link = parseMagnetLink(`magnet:?xt=urn:btih:${HEX}&dn=evil%E2%80%AEgpj.exe%0A`);
    expect(link.displayName).toBe('evilgpj.exe');
  });

  it('never throws anything but InvalidMagnetError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        try {
          parseMagnetLink(`magnet:?${s}`);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidMagnetError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('parsePeerAddress', () => {
  it('reads host:port and [v6]:port and refuses the rest', () => {
    expect(parsePeerAddress('10.0.0.1:1')).toEqual({ ip: '10.0.0.1', port: 1 });
    expect(parsePeerAddress('[2001:db8::1]:65535')).toEqual({ ip: '2001:db8::1', port: 65535 });
    for (const bad of ['', ':80', '1.2.3.4:', '2001:db8::1:80', '[::1]', 'a b:1', 'x:65536'])
      expect(parsePeerAddress(bad)).toBeNull();
  });
});
