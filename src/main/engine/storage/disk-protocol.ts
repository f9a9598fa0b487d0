import type { StorageLayout } from './piece-layout';
import type { ResumeData } from './resume-data';

/**
 * The messages between the engine and its disk worker (disk-worker.ts runs on the main
 * thread, disk-thread.ts in the worker). Each request carries an id; exactly one reply with
 * that id comes back. Both sides post arrays: the requests, or the replies, of one turn of
 * their event loop.
 */
export type DiskRequest =
  | {
      op: 'open';
      id: number;
      storage: number;
      layout: StorageLayout;
      downloadDir: string;
      directIo?: boolean;
      /** Opened again after the thread that had the files open died: see FileStorage's unsyncedAtOpen. */
      unsyncedAtOpen?: boolean;
    }
  | {
      /**
       * Hash the piece (when `expected` is given) and, if it matches, write it. The buffer is
       * transferred in and comes back in the reply, written or not.
       */
      op: 'write';
      id: number;
      storage: number;
      piece: number;
      buffer: ArrayBuffer;
      offset: number;
      length: number;
      expected: Uint8Array | null;
    }
  | { op: 'read'; id: number; storage: number; piece: number; begin: number; length: number }
  | {
      /** Read a whole piece already on disk and say whether it hashes to `expected`. */
      op: 'verify';
      id: number;
      storage: number;
      piece: number;
      length: number;
      expected: Uint8Array;
    }
  | {
      /** Sync what this storage wrote, and `files` (written by an earlier run in this boot). */
      op: 'flush';
      id: number;
      storage: number;
      files: number[];
    }
  | {
      op: 'anyFileExists' | 'fileStats' | 'close' | 'remove';
      id: number;
      storage: number;
    };

/** A failure, sent as plain data (Error objects lose their class crossing threads). */
export interface DiskFailure {
  message: string;
  /** Set for a StorageError (a disk problem a person can act on); null for anything else. */
  storageErrno: string | null;
  isStorageError: boolean;
}

export type DiskReply =
  | { id: number; ok: false; error: DiskFailure; buffer?: ArrayBuffer }
  | { id: number; ok: true; value?: boolean | ResumeData['files'] }
  | {
      id: number;
      ok: true;
      /** The piece's bytes: written (or read) into this buffer at offset, length. */
      buffer: ArrayBuffer;
      offset: number;
      length: number;
      /** For a write: whether the hash matched (and so the piece was written). */
      verified?: boolean;
    };
