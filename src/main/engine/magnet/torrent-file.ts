import { bencode } from '../bencode/encode';

/**
 * A .torrent file around an info dict fetched from peers: the dict's bytes are kept verbatim
 * (IH-03: re-encoding could change the info-hash), and the magnet's trackers become one tier
 * each (BEP 12).
 */
export function torrentFileFromMetadata(infoBytes: Uint8Array, trackers: string[]): Uint8Array {
  const outer = new Map<string, string | string[][]>();
  if (trackers.length > 0) {
    outer.set('announce', trackers[0]!);
    outer.set(
      'announce-list',
      trackers.map((t) => [t]),
    );
  }
  // Every key here sorts before "info", so the dict stays canonical with info appended last.
  const head = bencode(outer);
  return Buffer.concat([
    head.subarray(0, head.length - 1),
    Buffer.from('4:info'),
    infoBytes,
    Buffer.from('e'),
  ]);
}
