import { describe, expect, it } from 'vitest';
import type { TorrentDetail, TorrentSummary } from '../../shared/torrent-types';
import { createAppStore } from './store';

function summary(id: string, over: Partial<TorrentSummary> = {}): TorrentSummary {
  return {
    id,
    name: `t-${id.slice(0, 4)}`,
    state: 'downloading',
    errorMessage: null,
    totalBytes: 100,
    doneBytes: 0,
    progress: 0,
    pieceCount: 4,
    piecesDone: 0,
    downBytesPerSec: 0,
    upBytesPerSec: 0,
    downloadedBytes: 0,
    uploadedBytes: 0,
    wastedBytes: 0,
    peersConnected: 0,
    peersKnown: 0,
    seedsConnected: 0,
    etaSec: null,
    downloadDir: '/d',
    addedAt: Number.parseInt(id.slice(0, 2), 16),
    ...over,
  };
}

const A = `01${'a'.repeat(38)}`;
const B = `02${'b'.repeat(38)}`;

describe('app store', () => {
  it('applies snapshots: new rows appended, changed rows replaced, unchanged rows keep identity', () => {
    const store = createAppStore();
    store
      .getState()
      .loadSession({ torrents: [summary(B), summary(A)], downloadDir: '/d', host: 'server' });
    expect(store.getState().order).toEqual([A, B]);
    const rowB = store.getState().torrents[B];
    store.getState().applySnapshot([summary(A, { progress: 0.5 })], []);
    expect(store.getState().torrents[A]!.progress).toBe(0.5);
    expect(store.getState().torrents[B]).toBe(rowB);
    const C = `03${'c'.repeat(38)}`;
    store.getState().applySnapshot([summary(C)], [A]);
    expect(store.getState().order).toEqual([B, C]);
  });

  it('removing a selected torrent drops it from the selection and its detail', () => {
    const store = createAppStore();
    store
      .getState()
      .loadSession({ torrents: [summary(A), summary(B)], downloadDir: '/d', host: 'server' });
    store.getState().select([A, B]);
    const detail: TorrentDetail = {
      summary: summary(A),
      sources: [],
      dht: { state: 'off' },
      pieces: Uint8Array.from([2, 1, 0, 0]),
      peers: [],
      files: [],
      trackers: [],
      infoHash: A,
      pieceLength: 16384,
      isPrivate: false,
      comment: null,
      createdBy: null,
    };
    store.getState().applyDetail(detail);
    expect(store.getState().detail?.summary.id).toBe(A);
    expect([...store.getState().pieceStates.pieces]).toEqual([2, 1, 0, 0]);
    store.getState().applySnapshot([], [A]);
    expect(store.getState().selected).toEqual([B]);
    expect(store.getState().detail).toBeNull();
  });

  it('ignores detail for a torrent that is no longer on screen', () => {
    const store = createAppStore();
    store
      .getState()
      .loadSession({ torrents: [summary(A), summary(B)], downloadDir: '/d', host: 'server' });
    store.getState().select([B]);
    store.getState().applyDetail({
      summary: summary(A),
      sources: [],
      dht: { state: 'off' },
      pieces: new Uint8Array(4),
      peers: [],
      files: [],
      trackers: [],
      infoHash: A,
      pieceLength: 1,
      isPrivate: false,
      comment: null,
      createdBy: null,
    });
    expect(store.getState().detail).toBeNull();
  });

  it('keeps the last few notices', () => {
    const store = createAppStore();
    for (let i = 0; i < 8; i++) store.getState().notify('error', `n${i}`);
    expect(store.getState().notices.map((n) => n.message)).toEqual(['n3', 'n4', 'n5', 'n6', 'n7']);
  });
});
