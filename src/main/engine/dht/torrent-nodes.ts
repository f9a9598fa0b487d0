import type { BValue } from '../bencode/decode';
import type { DhtHost } from './dht-node';

/**
 * The `nodes` key of a trackerless .torrent (BEP 5, DH-05): a list of [host, port] pairs to
 * bootstrap from (each then goes to DhtNode.addNode). Malformed entries are skipped; at most 100.
 */
export function torrentNodes(value: BValue | undefined): DhtHost[] {
  if (!Array.isArray(value)) return [];
  const out: DhtHost[] = [];
  for (const entry of value) {
    if (out.length >= 100) break;
    if (!Array.isArray(entry) || entry.length !== 2) continue;
    const [host, port] = entry as [BValue, BValue];
    if (!(host instanceof Uint8Array) || typeof port !== 'number') continue;
    if (!Number.isInteger(port) || port < 1 || port > 65535) continue;
    const text = Buffer.from(host).toString('utf8');
    // Host names or IP literals only: nothing that could smuggle a path or a scheme.
    if (text.length === 0 || text.length > 253 || !/^[A-Za-z0-9.:-]+$/.test(text)) continue;
    out.push({ host: text, port });
  }
  return out;
}
