import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FaultProxy, faultProxy } from '../src/fault-proxy.js';

// An echo server stands in for the database: what the client sends comes back.
let echo: Server;
let proxy: FaultProxy;
const opened: Socket[] = [];

beforeEach(async () => {
  echo = createServer((socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  proxy = await faultProxy({ host: '127.0.0.1', port: (echo.address() as { port: number }).port });
});

afterEach(async () => {
  for (const socket of opened.splice(0)) socket.destroy();
  await proxy.close();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

async function open(): Promise<Socket> {
  const socket = connect(proxy.port, '127.0.0.1');
  opened.push(socket);
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Sends `text` and resolves with what came back within `waitMs`, or undefined. */
function roundTrip(socket: Socket, text: string, waitMs = 2_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    let received = '';
    const timer = setTimeout(() => done(undefined), waitMs);
    const onData = (chunk: Buffer) => {
      received += chunk.toString();
      if (received.length >= text.length) done(received);
    };
    const done = (value: string | undefined) => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(value);
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

/** Resolves with the error code a connection attempt ends with, or 'open' when it stays open. */
function connectOutcome(): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(proxy.port, '127.0.0.1');
    opened.push(socket);
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    socket.once('close', () => resolve('closed'));
    socket.once('connect', () => setTimeout(() => resolve(socket.destroyed ? 'closed' : 'open'), 200));
  });
}

describe('faultProxy', () => {
  it('forwards both ways and rewrites URLs to itself', async () => {
    const socket = await open();
    expect(await roundTrip(socket, 'hello')).toBe('hello');
    expect(proxy.connections).toBe(1);
    expect(proxy.url('postgres://postgres@db.example:5432/test?ssl=false')).toBe(
      `postgres://postgres@127.0.0.1:${proxy.port}/test?ssl=false`,
    );
  });

  it('adds latency both ways and keeps byte order under jitter', async () => {
    const socket = await open();
    proxy.latency(100, { jitterMs: 50 });
    const started = performance.now();
    const message = Array.from({ length: 50 }, (_, index) => `${index};`).join('');
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
    });
    // Many small writes, each its own chunk, jittered independently.
    for (const part of message.split(/(?<=;)/)) {
      socket.write(part);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(message.length);
    // Two ways of at least 50 ms each (100 - 50 jitter): a lower bound only, a loaded machine is slower.
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
    expect(received).toBe(message);
  });

  it('limits bandwidth', async () => {
    const socket = await open();
    proxy.bandwidth(256 * 1024);
    const payload = 'x'.repeat(64 * 1024);
    const started = performance.now();
    expect(await roundTrip(socket, payload, 10_000)).toHaveLength(payload.length);
    // 64 KiB each way at 256 KiB/s: at least 250 ms per direction.
    expect(performance.now() - started).toBeGreaterThanOrEqual(450);
  });

  it('blackholes live and new connections without closing them, until healed', async () => {
    const live = await open();
    proxy.blackhole();
    expect(await roundTrip(live, 'lost', 300)).toBeUndefined();
    expect(live.destroyed).toBe(false);
    const fresh = await open();
    expect(await roundTrip(fresh, 'lost', 300)).toBeUndefined();
    await proxy.heal();
    expect(await roundTrip(await open(), 'back')).toBe('back');
  });

  it('resets live connections with RST and new ones as they open', async () => {
    const live = await open();
    const liveError = new Promise<string | undefined>((resolve) => {
      live.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
      live.once('close', () => resolve(undefined));
    });
    proxy.resetPeer();
    expect(await liveError).toBe('ECONNRESET');
    expect(['ECONNRESET', 'closed']).toContain(await connectOutcome());
    await proxy.heal();
    expect(await roundTrip(await open(), 'back')).toBe('back');
  });

  it('goes down: refuses new connections, closes live ones, listens again on the same port when healed', async () => {
    const live = await open();
    const closed = once(live, 'close');
    proxy.down();
    await closed;
    expect(await connectOutcome()).toBe('ECONNREFUSED');
    await proxy.heal();
    expect(await roundTrip(await open(), 'back')).toBe('back');
  });

  it('cuts every live connection and keeps accepting new ones', async () => {
    const first = await open();
    const second = await open();
    expect(proxy.connections).toBe(2);
    const closed = Promise.all([once(first, 'close'), once(second, 'close')]);
    proxy.cutAll();
    await closed;
    expect(proxy.connections).toBe(0);
    expect(await roundTrip(await open(), 'still')).toBe('still');
  });
});
