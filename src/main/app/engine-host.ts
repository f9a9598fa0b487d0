import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type {
  CommandArgs,
  CommandName,
  CommandResult,
  EventName,
  Events,
  Result,
} from '../../shared/ipc';
import { PayloadError, validateCommand } from '../../shared/ipc-validate';
import type { TorrentDetail, TorrentSummary } from '../../shared/torrent-types';
import { resolveInside, type Session, type Torrent } from '../engine';

/** What the host needs of the engine's session: the engine's own Session fits. */
export type HostSession = Pick<
  Session,
  | 'addTorrent'
  | 'addMagnet'
  | 'settings'
  | 'updateSettings'
  | 'getTorrent'
  | 'torrents'
  | 'removeTorrent'
  | 'downloadDir'
  | 'on'
  | 'off'
>;

export type Send = <E extends EventName>(name: E, payload: Events[E]) => void;

export interface EngineHostOptions {
  host: 'electron' | 'server';
  /** How often snapshots go out (only when something changed). */
  snapshotIntervalMs?: number;
}

/** One window or browser tab: what it has been sent, and which torrent it shows. */
export class HostClient {
  selected: string | null = null;
  readonly sentSummaries = new Map<string, string>();
  lastDetailKey = '';

  constructor(
    private readonly host: EngineHost,
    readonly send: Send,
  ) {}

  /** Validates and runs one command from this client; never throws. */
  invoke(name: unknown, args: unknown): Promise<Result<unknown>> {
    return this.host.invoke(this, name, args);
  }

  close(): void {
    this.host.disconnect(this);
  }
}

/**
 * The one place where contract commands become engine calls and engine state becomes
 * snapshots — for the Electron window and for `tessera serve` alike. Every payload is
 * validated here before the engine sees it; snapshots go out a few times a second and only
 * with what changed; the piece map and peers only for the torrent a client shows.
 */
export class EngineHost {
  private readonly clients = new Set<HostClient>();
  private timer: NodeJS.Timeout | null = null;
  private readonly loopDelay: IntervalHistogram;
  private readonly onTorrentError = (torrent: Torrent) => (err: Error) =>
    this.broadcast('app:notice', {
      level: 'error',
      message: `${torrent.summary().name}: ${err.message}`,
    });
  private readonly errorListeners = new Map<string, (err: Error) => void>();

  constructor(
    private readonly session: HostSession,
    private readonly opts: EngineHostOptions,
  ) {
    this.loopDelay = monitorEventLoopDelay({ resolution: 2 });
  }

  start(): void {
    this.loopDelay.enable();
    for (const t of this.session.torrents()) this.watch(t);
    this.session.on('torrent-added', this.onAdded);
    this.session.on('torrent-removed', this.onRemoved);
    this.timer = setInterval(() => this.publish(), this.opts.snapshotIntervalMs ?? 250);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.loopDelay.disable();
    this.session.off('torrent-added', this.onAdded);
    this.session.off('torrent-removed', this.onRemoved);
    for (const t of this.session.torrents()) this.unwatch(t);
    this.clients.clear();
  }

  connect(send: Send): HostClient {
    const client = new HostClient(this, send);
    this.clients.add(client);
    return client;
  }

  disconnect(client: HostClient): void {
    this.clients.delete(client);
  }

  /** The main thread's event-loop delay since the last reset, in milliseconds. */
  eventLoopDelay(): { p50Ms: number; p99Ms: number; maxMs: number } {
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    return {
      p50Ms: ms(this.loopDelay.percentile(50)),
      p99Ms: ms(this.loopDelay.percentile(99)),
      maxMs: ms(this.loopDelay.max),
    };
  }

  resetEventLoopDelay(): void {
    this.loopDelay.reset();
  }

  async invoke(client: HostClient, name: unknown, args: unknown): Promise<Result<unknown>> {
    try {
      const command = validateCommand(name, args);
      const value = await this.run(client, command.name, command.args);
      return { ok: true, value };
    } catch (err) {
      const code =
        err instanceof PayloadError
          ? err.code
          : typeof (err as { code?: unknown }).code === 'string'
            ? (err as { code: string }).code
            : 'error';
      return { ok: false, error: { code, message: (err as Error).message ?? String(err) } };
    }
  }

  private async run<K extends CommandName>(
    client: HostClient,
    name: K,
    rawArgs: CommandArgs<CommandName>,
  ): Promise<CommandResult<CommandName>> {
    switch (name) {
      case 'torrent:add': {
        const args = rawArgs as CommandArgs<'torrent:add'>;
        try {
          const downloadDir = args.saveTo
            ? resolveInside(this.session.downloadDir, args.saveTo.split('/'))
            : undefined;
          const torrent = await this.session.addTorrent(args.bytes, { downloadDir });
          return torrent.summary();
        } catch (err) {
          // Name the file: a person may have dropped several.
          (err as Error).message = `${args.fileName}: ${(err as Error).message}`;
          throw err;
        }
      }
      case 'torrent:addMagnet': {
        const args = rawArgs as CommandArgs<'torrent:addMagnet'>;
        const downloadDir = args.saveTo
          ? resolveInside(this.session.downloadDir, args.saveTo.split('/'))
          : undefined;
        const torrent = await this.session.addMagnet(args.uri, { downloadDir });
        return torrent.summary();
      }
      case 'torrent:pause':
        await Promise.all(
          this.torrentsOf(rawArgs as CommandArgs<'torrent:pause'>).map((t) => t.pause()),
        );
        this.publish();
        return null;
      case 'torrent:resume':
        await Promise.all(
          this.torrentsOf(rawArgs as CommandArgs<'torrent:resume'>).map((t) => t.resume()),
        );
        this.publish();
        return null;
      case 'torrent:verify':
        await Promise.all(
          this.torrentsOf(rawArgs as CommandArgs<'torrent:verify'>).map((t) => t.recheck()),
        );
        this.publish();
        return null;
      case 'torrent:remove': {
        const args = rawArgs as CommandArgs<'torrent:remove'>;
        for (const t of this.torrentsOf(args))
          await this.session.removeTorrent(t.id, { deleteData: args.deleteData });
        return null;
      }
      case 'torrent:select': {
        const { id } = rawArgs as CommandArgs<'torrent:select'>;
        client.selected = id;
        client.lastDetailKey = '';
        const torrent = id ? this.session.getTorrent(id) : undefined;
        return torrent ? torrent.detail() : null;
      }
      case 'session:get': {
        const torrents = this.session.torrents().map((t) => t.summary());
        client.sentSummaries.clear();
        for (const s of torrents) client.sentSummaries.set(s.id, summaryKey(s));
        return { torrents, downloadDir: this.session.downloadDir, host: this.opts.host };
      }
      case 'settings:get':
        return this.session.settings;
      case 'settings:set':
        return this.session.updateSettings((rawArgs as CommandArgs<'settings:set'>).settings);
      default:
        throw new PayloadError(`unknown command "${String(name)}"`);
    }
  }

  private torrentsOf(args: { ids: string[] }): Torrent[] {
    return args.ids.map((id) => {
      const t = this.session.getTorrent(id);
      if (!t)
        throw Object.assign(new Error(`no torrent with id ${id}`), { code: 'unknown-torrent' });
      return t;
    });
  }

  /** Sends each client what changed since it was last told. */
  private publish(): void {
    if (this.clients.size === 0) return;
    const summaries = this.session.torrents().map((t) => t.summary());
    const details = new Map<string, { detail: TorrentDetail; key: string }>();
    for (const client of this.clients) {
      const changed: TorrentSummary[] = [];
      const seen = new Set<string>();
      for (const s of summaries) {
        seen.add(s.id);
        const key = summaryKey(s);
        if (client.sentSummaries.get(s.id) === key) continue;
        client.sentSummaries.set(s.id, key);
        changed.push(s);
      }
      const removed = [...client.sentSummaries.keys()].filter((id) => !seen.has(id));
      for (const id of removed) client.sentSummaries.delete(id);
      if (changed.length > 0 || removed.length > 0)
        client.send('session:snapshot', { changed, removed });

      if (!client.selected) continue;
      let entry = details.get(client.selected);
      if (!entry) {
        const torrent = this.session.getTorrent(client.selected);
        if (!torrent) continue;
        const detail = torrent.detail();
        entry = { detail, key: detailKey(detail) };
        details.set(client.selected, entry);
      }
      if (entry.key === client.lastDetailKey) continue;
      client.lastDetailKey = entry.key;
      client.send('torrent:detail', entry.detail);
    }
  }

  private broadcast<E extends EventName>(name: E, payload: Events[E]): void {
    for (const client of this.clients) client.send(name, payload);
  }

  private readonly onAdded = (t: Torrent) => {
    this.watch(t);
    this.publish();
  };

  private readonly onRemoved = (id: string) => {
    const listener = this.errorListeners.get(id);
    if (listener) this.errorListeners.delete(id);
    this.publish();
  };

  private watch(t: Torrent): void {
    if (this.errorListeners.has(t.id)) return;
    const listener = this.onTorrentError(t);
    this.errorListeners.set(t.id, listener);
    t.on('error', listener);
  }

  private unwatch(t: Torrent): void {
    const listener = this.errorListeners.get(t.id);
    if (listener) t.off('error', listener);
    this.errorListeners.delete(t.id);
  }
}

/** An idle torrent's summary does not change, so an idle list sends nothing. */
function summaryKey(s: TorrentSummary): string {
  return JSON.stringify(s);
}

function detailKey(d: TorrentDetail): string {
  let piecesHash = 0;
  for (let i = 0; i < d.pieces.length; i++)
    piecesHash = (Math.imul(piecesHash, 31) + d.pieces[i]!) | 0;
  return `${piecesHash}|${JSON.stringify({ ...d, pieces: null })}`;
}
