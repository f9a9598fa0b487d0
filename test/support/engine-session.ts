// Small helpers for tests that run the engine in-process.
import { Session, type SessionOptions, type Torrent } from '../../src/main/engine';

/** Resolves when the torrent has every piece (at once if it already has). */
export function untilDone(t: Torrent): Promise<void> {
  return new Promise<void>((resolve) =>
    t.isComplete ? resolve() : t.once('done', () => resolve()),
  );
}

/** A session that listens on loopback only and asks no tracker and no DHT: peers are given by hand. */
export function loopbackSession(
  downloadDir: string,
  opts: Partial<SessionOptions> = {},
): Promise<Session> {
  return Session.create({
    downloadDir,
    listenHost: '127.0.0.1',
    noTrackers: true,
    settings: { dht: { enabled: false, bootstrap: [] } },
    ...opts,
  });
}
