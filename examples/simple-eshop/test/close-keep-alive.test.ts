// A server closing while a request is in flight: the request is answered, its keep-alive
// connection ends with the answer, and close() returns without waiting out keepAliveTimeout.
import { once } from 'node:events';
import http from 'node:http';
import Fastify from 'fastify';
import { afterEach, expect, it, vi } from 'vitest';
import { closeKeepAliveOnClose } from '../src/http/close-keep-alive-on-close.js';

const agents: http.Agent[] = [];
afterEach(() => {
  for (const agent of agents.splice(0)) agent.destroy();
});

/** GET `url` on `agent` (a keep-alive agent): the status, the connection header and the socket. */
function get(url: string, agent: http.Agent) {
  return new Promise<{ status: number; connection: string | undefined; closed: Promise<unknown> }>(
    (resolve, reject) => {
      const request = http.get(url, { agent }, (response) => {
        response.resume();
        response.once('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            connection: response.headers.connection,
            closed: request.socket?.destroyed ? Promise.resolve() : once(request.socket as never, 'close'),
          }),
        );
      });
      request.once('error', reject);
    },
  );
}

it('answers a request in flight when close() starts, with Connection: close, and close() returns', async () => {
  const app = Fastify();
  closeKeepAliveOnClose(app);
  let release: () => void = () => {};
  let arrived: () => void = () => {};
  const inFlight = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  app.get('/slow', async () => {
    arrived();
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    return { ok: true };
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const agent = new http.Agent({ keepAlive: true });
  agents.push(agent);
  const answer = get(`${url}/slow`, agent);
  await inFlight;
  const closed = app.close();
  // Answered once the listening socket is closed: the moment Fastify no longer closes it for us.
  await vi.waitFor(() => expect(app.server.listening).toBe(false), { timeout: 10_000 });
  release();
  const { status, connection, closed: socketClosed } = await answer;
  expect(status).toBe(200);
  expect(connection).toBe('close');
  await socketClosed;
  // Without the hook this waits for Fastify's keepAliveTimeout (72 s): the test times out.
  await closed;
});

it('leaves keep-alive alone while the server is not closing', async () => {
  const app = Fastify();
  closeKeepAliveOnClose(app);
  app.get('/', async () => ({ ok: true }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const agent = new http.Agent({ keepAlive: true });
  agents.push(agent);
  const { status, connection } = await get(url, agent);
  expect(status).toBe(200);
  expect(connection).toBe('keep-alive');
  await app.close();
});
