/**
 * Every engine error carries a stable `code` so it can cross IPC as data
 * (`{ ok: false, error: { code, message } }`, STYLE.md 7) and callers can branch on it.
 */
export class EngineError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A .torrent (or metadata from a magnet) that we refuse, with the one specific reason. */
export class InvalidTorrentError extends EngineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid-torrent', message, options);
  }
}

/** A path from untrusted metadata that would escape, or cannot be written inside, its root. */
export class UnsafePathError extends EngineError {
  constructor(message: string) {
    super('unsafe-path', message);
  }
}
