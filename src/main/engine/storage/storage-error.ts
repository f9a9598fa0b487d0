import { EngineError } from '../errors';

/** A disk problem: the torrent stops in the error state with this message; others go on. */
export class StorageError extends EngineError {
  constructor(
    message: string,
    readonly errno: string | null = null,
  ) {
    super('storage', message);
  }
}

/** Turns a Node file-system error into words a person can act on. */
export function describeFsError(
  err: unknown,
  action: 'writing' | 'reading' | 'opening',
  file: string,
): StorageError {
  const code = (err as NodeJS.ErrnoException)?.code ?? null;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new StorageError(`disk full while ${action} ${file}`, code);
    case 'EACCES':
    case 'EPERM':
      return new StorageError(`no permission for ${action} ${file}`, code);
    case 'EROFS':
      return new StorageError(`read-only file system: cannot write ${file}`, code);
    case 'EISDIR':
      return new StorageError(`a folder is in the way of ${file}`, code);
    case 'ENOTDIR':
      return new StorageError(`a file is in the way of ${file}`, code);
    case 'ELOOP':
      return new StorageError(`refusing to follow a symbolic link at ${file}`, code);
    case 'EMFILE':
    case 'ENFILE':
      return new StorageError(`too many open files while ${action} ${file}`, code);
    default:
      return new StorageError(
        `${action} ${file} failed: ${(err as Error)?.message ?? String(err)}`,
        code,
      );
  }
}
