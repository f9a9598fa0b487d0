import { randomBytes } from 'node:crypto';

/** BEP 20, Azureus style: '-' + two letters + four version characters + '-'. */
export const PEER_ID_PREFIX = '-TS0100-';

const PRINTABLE = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function generatePeerId(): Uint8Array {
  const id = Buffer.alloc(20);
  id.write(PEER_ID_PREFIX, 0, 'latin1');
  const random = randomBytes(12);
  for (let i = 0; i < 12; i++) id[8 + i] = PRINTABLE.charCodeAt(random[i]! % PRINTABLE.length);
  return id;
}

const AZUREUS_CLIENTS: Record<string, string> = {
  TS: 'Tessera',
  TR: 'Transmission',
  qB: 'qBittorrent',
  // BEP 20's two libtorrents: upper case is Rasterbar's (qBittorrent, Deluge), lower case is
  // rakshasa's, the library under rtorrent.
  LT: 'libtorrent (Rasterbar)',
  lt: 'libTorrent (rakshasa)',
  UT: 'µTorrent',
  ut: 'µTorrent',
  DE: 'Deluge',
  AZ: 'Vuze',
  BT: 'BitTorrent',
  WW: 'WebTorrent',
  RB: 'rqbit',
  rq: 'rqbit',
  BI: 'BiglyBT',
  KT: 'KTorrent',
  TL: 'Tribler',
  FD: 'Free Download Manager',
  LW: 'LimeWire',
};

/** 'a'..'z' as 10..35, the way libtorrent and rtorrent encode version digits past 9. */
function versionDigit(c: string): string {
  if (/[0-9]/.test(c)) return c;
  if (/[A-Za-z]/.test(c)) return String(c.toUpperCase().charCodeAt(0) - 55);
  return c;
}

/**
 * Transmission changed its scheme three times: 0006 → 0.6, 0072 → 0.72, up to 3.00 the form
 * X.YY (3000 → 3.00, 294Z → 2.94 dev), and from 4.0 three digits (4050 → 4.0.5).
 */
function transmissionVersion(v: string): string {
  const suffix = v[3] === 'Z' || v[3] === 'X' ? ' (dev)' : v[3] === 'B' ? ' (beta)' : '';
  if (v.startsWith('000')) return `0.${v[3]}`;
  if (v.startsWith('00')) return `0.${v.slice(2, 4)}`;
  if (v[0]! <= '3') return `${v[0]}.${v.slice(1, 3)}${suffix}`;
  return `${[...v.slice(0, 3)].map(versionDigit).join('.')}${suffix}`;
}

/** A name for the client behind a peer id, for the Peers view ("Transmission 3.00"). */
export function describeClient(peerId: Uint8Array): string {
  const text = Buffer.from(peerId).toString('latin1');
  const az = /^-([A-Za-z~]{2})([0-9A-Za-z]{4})-/.exec(text);
  if (az) {
    const code = az[1]!;
    const v = az[2]!;
    const name = AZUREUS_CLIENTS[code] ?? code;
    switch (code) {
      case 'TR':
        return `${name} ${transmissionVersion(v)}`;
      case 'qB':
      case 'TS':
        return `${name} ${v.slice(0, 1)}.${v.slice(1, 2)}.${v.slice(2, 3)}`;
      case 'lt':
      case 'LT':
        return `${name} ${[...v.slice(0, 3)].map(versionDigit).join('.')}`;
      default:
        return `${name} ${[...v.slice(0, 3)].map(versionDigit).join('.')}`;
    }
  }
  // aria2: "A2-1-36-0-" then random bytes.
  const aria = /^A2-(\d+)-(\d+)-(\d+)-/.exec(text);
  if (aria) return `aria2 ${aria[1]}.${aria[2]}.${aria[3]}`;
  // rtorrent/libtorrent (rakshasa) uses "-lt0D80-" (handled above); Mainline: "M7-4-3--".
  const mainline = /^M(\d+)-(\d+)-(\d+)-/.exec(text);
  if (mainline) return `BitTorrent ${mainline[1]}.${mainline[2]}.${mainline[3]}`;
  // Shadow style: one letter then version characters, e.g. "S58B-----".
  const shadow: Record<string, string> = {
    A: 'ABC',
    O: 'Osprey',
    Q: 'BTQueue',
    R: 'Tribler',
    S: 'Shadow',
    T: 'BitTornado',
    U: 'UPnP NAT',
  };
  const sh = /^([AOQRSTU])([0-9A-Za-z.-]{3,5})-{2,}/.exec(text);
  if (sh) return `${shadow[sh[1]!]} ${[...sh[2]!.replace(/-/g, '')].map(versionDigit).join('.')}`;
  return 'unknown';
}
