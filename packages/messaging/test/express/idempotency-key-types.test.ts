// The README's Express snippet, unannotated: the callbacks get Express' Request. `pnpm typecheck`
// compiles this file (a TS2339 on `request.get` was issue 16); the cases below run it.
import type { Server } from 'node:http';
import { memoryIdempotencyStore } from '@bulwark/messaging';
import { idempotencyKey } from '@bulwark/messaging/express';
import express from 'express';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';

describe('idempotencyKey (Express) typing', () => {
  let server: Server;
  let url = '';
  let runs = 0;
  beforeAll(async () => {
    const store = memoryIdempotencyStore();
    const app = express();
    const idempotent = idempotencyKey({ store, scope: (request) => request.get('x-user-id') });
    app.post('/orders', express.json(), idempotent, (_request, response) => {
      runs += 1;
      response.status(201).json({ run: runs });
    });
    server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('types the callbacks with express.Request, not a bare IncomingMessage', () => {
    const store = memoryIdempotencyStore();
    idempotencyKey({
      store,
      scope: (request) => {
        expectTypeOf(request).toEqualTypeOf<express.Request>();
        return request.ip;
      },
    });
    // @ts-expect-error a property Express' Request does not have is an error, so the type is not `any`
    idempotencyKey({ store, scope: (request) => request.notARequestProperty });
    // A Connect app still names its own request type.
    idempotencyKey<import('node:http').IncomingMessage>({ store, scope: (request) => request.headers.host });
  });

  it('scopes keys per user; requests without a user share the anonymous scope', async () => {
    const post = (user: string | undefined) =>
      fetch(`${url}/orders`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': 'order-1',
          ...(user === undefined ? {} : { 'x-user-id': user }),
        },
        body: JSON.stringify({ sku: 'A' }),
      });
    const alice = await post('alice');
    expect([alice.status, await alice.json()]).toEqual([201, { run: 1 }]);
    const bob = await post('bob');
    expect(bob.headers.get('idempotent-replayed')).toBeNull();
    expect(await bob.json()).toEqual({ run: 2 });
    const anonymous = await post(undefined);
    expect(await anonymous.json()).toEqual({ run: 3 });
    const again = await post(undefined);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual({ run: 3 });
  });
});
