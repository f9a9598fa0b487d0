import { readFile, stat } from 'node:fs/promises';
import { EngineError, parseMetainfo, type Metainfo } from '../engine';

/** The largest .torrent we read (libtorrent's limit too): bigger is hostile or a mistake. */
const MAX_TORRENT_FILE_BYTES = 10_000_000;

export async function readTorrentBytes(file: string): Promise<Uint8Array> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new EngineError('bad-file', `${file} is not a file`);
    size = st.size;
  } catch (err) {
    if (err instanceof EngineError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new EngineError(
      'bad-file',
      code === 'ENOENT' ? `${file}: no such file` : `${file}: ${(err as Error).message}`,
    );
  }
  if (size > MAX_TORRENT_FILE_BYTES)
    throw new EngineError(
      'invalid-torrent',
      `${file} is ${size} bytes, more than a .torrent file can be (10 MB)`,
    );
  return readFile(file);
}

export async function readTorrentFile(file: string): Promise<Metainfo> {
  return parseMetainfo(await readTorrentBytes(file));
}
