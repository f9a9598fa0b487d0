// One error class for the whole harness: tests and benchmarks branch on `code`, people read
// `message` (which always names the program and the log file to look at).
export type HarnessErrorCode =
  | 'TIMEOUT'
  | 'SPAWN_FAILED'
  | 'EXITED'
  | 'COMMAND_FAILED'
  | 'BAD_TORRENT'
  | 'TREE_MISMATCH'
  | 'CLIENT_ERROR';

export class HarnessError extends Error {
  readonly code: HarnessErrorCode;

  constructor(code: HarnessErrorCode, message: string) {
    super(message);
    this.name = 'HarnessError';
    this.code = code;
  }
}
