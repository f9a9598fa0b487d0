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
    expect(describeClient(id('-lt0D80-'))).toBe('libtorrent (Rasterbar) 0.13.8');
    expect(describeClient(id('A2-1-36-0-'))).toBe('aria2 1.36.0');
    expect(describeClient(id('-UT3550-'))).toBe('µTorrent 3.5.5');
    expect(describeClient(id('M7-4-3--'))).toBe('BitTorrent 7.4.3');
    expect(describeClient(Buffer.alloc(20))).toBe('unknown');
  });
});
