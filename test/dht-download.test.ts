// A download whose peers come only from the DHT (BEP 5): aria2c seeds a torrent with DHT on and
// joins a small DHT through a Tessera node; `tessera download` gets nothing but a magnet link
// without trackers or peers (MAG-04) and a bootstrap node, finds aria2 by get_peers, fetches the
// metadata from it (BEP 9) and the data. Every byte is compared with the source.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DhtNode } from '../src/main/engine/dht';
import {
  allocateHost,
  freeUdpPort,
  compareTrees,
  infoHashOf,
  makeRandomFile,
  makeTempDir,
  makeTorrent,
  startAria2Seeder,
  waitFor,
  type Seeder,
} from './harness';
import { runCli } from './support/run-cli';

const MiB = 1 << 20;

let tmp: { path: string; remove(): Promise<void> };
let entry: DhtNode;
let aria2: Seeder;
let infoHash: string;

beforeAll(async () => {
  tmp = await makeTempDir('tessera-dht-download-');
  const data = join(tmp.path, 'data');
  await makeRandomFile(join(data, 'dht.bin'), 12 * MiB, 41);
  const torrent = join(tmp.path, 'dht.torrent');
  // A dead tracker only: aria2 can be found through the DHT alone.
  await makeTorrent({
    source: join(data, 'dht.bin'),
    out: torrent,
    announce: ['http://127.0.0.1:9/announce'],
    pieceLengthLog2: 16,
  });
  infoHash = await infoHashOf(torrent);
  entry = await DhtNode.create({ host: allocateHost(), bootstrap: [] });
  let announced = false;
  entry.on('announce', (hash) => {
    if (hash === infoHash) announced = true;
  });
  const host = allocateHost();
  aria2 = await startAria2Seeder({
    torrent,
    dataDir: data,
    host,
    workDir: join(tmp.path, 'aria2'),
    dht: {
      port: await freeUdpPort(host),
      entryPoint: { host: entry.host, port: entry.port },
      filePath: join(tmp.path, 'aria2', 'dht.dat'),
    },
  });
  await waitFor('aria2 to announce itself in the DHT', async () => announced || undefined, {
    timeoutMs: 60_000,
    intervalMs: 250,
  });
}, 90_000);

afterAll(async () => {
  await aria2?.stop();
  await entry?.close();
  await tmp?.remove();
});

describe('peers from the DHT only', () => {
  it('downloads a magnet link with no trackers and no peers, from aria2 found through the DHT', async () => {
    const out = join(tmp.path, 'out');
    const result = await runCli(
      [
        'download',
        `magnet:?xt=urn:btih:${infoHash}`,
        '--out',
        out,
        '--json',
        '--bind',
        allocateHost(),
        '--dht-bootstrap',
        `${entry.host}:${entry.port}`,
      ],
      { timeoutMs: 90_000, stateHome: join(tmp.path, 'xdg') },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.events.at(-1)).toMatchObject({ event: 'done', progress: 1 });
    await compareTrees(join(tmp.path, 'data', 'dht.bin'), join(out, 'dht.bin'));
  });
});
