// The one place that touches ipcMain (lint forbids it elsewhere): every command of the contract's
// allow-list is registered through one helper that drops calls from windows we did not create
// and hands the payload to the engine host, which validates it before the engine sees it.
import { COMMAND_NAMES, type Result } from '../../shared/ipc';
import type { EngineHost } from '../app/engine-host';

/** What the binder needs of Electron's ipcMain (so tests can stand in for it). */
export interface IpcMainLike {
  handle(
    channel: string,
    listener: (event: { sender: { id: number } }, ...args: unknown[]) => Promise<unknown>,
  ): void;
  removeHandler(channel: string): void;
}

/** What the binder needs of the window's webContents. */
export interface WebContentsLike {
  readonly id: number;
  send(channel: string, payload: unknown): void;
  isDestroyed(): boolean;
}

const FORBIDDEN: Result<never> = {
  ok: false,
  error: { code: 'forbidden', message: 'message from a window Tessera did not create' },
};

/** Binds the contract for one window; returns a function that unbinds it. */
export function bindIpc(
  ipcMain: IpcMainLike,
  host: EngineHost,
  window: WebContentsLike,
): () => void {
  const client = host.connect((name, payload) => {
    if (!window.isDestroyed()) window.send(name, payload);
  });
  for (const name of COMMAND_NAMES) {
    ipcMain.handle(name, async (event, args) => {
      if (event.sender.id !== window.id) return FORBIDDEN;
      return client.invoke(name, args);
    });
  }
  return () => {
    for (const name of COMMAND_NAMES) ipcMain.removeHandler(name);
    client.close();
  };
}
