// The one contract between the engine's side (Electron main, or `tessera serve`) and the
// renderer. Every command and event is listed here with its payload types; both front doors
// (Electron IPC and the WebSocket) bind exactly this, and nothing else crosses.
import type { Settings } from './settings';
import type { TorrentDetail, TorrentSummary } from './torrent-types';

/** Commands: name → argument and result. Channels are `domain:verb` (STYLE.md 1). */
export interface Commands {
  /** Adds a .torrent from its bytes (dropped or picked by the person). */
  /**
   * Adds a .torrent from its bytes (dropped or picked by the person). `saveTo` is a folder
   * inside the session's download folder ('a/b'); absent or '' means the download folder itself.
   */
  'torrent:add': {
    args: { fileName: string; bytes: Uint8Array; saveTo?: string };
    result: TorrentSummary;
  };
  /** A magnet link: the torrent appears at once and fetches its metadata from peers. */
  'torrent:addMagnet': { args: { uri: string; saveTo?: string }; result: TorrentSummary };
  'torrent:pause': { args: { ids: string[] }; result: null };
  'torrent:resume': { args: { ids: string[] }; result: null };
  'torrent:remove': { args: { ids: string[]; deleteData: boolean }; result: null };
  /** "Verify data": hash everything on disk again and keep what matches. */
  'torrent:verify': { args: { ids: string[] }; result: null };
  /** Which torrent's detail (pieces, peers, files, trackers) to stream; null for none. */
  'torrent:select': { args: { id: string | null }; result: TorrentDetail | null };
  /** Everything the window needs when it opens. */
  'session:get': { args: Record<string, never>; result: SessionInfo };
  'settings:get': { args: Record<string, never>; result: Settings };
  /** Replaces the settings (checked by validateSettings); the DHT starts or stops to match. */
  'settings:set': { args: { settings: Settings }; result: Settings };
}

export interface SessionInfo {
  torrents: TorrentSummary[];
  downloadDir: string;
  /** Where the engine runs, for the status bar. */
  host: 'electron' | 'server';
}

/** Events: name → payload. Channels are `domain:noun`. */
export interface Events {
  /** The torrent list: rows that changed since the last snapshot, at most a few per second. */
  'session:snapshot': { changed: TorrentSummary[]; removed: string[] };
  /** The selected torrent's detail, at most a few per second while it changes. */
  'torrent:detail': TorrentDetail;
  /** Something went wrong that the person should know about (e.g. disk full on a torrent). */
  'app:notice': { level: 'info' | 'error'; message: string };
}

export type CommandName = keyof Commands;
export type EventName = keyof Events;
export type CommandArgs<K extends CommandName> = Commands[K]['args'];
export type CommandResult<K extends CommandName> = Commands[K]['result'];

export interface ErrorInfo {
  code: string;
  message: string;
}

/** Results cross as data, never as thrown exceptions (STYLE.md 7). */
export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo };

/**
 * The allow-lists. A `Record` over the interface's keys: adding a command to `Commands`
 * without listing it here fails to compile, and nothing not listed is ever bound.
 */
export const COMMAND_NAMES = Object.keys({
  'torrent:add': true,
  'torrent:addMagnet': true,
  'torrent:pause': true,
  'torrent:resume': true,
  'torrent:remove': true,
  'torrent:verify': true,
  'torrent:select': true,
  'session:get': true,
  'settings:get': true,
  'settings:set': true,
} satisfies Record<CommandName, true>) as CommandName[];

export const EVENT_NAMES = Object.keys({
  'session:snapshot': true,
  'torrent:detail': true,
  'app:notice': true,
} satisfies Record<EventName, true>) as EventName[];

export function isCommandName(name: unknown): name is CommandName {
  return typeof name === 'string' && (COMMAND_NAMES as string[]).includes(name);
}

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && (EVENT_NAMES as string[]).includes(name);
}

/**
 * What the renderer sees of the engine, whichever front door it came through: the Electron
 * preload's `window.tessera`, or the WebSocket client. No component knows which.
 */
export interface EngineApi {
  invoke<K extends CommandName>(name: K, args: CommandArgs<K>): Promise<Result<CommandResult<K>>>;
  on<E extends EventName>(name: E, listener: (payload: Events[E]) => void): () => void;
}

/** The biggest .torrent accepted over IPC (libtorrent's limit for .torrent files too). */
export const MAX_TORRENT_FILE_BYTES = 10_000_000;
