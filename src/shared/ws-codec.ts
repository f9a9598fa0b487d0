// The contract over a WebSocket (`tessera serve`): JSON text frames, with byte arrays tagged
// as { $bytes: base64 } so that Uint8Array payloads (a .torrent, a piece bitfield) survive.
// Pure: used by the server and by the renderer's WebSocket adapter alike.
import {
  isCommandName,
  isEventName,
  type CommandName,
  type ErrorInfo,
  type EventName,
} from './ipc';

export type ClientMessage = { kind: 'invoke'; id: number; name: CommandName; args: unknown };

export type ServerMessage =
  | { kind: 'result'; id: number; ok: true; value: unknown }
  | { kind: 'result'; id: number; ok: false; error: ErrorInfo }
  | { kind: 'event'; name: EventName; payload: unknown };

/** A frame bigger than this is refused before it is parsed (a .torrent is ≤ 10 MB, base64 grows it by a third). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export class FrameError extends Error {
  readonly code = 'bad-frame';
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function encodeFrame(message: ClientMessage | ServerMessage): string {
  return JSON.stringify(message, (_key, value: unknown) =>
    value instanceof Uint8Array ? { $bytes: toBase64(value) } : value,
  );
}

function revive(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '$bytes') {
      if (typeof o.$bytes !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.$bytes))
        throw new FrameError('bad $bytes value');
      return fromBase64(o.$bytes);
    }
    // Never let a payload carry a prototype-changing key into an object.
    if (Object.hasOwn(o, '__proto__')) throw new FrameError('forbidden key __proto__');
  }
  return value;
}

function parse(text: string): Record<string, unknown> {
  if (text.length > MAX_FRAME_BYTES)
    throw new FrameError(`frame of ${text.length} bytes is too large`);
  let value: unknown;
  try {
    value = JSON.parse(text, revive);
  } catch (err) {
    if (err instanceof FrameError) throw err;
    throw new FrameError('frame is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new FrameError('frame is not an object');
  return value as Record<string, unknown>;
}

/** Server side: a message from a browser. Only the envelope is checked here; args are validated per command. */
export function decodeClientFrame(text: string): ClientMessage {
  const o = parse(text);
  if (o.kind !== 'invoke') throw new FrameError('expected an invoke message');
  if (typeof o.id !== 'number' || !Number.isSafeInteger(o.id) || o.id < 0)
    throw new FrameError('invoke without a valid id');
  if (!isCommandName(o.name))
    throw new FrameError(`unknown command "${String(o.name).slice(0, 60)}"`);
  return { kind: 'invoke', id: o.id, name: o.name, args: o.args };
}

/** Renderer side: a message from the server. */
export function decodeServerFrame(text: string): ServerMessage {
  const o = parse(text);
  if (o.kind === 'event') {
    if (!isEventName(o.name))
      throw new FrameError(`unknown event "${String(o.name).slice(0, 60)}"`);
    return { kind: 'event', name: o.name, payload: o.payload };
  }
  if (o.kind === 'result' && typeof o.id === 'number') {
    if (o.ok === true) return { kind: 'result', id: o.id, ok: true, value: o.value };
    const e = o.error as Record<string, unknown> | undefined;
    return {
      kind: 'result',
      id: o.id,
      ok: false,
      error: { code: String(e?.code ?? 'error'), message: String(e?.message ?? 'unknown error') },
    };
  }
  throw new FrameError('unexpected message from server');
}
