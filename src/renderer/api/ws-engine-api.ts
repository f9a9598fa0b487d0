import type {
  CommandArgs,
  CommandName,
  CommandResult,
  EngineApi,
  EventName,
  Events,
  Result,
} from '../../shared/ipc';
import { decodeServerFrame, encodeFrame } from '../../shared/ws-codec';

/**
 * The contract over the WebSocket of `tessera serve`. Reconnects with back-off when the
 * connection drops; calls made while disconnected fail with a clear error instead of hanging.
 */
export function connectWebSocketApi(
  url: string,
  onConnection: (connected: boolean) => void,
): EngineApi {
  const pending = new Map<number, (r: Result<unknown>) => void>();
  const listeners = new Map<EventName, Set<(payload: never) => void>>();
  let socket: WebSocket | null = null;
  let nextId = 1;
  let retryMs = 500;

  const open = () => {
    const ws = new WebSocket(url);
    socket = ws;
    ws.onopen = () => {
      retryMs = 500;
      onConnection(true);
    };
    ws.onmessage = (e: MessageEvent<string>) => {
      let message;
      try {
        message = decodeServerFrame(e.data);
      } catch {
        return;
      }
      if (message.kind === 'event') {
        for (const l of listeners.get(message.name) ?? [])
          (l as (p: unknown) => void)(message.payload);
        return;
      }
      const resolve = pending.get(message.id);
      if (!resolve) return;
      pending.delete(message.id);
      resolve(
        message.ok ? { ok: true, value: message.value } : { ok: false, error: message.error },
      );
    };
    ws.onclose = () => {
      socket = null;
      onConnection(false);
      for (const resolve of pending.values())
        resolve({
          ok: false,
          error: { code: 'disconnected', message: 'lost the connection to Tessera' },
        });
      pending.clear();
      setTimeout(open, retryMs);
      retryMs = Math.min(retryMs * 2, 10_000);
    };
  };
  open();

  return {
    invoke<K extends CommandName>(
      name: K,
      args: CommandArgs<K>,
    ): Promise<Result<CommandResult<K>>> {
      if (!socket || socket.readyState !== WebSocket.OPEN) {
        return Promise.resolve({
          ok: false,
          error: { code: 'disconnected', message: 'not connected to Tessera' },
        });
      }
      const id = nextId++;
      const ws = socket;
      return new Promise((resolve) => {
        pending.set(id, resolve as (r: Result<unknown>) => void);
        ws.send(encodeFrame({ kind: 'invoke', id, name, args }));
      });
    },
    on<E extends EventName>(name: E, listener: (payload: Events[E]) => void): () => void {
      let set = listeners.get(name);
      if (!set) listeners.set(name, (set = new Set()));
      set.add(listener as (payload: never) => void);
      return () => set.delete(listener as (payload: never) => void);
    },
  };
}
