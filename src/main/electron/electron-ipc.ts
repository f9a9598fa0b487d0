// The one file that imports Electron's ipcMain (lint forbids it elsewhere); all the logic is in
// ipc-binder.ts, which tests drive with an in-memory stand-in.
import { ipcMain, type WebContents } from 'electron';
import type { EngineHost } from '../app/engine-host';
import { bindIpc } from './ipc-binder';

export function bindWindowIpc(host: EngineHost, webContents: WebContents): () => void {
  return bindIpc(ipcMain, host, webContents);
}
