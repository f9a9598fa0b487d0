import { createStore } from 'zustand/vanilla';
import type { SessionInfo } from '../../shared/ipc';
import type { TorrentDetail, TorrentSummary } from '../../shared/torrent-types';

export interface Notice {
  id: number;
  level: 'info' | 'error';
  message: string;
}

export interface AppState {
  /** Rows by id. A row keeps its identity until its torrent changes (STYLE.md 14). */
  torrents: Record<string, TorrentSummary>;
  /** Display order: oldest first, as added. */
  order: string[];
  selected: string[];
  /** The detail of the torrent on screen (the first selected), minus the piece states. */
  detail: Omit<TorrentDetail, 'pieces'> | null;
  downloadDir: string;
  notices: Notice[];
  connected: boolean;
  /** Folder inside the download folder that new torrents go to ('' = the download folder). */
  saveTo: string;
}

export interface AppActions {
  loadSession(info: SessionInfo): void;
  applySnapshot(changed: TorrentSummary[], removed: string[]): void;
  applyDetail(detail: TorrentDetail): void;
  select(ids: string[]): void;
  notify(level: Notice['level'], message: string): void;
  dismiss(id: number): void;
  setConnected(connected: boolean): void;
  setSaveTo(saveTo: string): void;
}

export type AppStore = ReturnType<typeof createAppStore>;

/**
 * Piece states change many times a second; they live outside React state, in a holder the
 * piece map reads from in requestAnimationFrame (STYLE.md: high-frequency data via subscribe).
 */
export class PieceStates {
  private listeners = new Set<() => void>();
  pieces: Uint8Array = new Uint8Array(0);
  torrentId: string | null = null;

  set(torrentId: string | null, pieces: Uint8Array): void {
    this.torrentId = torrentId;
    this.pieces = pieces;
    for (const l of this.listeners) l();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

let nextNoticeId = 1;

export function createAppStore(pieceStates = new PieceStates()) {
  const store = createStore<AppState & AppActions & { pieceStates: PieceStates }>()((set, get) => ({
    torrents: {},
    order: [],
    selected: [],
    detail: null,
    downloadDir: '',
    notices: [],
    connected: false,
    saveTo: '',
    pieceStates,

    loadSession(info) {
      const torrents: Record<string, TorrentSummary> = {};
      for (const t of info.torrents) torrents[t.id] = t;
      const order = info.torrents
        .slice()
        .sort((a, b) => a.addedAt - b.addedAt)
        .map((t) => t.id);
      set({
        torrents,
        order,
        downloadDir: info.downloadDir,
        selected: get().selected.filter((id) => id in torrents),
      });
    },

    applySnapshot(changed, removed) {
      if (changed.length === 0 && removed.length === 0) return;
      const state = get();
      const torrents = { ...state.torrents };
      let order = state.order;
      for (const t of changed) {
        if (!(t.id in torrents)) order = [...order, t.id];
        torrents[t.id] = t;
      }
      if (removed.length > 0) {
        const gone = new Set(removed);
        for (const id of removed) delete torrents[id];
        order = order.filter((id) => !gone.has(id));
      }
      const selected =
        removed.length > 0 ? state.selected.filter((id) => id in torrents) : state.selected;
      const detail = state.detail && !(state.detail.summary.id in torrents) ? null : state.detail;
      set({ torrents, order, selected, detail });
    },

    applyDetail(detail) {
      const focus = get().selected[0] ?? null;
      if (detail.summary.id !== focus) return;
      const { pieces, ...rest } = detail;
      get().pieceStates.set(detail.summary.id, pieces);
      set({ detail: rest });
    },

    select(ids) {
      const known = ids.filter((id) => id in get().torrents);
      const focusChanged = known[0] !== get().selected[0];
      set({ selected: known, ...(focusChanged ? { detail: null } : {}) });
      if (focusChanged) get().pieceStates.set(null, new Uint8Array(0));
    },

    notify(level, message) {
      const notice = { id: nextNoticeId++, level, message };
      set({ notices: [...get().notices.slice(-4), notice] });
    },

    dismiss(id) {
      set({ notices: get().notices.filter((n) => n.id !== id) });
    },

    setConnected(connected) {
      set({ connected });
    },

    setSaveTo(saveTo) {
      set({ saveTo });
    },
  }));
  return store;
}
