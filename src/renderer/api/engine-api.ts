import type { EngineApi } from '../../shared/ipc';
import { connectWebSocketApi } from './ws-engine-api';

declare global {
  interface Window {
    /** Present in Electron: exposed by the preload over contextBridge. */
    tessera?: EngineApi & { connected?: boolean };
  }
}

/** The engine, via Electron's preload when there is one, else over `tessera serve`'s WebSocket. */
export function createEngineApi(onConnection: (connected: boolean) => void): EngineApi {
  if (window.tessera) {
    onConnection(true);
    return window.tessera;
  }
  const token = new URLSearchParams(window.location.search).get('token') ?? '';
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  return connectWebSocketApi(
    `${scheme}://${window.location.host}/ws?token=${encodeURIComponent(token)}`,
    onConnection,
  );
}
