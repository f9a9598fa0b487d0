// The app as a person uses it, in Debian's Chromium, against `tessera serve` running the real
// engine, downloading from real seeders (qBittorrent and aria2) through opentracker on loopback.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { allocateHost, compareTrees, makeTempDir, startSwarm, type Swarm } from '../test/harness';
import { startServe, type ServeProcess } from './serve-process';

const MiB = 1 << 20;
const ARTIFACTS = path.join(import.meta.dirname, 'artifacts');

let tmp: { path: string; remove(): Promise<void> };
let swarm: Swarm;
let serve: ServeProcess;

test.beforeAll(async () => {
  tmp = await makeTempDir();
  swarm = await startSwarm({
    workDir: tmp.path,
    name: 'Tessera e2e — ünïcode',
    files: [
      { path: 'movie.bin', bytes: 40 * MiB },
      { path: 'extras/readme.txt', bytes: 1234 },
    ],
    pieceLengthLog2: 18,
    seeders: ['qbittorrent', 'aria2'],
    seed: 31,
    // Slow enough to watch the map fill and to pause half-way.
    uploadLimitKiBps: 3 * 1024,
  });
  serve = await startServe({
    downloadDir: path.join(tmp.path, 'downloads'),
    stateDir: path.join(tmp.path, 'state'),
    peerHost: allocateHost(),
  });
});

test.afterAll(async () => {
  await serve?.stop();
  await swarm?.stop();
  await tmp?.remove();
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

/** Drops files on the window with a real `drop` event carrying a DataTransfer. */
async function dropFile(page: Page, name: string, bytes: Uint8Array): Promise<void> {
  const dataTransfer = await page.evaluateHandle(
    ({ name, data }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(data)], name, { type: 'application/x-bittorrent' }));
      return dt;
    },
    { name, data: [...bytes] },
  );
  await page.dispatchEvent('.app', 'dragenter', { dataTransfer });
  await expect(page.getByTestId('drop-target')).toBeVisible();
  await shot(page, '02-dragging');
  await page.dispatchEvent('.app', 'drop', { dataTransfer });
}

const summaryCount = async (page: Page): Promise<number> => {
  const text = (await page.getByTestId('piece-summary').textContent()) ?? '';
  return Number(/^([\d,]+) of/.exec(text)?.[1]?.replace(/,/g, '') ?? -1);
};

test('drop a .torrent, watch it download, pause, resume, finish; peers listed', async ({
  page,
}) => {
  await page.goto(serve.url);
  await expect(page.getByRole('status')).toContainText('Saving to');
  await shot(page, '01-empty');

  // A file that is not a torrent: a clear message, nothing added.
  await dropFile(page, 'notes.torrent', new TextEncoder().encode('<html>not a torrent</html>'));
  await expect(page.getByRole('alert')).toContainText('notes.torrent:');
  await expect(page.getByRole('table', { name: 'Torrents' })).toHaveCount(0);

  const torrentBytes = new Uint8Array(await readFile(swarm.torrentPath));
  await dropFile(page, path.basename(swarm.torrentPath), torrentBytes);
  const row = page.getByRole('row', { name: swarm.contentName });
  await expect(row).toBeVisible();
  await row.click();
  await shot(page, '03-added');

  // The piece map fills: its label (the text summary) counts up.
  const map = page.getByRole('img', { name: /pieces/ });
  await expect(map).toBeVisible();
  await expect.poll(() => summaryCount(page), { timeout: 60_000 }).toBeGreaterThan(10);
  await shot(page, '04-downloading');

  // The Peers tab lists the seeders.
  await page.getByRole('tab', { name: /Peers/ }).click();
  const peers = page.getByRole('table', { name: 'Peers' });
  await expect(peers).toBeVisible();
  await expect(
    peers.getByRole('row', {
      name: new RegExp(`^${swarm.seeders[0]!.host.replace(/\./g, '\\.')}:`),
    }),
  ).toBeVisible();
  await expect(peers).toContainText(/qBittorrent|aria2/);
  await shot(page, '05-peers');
  // The Sources tab says where they came from.
  await page.getByRole('tab', { name: 'Sources' }).click();
  await expect(
    page.getByRole('table', { name: 'Peer sources' }).getByRole('row', { name: /^Trackers 2 2$/ }),
  ).toBeVisible();
  await expect(page.getByRole('table', { name: 'Trackers' })).toContainText(swarm.announceUrl);
  // No bootstrap node answers on this machine: the DHT runs with an empty table.
  await expect(page.getByTestId('dht-status')).toHaveText(/^DHT: \d+ nodes? in the routing table$/);
  await shot(page, '05b-sources');
  await page.getByRole('tab', { name: 'Pieces' }).click();

  // Pause: no more data arrives.
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await expect(row.getByRole('cell', { name: 'Paused' })).toBeVisible();
  const progress = row.getByRole('progressbar');
  // The piece map's detail stream may trail the row by a frame or two: let it catch up.
  let previous = -1;
  await expect
    .poll(
      async () => {
        const [before, now] = [previous, await summaryCount(page)];
        previous = now;
        return now === before;
      },
      { intervals: [1000], timeout: 15_000 },
    )
    .toBe(true);
  const pausedAt = await progress.getAttribute('aria-valuenow');
  const piecesAtPause = await summaryCount(page);
  await page.waitForTimeout(2500);
  expect(await progress.getAttribute('aria-valuenow')).toBe(pausedAt);
  expect(await summaryCount(page)).toBe(piecesAtPause);
  expect(Number(pausedAt)).toBeLessThan(100);
  await shot(page, '06-paused');

  // Resume: it finishes, and every byte matches the source.
  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await expect(row.getByRole('cell', { name: 'Seeding' })).toBeVisible({ timeout: 120_000 });
  await expect(progress).toHaveAttribute('aria-valuenow', '100');
  await expect(page.getByTestId('piece-summary')).toHaveText(/^(\d[\d,]*) of \1 pieces, 100 %$/);
  await shot(page, '07-done');
  await compareTrees(
    path.join(swarm.sourceDir, swarm.contentName),
    path.join(tmp.path, 'downloads', swarm.contentName),
  );

  // Remove asks first, and keeps the data unless told otherwise.
  await page.getByRole('button', { name: 'Remove', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText(swarm.contentName);
  await shot(page, '08-remove-dialog');
  await dialog.getByRole('button', { name: 'Remove torrent' }).click();
  await expect(row).toHaveCount(0);
  await compareTrees(
    path.join(swarm.sourceDir, swarm.contentName),
    path.join(tmp.path, 'downloads', swarm.contentName),
  );
});

test('paste a magnet link: it shows whom it asks, fetches the metadata and downloads', async ({
  page,
}) => {
  await page.goto(serve.url);
  await expect(page.getByRole('status')).toContainText('Saving to');

  // A bad link in the box: a specific message, nothing added.
  const box = page.getByRole('textbox', { name: 'Magnet link' });
  await box.fill('magnet:?xt=urn:btih:not-a-hash');
  await box.press('Enter');
  await expect(page.getByRole('alert').last()).toContainText('neither 40 hex digits');

  // A link nobody can answer yet: listed at once, saying why it waits.
  await box.fill(`magnet:?xt=urn:btih:${'ab'.repeat(20)}&dn=Nobody+has+this`);
  await page.getByRole('button', { name: 'Add magnet' }).click();
  const waiting = page.getByRole('row', { name: /Nobody has this/ });
  await expect(waiting.getByRole('cell', { name: /Fetching metadata/ })).toContainText(
    'no peer to ask yet',
  );
  await expect(box).toHaveValue('');

  // Ctrl/Cmd+V on the window: a real paste event carrying the link.
  await page.getByRole('textbox', { name: 'Save to folder' }).fill('from-magnet');
  await page.locator('.content').click();
  const magnet = `magnet:?xt=urn:btih:${swarm.infoHash}&dn=pasted&tr=${encodeURIComponent(swarm.announceUrl)}`;
  await page.evaluate((text) => {
    const data = new DataTransfer();
    data.setData('text/plain', text);
    window.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data }));
  }, magnet);
  const row = page.getByRole('row', { name: swarm.contentName });
  await expect(row).toBeVisible({ timeout: 30_000 });
  await shot(page, '09-magnet');
  await expect(row.getByRole('cell', { name: 'Seeding' })).toBeVisible({ timeout: 120_000 });
  await compareTrees(
    path.join(swarm.sourceDir, swarm.contentName),
    path.join(tmp.path, 'downloads', 'from-magnet', swarm.contentName),
  );
});

test('settings: the DHT can be switched off and bootstrap nodes edited; bad input is refused', async ({
  page,
}) => {
  await page.goto(serve.url);
  await expect(page.getByRole('status')).toContainText('Saving to');
  await page.getByRole('button', { name: 'Settings' }).click();
  const dialog = page.getByRole('dialog', { name: 'Settings' });
  const dht = dialog.getByRole('checkbox', { name: /Find peers through the DHT/ });
  await expect(dht).toBeChecked();
  const nodes = dialog.getByRole('textbox', { name: /DHT bootstrap nodes/ });
  await nodes.fill('127.0.0.1:6881\nnot a node');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog.getByRole('alert')).toContainText('"not a node" is not host:port');
  await nodes.fill('127.0.0.1:6881');
  await dht.uncheck();
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toHaveCount(0);
  // Saved by the engine: a fresh window reads them back.
  await page.reload();
  await page.getByRole('button', { name: 'Settings' }).click();
  await expect(dht).not.toBeChecked();
  await expect(nodes).toHaveValue('127.0.0.1:6881');
  await shot(page, '10-settings');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
});
