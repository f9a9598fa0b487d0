// Builds real .torrent files in memory, with real piece hashes, for tests that run the engine
// in-process (no mktorrent, no disk unless asked).
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bencode, type BEncodable } from '../../src/main/engine/bencode/encode';

export interface FixtureFile {
  path: string[];
  data: Buffer;
}

export interface TorrentFixture {
  torrent: Uint8Array;
  name: string;
  files: FixtureFile[];
  /** Every file's bytes concatenated, as the torrent sees them. */
  content: Buffer;
  pieceLength: number;
  /** Writes the content where a client downloading into `dir` would put it. */
  writeTo(dir: string): Promise<void>;
}

export function makeFixture(o: {
  name: string;
  files: { path: string[]; bytes: number }[] | { single: number };
  pieceLength: number;
  announce?: string;
}): TorrentFixture {
  const files: FixtureFile[] =
    'single' in o.files
      ? [{ path: [], data: randomBytes(o.files.single) }]
      : o.files.map((f) => ({ path: f.path, data: randomBytes(f.bytes) }));
  const content = Buffer.concat(files.map((f) => f.data));
  const hashes: Buffer[] = [];
  for (let at = 0; at < content.length; at += o.pieceLength)
    hashes.push(
      createHash('sha1')
        .update(content.subarray(at, at + o.pieceLength))
        .digest(),
    );
  const info: Record<string, BEncodable> = {
    name: o.name,
    'piece length': o.pieceLength,
    pieces: Buffer.concat(hashes),
  };
  if ('single' in o.files) info.length = content.length;
  else info.files = files.map((f) => ({ length: f.data.length, path: f.path }));
  const top: Record<string, BEncodable> = { info };
  if (o.announce) top.announce = o.announce;
  const isSingle = 'single' in o.files;
  return {
    torrent: bencode(top),
    name: o.name,
    files,
    content,
    pieceLength: o.pieceLength,
    async writeTo(dir: string) {
      for (const f of files) {
        const target = isSingle ? path.join(dir, o.name) : path.join(dir, o.name, ...f.path);
        await mkdir(path.dirname(target), { recursive: true });
        await writeFile(target, f.data);
      }
    },
  };
}
