// Metainfo files made by the real `mktorrent`, plus the info-hash of any .torrent (needed to
// whitelist it in Debian's opentracker, which refuses unknown hashes).
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { HarnessError } from './errors';
import { runCommand } from './proc';

export interface MakeTorrentOptions {
  /** A file or a directory. */
  source: string;
  out: string;
  /** One URL per tier (mktorrent: each -a is a backup tier). */
  announce: readonly string[];
  pieceLengthLog2: number;
  name?: string;
  private?: boolean;
}

export async function makeTorrent(o: MakeTorrentOptions): Promise<void> {
  // mktorrent refuses to overwrite its output.
  await rm(o.out, { force: true });
  const args = ['-l', String(o.pieceLengthLog2), '-o', o.out, '-d'];
  for (const a of o.announce) args.push('-a', a);
  if (o.name !== undefined) args.push('-n', o.name);
  if (o.private === true) args.push('-p');
  args.push(o.source);
  await runCommand('mktorrent', args, { timeoutMs: 120_000 });
}

/** Hex SHA-1 of the raw bytes of the top-level `info` value. */
export async function infoHashOf(torrentPath: string): Promise<string> {
  const buf = await readFile(torrentPath);
  const span = findInfoSpan(buf);
  if (!span) throw new HarnessError('BAD_TORRENT', `${torrentPath} has no info dictionary`);
  return createHash('sha1').update(buf.subarray(span[0], span[1])).digest('hex');
}

function findInfoSpan(buf: Buffer): [number, number] | undefined {
  if (buf[0] !== 0x64) return undefined; // 'd'
  let i = 1;
  while (i < buf.length && buf[i] !== 0x65) {
    const keyEnd = skip(buf, i);
    const key = buf.subarray(buf.indexOf(0x3a, i) + 1, keyEnd).toString('latin1');
    const valEnd = skip(buf, keyEnd);
    if (key === 'info') return [keyEnd, valEnd];
    i = valEnd;
  }
  return undefined;
}

/** Index just past the bencoded value starting at `i`. */
function skip(buf: Buffer, i: number): number {
  const c = buf[i];
  if (c === 0x69) return buf.indexOf(0x65, i) + 1; // i...e
  if (c === 0x6c || c === 0x64) {
    let j = i + 1;
    while (buf[j] !== 0x65) {
      if (j >= buf.length) throw new HarnessError('BAD_TORRENT', 'truncated bencode');
      j = skip(buf, j);
    }
    return j + 1;
  }
  const colon = buf.indexOf(0x3a, i);
  if (colon < 0) throw new HarnessError('BAD_TORRENT', 'bad bencode string');
  return colon + 1 + Number(buf.subarray(i, colon).toString('latin1'));
}
