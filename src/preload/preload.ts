// The renderer's only door to the main process (STYLE.md 5): `invoke` and `on` over the
// contract's allow-lists, never ipcRenderer itself. Runs sandboxed, bundled as CommonJS.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import {
  isCommandName,
  isEventName,
  type EngineApi,
  type EventName,
  type Events,
} from '../shared/ipc';

const api: EngineApi = {
  invoke(name, args) {
    if (!isCommandName(name))
      return Promise.resolve({
        ok: false,
        error: { code: 'bad-request', message: `unknown command "${String(name)}"` },
      });
    return ipcRenderer.invoke(name, args);
  },
  on<E extends EventName>(name: E, listener: (payload: Events[E]) => void) {
    if (!isEventName(name)) throw new Error(`unknown event "${String(name)}"`);
    const wrapped = (_event: IpcRendererEvent, payload: Events[E]) => listener(payload);
    ipcRenderer.on(name, wrapped);
    return () => {
      ipcRenderer.off(name, wrapped);
    };
  },
};

contextBridge.exposeInMainWorld('tessera', api);
