/**
 * The piece-buffer memory of all of a session's torrents together. Each torrent's scheduler
 * keeps its own budget (BlockScheduler's memoryBudgetBytes, up to 96 MiB) and also stays within
 * what this leaves free, so that several downloads at once share one limit instead of each
 * taking its whole budget. A torrent holding no piece may always start one, so none is starved.
 * Counted when a piece is started and given back when it is written, failed or dropped.
 */
export class SessionMemory {
  private usedBytes = 0;
  /** Torrents held back by the limit, to be woken when memory is given back. */
  private readonly waiting = new Set<() => void>();
  private wakeQueued = false;

  constructor(readonly limitBytes: number) {}

  /** What the torrents may still take together; negative when over the limit. */
  get freeBytes(): number {
    return this.limitBytes - this.usedBytes;
  }

  get heldBytes(): number {
    return this.usedBytes;
  }

  take(bytes: number): void {
    this.usedBytes += bytes;
  }

  /**
   * Memory given back: every torrent waiting for room is woken (once) to fill again, in a
   * microtask: not from inside the scheduler call that gave it back, with its state half done.
   */
  give(bytes: number): void {
    this.usedBytes -= bytes;
    if (bytes <= 0 || this.waiting.size === 0 || this.wakeQueued) return;
    this.wakeQueued = true;
    queueMicrotask(() => {
      this.wakeQueued = false;
      const woken = [...this.waiting];
      this.waiting.clear();
      for (const wake of woken) wake();
    });
  }

  /** Calls `wake` once, the next time any torrent gives memory back. */
  waitForRoom(wake: () => void): void {
    this.waiting.add(wake);
  }

  /** A torrent going away is not woken any more. */
  stopWaiting(wake: () => void): void {
    this.waiting.delete(wake);
  }
}
