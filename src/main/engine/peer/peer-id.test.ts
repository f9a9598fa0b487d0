import { describe, expect, it } from 'vitest';
import { describeClient, generatePeerId, PEER_ID_PREFIX } from './peer-id';

const id = (s: string) => Buffer.from(s.padEnd(20, 'x'), 'latin1');

describe('peer ids (BEP 20)', () => {
  it('ours are 20 printable bytes with the Tessera prefix, and differ each time', () => {
    const a = generatePeerId();
    const b = generatePeerId();
    expect(a).toHaveLength(20);
    expect(Buffer.from(a).toString('latin1').startsWith(PEER_ID_PREFIX)).toBe(true);
    expect(Buffer.from(a).toString('latin1')).toMatch(/^[\x20-\x7e]{20}$/);
    expect(Buffer.compare(a, b)).not.toBe(0);
    expect(describeClient(a)).toBe('Tessera 0.1.0');
  });

  it('names the clients we meet in tests and in the wild', () => {
    expect(describeClient(id('-TR3000-'))).toBe('Transmission 3.00');
    expect(describeClient(id('-qB4520-'))).toBe('qBittorrent 4.5.2');
    expect(describeClient(id('-TR2940-'))).toBe('Transmission 2.94');
    expect(describeClient(id('-TR0072-'))).toBe('Transmission 0.72');
    expect(describeClient(id('-TR4050-'))).toBe('Transmission 4.0.5');
    expect(describeClient(id('-TR400B-'))).toBe('Transmission 4.0.0 (beta)');
    // Azureus style is major, minor, patch, build: -TS0100- is 0.1.0 (so -TS0001- would be a build 1).
    expect(describeClient(id('-TS1230-'))).toBe('Tessera 1.2.3');
    // rtorrent 0.9.8 runs on rakshasa's libTorrent 0.13.8; Rasterbar's is upper case.
    expect(describeClient(id('-lt0D80-'))).toBe('libTorrent (rakshasa) 0.13.8');
    expect(describeClient(id('-LT2090-'))).toBe('libtorrent (Rasterbar) 2.0.9');
    expect(describeClient(id('-DE211s-'))).toBe('Deluge 2.1.1');
    expect(describeClient(id('A2-1-36-0-'))).toBe('aria2 1.36.0');
    expect(describeClient(id('-UT3550-'))).toBe('µTorrent 3.5.5');
    expect(describeClient(id('M7-4-3--'))).toBe('BitTorrent 7.4.3');
    expect(describeClient(Buffer.alloc(20))).toBe('unknown');
    expect(describeClient(new Uint8Array(0))).toBe('unknown');
  });

  it('decodes Shadow-style ids (BEP 20): one letter, version characters, dashes', () => {
    expect(describeClient(id('S58B-----'))).toBe('Shadow 5.8.11');
    expect(describeClient(id('T03I--'))).toBe('BitTornado 0.3.18');
    expect(describeClient(id('A310--'))).toBe('ABC 3.1.0');
  });
});
