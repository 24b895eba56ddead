// A TCP proxy that fails like a network, with toxiproxy's semantics, driven from a test. One proxy
// stands in front of one server; the adapter under test is given `proxy.url(serverUrl)`.
import { connect, createServer, type Server, type Socket } from 'node:net';

/** Where the proxy forwards to. */
export interface FaultProxyTarget {
  readonly host: string;
  readonly port: number;
}

export interface LatencyOptions {
  /** Each chunk waits `ms` plus a uniformly drawn extra in `[-jitterMs, +jitterMs]`. */
  readonly jitterMs?: number;
}

/**
 * A controllable fault proxy. Faults last until {@link FaultProxy.heal}; setting one fault replaces
 * the previous one, except `latency` and `bandwidth`, which combine with each other.
 */
export interface FaultProxy {
  /** The port the proxy listens on (127.0.0.1). It stays the same across `down()` and `heal()`. */
  readonly port: number;
  /** Connections open through the proxy right now. */
  readonly connections: number;
  /** The same URL with its host and port replaced by the proxy's. */
  url(serverUrl: string): string;
  /** Delays every chunk, both ways (toxiproxy `latency`). Order of bytes is kept. */
  latency(ms: number, options?: LatencyOptions): void;
  /** Limits each direction of each connection to `bytesPerSecond` (toxiproxy `bandwidth`). */
  bandwidth(bytesPerSecond: number): void;
  /**
   * Accepts connections and forwards nothing, both ways, on live and new connections: the server
   * goes silent without closing anything (toxiproxy `timeout` with 0).
   */
  blackhole(): void;
  /** Resets live connections with a TCP RST, and new ones as soon as they open (toxiproxy `reset_peer`). */
  resetPeer(): void;
  /** Closes the listener (new connections are refused) and every live connection (a disabled proxy). */
  down(): void;
  /** Destroys every live connection now; new connections still go through. */
  cutAll(): void;
  /** Removes every fault; after `down()` the proxy listens again on the same port. */
  heal(): Promise<void>;
  close(): Promise<void>;
}

type Mode = 'up' | 'blackhole' | 'reset' | 'down';

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
}

/** Starts a proxy to `target` on a free loopback port. */
export async function faultProxy(target: FaultProxyTarget): Promise<FaultProxy> {
  let mode: Mode = 'up';
  let latencyMs = 0;
  let jitterMs = 0;
  let bytesPerSecond = 0;
  let closed = false;
  const links = new Set<Link>();

  const reset = (socket: Socket) => {
    // resetAndDestroy sends RST (Node >= 16.17); a socket not yet connected is destroyed.
    if (socket.connecting || socket.destroyed) socket.destroy();
    else socket.resetAndDestroy();
  };

  /** Forwards `from` to `to`, delayed and paced as the current faults say; drops bytes when blackholed. */
  const forward = (from: Socket, to: Socket) => {
    // One queue and one timer per direction: chunks leave in arrival order, each no earlier than
    // its due time (a timer per chunk could fire out of order when due times are within 1 ms).
    const queue: { readonly due: number; readonly chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    let nextFree = 0;
    const send = (chunk: Buffer) => {
      if (mode !== 'blackhole' && !to.destroyed) to.write(chunk);
    };
    const drain = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && (queue[0]?.due ?? 0) <= now) send((queue.shift() as { chunk: Buffer }).chunk);
      // Back-pressure: a slow link stops reading instead of buffering without bound.
      if (queue.length <= 16) from.resume();
      const head = queue[0];
      if (head) timer = setTimeout(drain, Math.max(1, head.due - now));
    };
    from.on('close', () => {
      if (timer) clearTimeout(timer);
    });
    from.on('data', (chunk: Buffer) => {
      if (mode === 'blackhole') return;
      const now = performance.now();
      const jitter = jitterMs > 0 ? (Math.random() * 2 - 1) * jitterMs : 0;
      const paced = bytesPerSecond > 0 ? (chunk.length / bytesPerSecond) * 1_000 : 0;
      const due = Math.max(now + Math.max(0, latencyMs + jitter), nextFree) + paced;
      nextFree = due;
      if (queue.length === 0 && due - now < 1) {
        send(chunk);
        return;
      }
      queue.push({ due, chunk });
      if (queue.length > 64) from.pause();
      timer ??= setTimeout(drain, Math.max(1, due - now));
    });
  };

  const accept = (client: Socket) => {
    if (mode === 'down' || closed) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    const link: Link = { client, upstream };
    links.add(link);
    const end = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    forward(client, upstream);
    forward(upstream, client);
    if (mode === 'reset') {
      reset(client);
      upstream.destroy();
    }
  };

  let server: Server = createServer(accept);
  await listen(server, 0);
  const port = (server.address() as { port: number }).port;

  const destroyAll = (how: 'destroy' | 'reset') => {
    for (const link of links) {
      if (how === 'reset') reset(link.client);
      else link.client.destroy();
      link.upstream.destroy();
    }
    links.clear();
  };

  const closeListener = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });

  return {
    port,
    get connections() {
      return links.size;
    },
    url(serverUrl) {
      const url = new URL(serverUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    latency(ms, options = {}) {
      latencyMs = ms;
      jitterMs = options.jitterMs ?? 0;
    },
    bandwidth(limit) {
      bytesPerSecond = limit;
    },
    blackhole() {
      mode = 'blackhole';
    },
    resetPeer() {
      mode = 'reset';
      destroyAll('reset');
    },
    down() {
      mode = 'down';
      void closeListener();
      destroyAll('destroy');
    },
    cutAll() {
      destroyAll('destroy');
    },
    async heal() {
      const wasDown = mode === 'down';
      mode = 'up';
      latencyMs = 0;
      jitterMs = 0;
      bytesPerSecond = 0;
      if (wasDown && !closed) {
        await closeListener();
        server = createServer(accept);
        await listen(server, port);
      }
    },
    async close() {
      closed = true;
      destroyAll('destroy');
      await closeListener();
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}
