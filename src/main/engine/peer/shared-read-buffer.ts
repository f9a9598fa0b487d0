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

/**
 * Bytes one socket may hand over per turn of the event loop before it pauses until the next.
 * libuv reads a readable socket up to 32 times in a row, so a peer whose data piled up while
 * the thread was busy delivered up to 8 MiB at once: three such peers made a 20–25 ms turn,
 * the event-loop delay's p99. The rest waits in the kernel for a turn or two.
 */
const READ_BYTES_PER_TURN = 1024 * 1024;

/** Called with each chunk read; `chunk` is only valid until the sink returns. */
export type ChunkSink = (chunk: Buffer) => void;

interface Route {
  sink: ChunkSink | null;
  /** Chunks read before a sink was attached (copied). */
  early: Buffer[];
  /** Bytes read in this turn of the event loop (reset at its end). */
  turnBytes: number;
}

let sharedBuffer: Buffer | null = null;
const routes = new WeakMap<Duplex, Route>();

/** `net.connect`, with reads going into the shared buffer; attach a sink with `takeReads`. */
export function connectWithSharedReadBuffer(options: net.TcpNetConnectOpts): net.Socket {
  sharedBuffer ??= Buffer.allocUnsafeSlow(SHARED_READ_BUFFER_BYTES);
  const route: Route = { sink: null, early: [], turnBytes: 0 };
  let paused = false;
  const nextTurn = () => {
    route.turnBytes = 0;
    if (!paused) return;
    paused = false;
    if (!socket.destroyed) socket.resume();
  };
  const socket = net.connect({
    ...options,
    onread: {
      buffer: sharedBuffer,
      callback: (bytes: number, buffer: Uint8Array) => {
        if (route.turnBytes === 0) setImmediate(nextTurn);
        route.turnBytes += bytes;
        const chunk = Buffer.from(buffer.buffer, buffer.byteOffset, bytes);
        if (route.sink) route.sink(chunk);
        else route.early.push(Buffer.from(chunk));
        // false pauses the socket (Node's onread contract) until nextTurn resumes it.
        if (route.turnBytes < READ_BYTES_PER_TURN) return true;
        paused = true;
        return false;
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
