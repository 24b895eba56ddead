import type { Server } from 'node:http';
import { memoryIdempotencyStore } from '@bulwark/messaging';
import { idempotencyKey } from '@bulwark/messaging/express';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrder, describeHttpIdempotency, type OrderBody } from '../idempotency/fixtures/http-scenarios.js';

describeHttpIdempotency('express', async (control) => {
  const app = express();
  const store = memoryIdempotencyStore();
  const scope = (request: express.Request) => request.get('x-user') ?? 'anonymous';
  const idempotent = idempotencyKey<express.Request>({ store, scope });
  const optional = idempotencyKey<express.Request>({ store, scope, required: false });
  app.post('/orders', express.json(), idempotent, async (request, response) => {
    const order = await createOrder(control, request.body as OrderBody, String(request.get('x-user')));
    response.status(order.status).set(order.headers).json(order.body);
  });
  app.post('/optional', express.json(), optional, (_request, response) => {
    control.calls += 1;
    response.json({ calls: control.calls });
  });
  app.post('/boom', express.json(), idempotent, async () => {
    control.calls += 1;
    throw new Error('kaboom');
  });
  app.post('/unavailable', express.json(), idempotent, (_request, response) => {
    control.calls += 1;
    response.status(503).json({ error: 'try later' });
  });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});

describe('idempotencyKey middleware: bodies written in pieces', () => {
  let server: Server;
  let url: string;
  let calls = 0;
  beforeAll(async () => {
    const app = express();
    app.post(
      '/report',
      express.json(),
      idempotencyKey<express.Request>({ store: memoryIdempotencyStore(), scope: () => 'one-client' }),
      (_request, response) => {
        calls += 1;
        response.status(200).type('text/csv');
        response.write('id,total\n');
        response.write(Buffer.from(`${calls},42\n`));
        response.end('end\n');
      },
    );
    server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('stores every chunk written and replays them as one body', async () => {
    const send = () =>
      fetch(`${url}/report`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'report-1' },
        body: '{"month":"2026-11"}',
      });
    const first = await send();
    expect(await first.text()).toBe('id,total\n1,42\nend\n');
    const replay = await send();
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(await replay.text()).toBe('id,total\n1,42\nend\n');
    expect(calls).toBe(1);
  });
});
