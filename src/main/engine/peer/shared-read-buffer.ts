import net from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Outgoing peer sockets read into one buffer that they all share, instead of Node allocating a
 * fresh 64 KiB Buffer for every read and pushing it through a Readable stream. The bytes are
 * handed to the socket's sink synchronously and the buffer is reused by the next read (of any
 * socket), so a sink must copy whatever it keeps: WireDecoder.push(chunk, true) does.
 *
 * Why: on a 256 MiB download the stream machinery and the per-read allocations (malloc, page
 * faults, garbage collection of the Buffers) were a tenth of the main thread's CPU. One read can
 * now also take up to 256 KiB, four times Node's default, so fewer system calls.
 */
const SHARED_READ_BUFFER_BYTES = 256 * 1024;

/** Called with each chunk read; `chunk` is only valid until the sink returns. */
export type ChunkSink = (chunk: Buffer) => void;

interface Route {
  sink: ChunkSink | null;
  /** Chunks read before a sink was attached (copied). */
  early: Buffer[];
}

let sharedBuffer: Buffer | null = null;
const routes = new WeakMap<Duplex, Route>();

/** `net.connect`, with reads going into the shared buffer; attach a sink with `takeReads`. */
export function connectWithSharedReadBuffer(options: net.TcpNetConnectOpts): net.Socket {
  sharedBuffer ??= Buffer.allocUnsafeSlow(SHARED_READ_BUFFER_BYTES);
  const route: Route = { sink: null, early: [] };
  const socket = net.connect({
    ...options,
    onread: {
      buffer: sharedBuffer,
      callback: (bytes: number, buffer: Uint8Array) => {
        const chunk = Buffer.from(buffer.buffer, buffer.byteOffset, bytes);
        if (route.sink) route.sink(chunk);
        else route.early.push(Buffer.from(chunk));
        return true;
      },
    },
  });
  routes.set(socket, route);
  return socket;
}

/**
 * Sends a shared-buffer socket's bytes to `sink` from now on (after any that arrived before).
 * Returns false for any other stream: its bytes come as 'data' events, in buffers of their own.
 */
export function takeReads(socket: Duplex, sink: ChunkSink): boolean {
  const route = routes.get(socket);
  if (!route) return false;
  route.sink = sink;
  for (const chunk of route.early.splice(0)) sink(chunk);
  return true;
}
