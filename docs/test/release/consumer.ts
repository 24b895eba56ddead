// A TypeScript user's program against the installed tarballs, compiled by the release test with
// `tsc --strict` and no skipLibCheck: every published declaration file must resolve, with the
// optional peer type packages a user of each subpath installs (@types/amqplib, @types/express).

import { memoryIdempotencyStore } from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import { idempotencyKey } from '@bulwark/messaging/express';
import { ipKey, rateLimiter, slidingWindow } from '@bulwark/resilience';
import { rateLimitMiddleware } from '@bulwark/resilience/express';
import amqp from 'amqplib';
import express from 'express';

export async function start(url: string): Promise<void> {
  const app = express();
  const limiter = rateLimiter({ algorithm: slidingWindow({ limit: 100, windowMs: 60_000 }) });
  app.use(rateLimitMiddleware({ limiter, key: (request) => ipKey(request.ip), whenStoreDown: 'allow' }));
  const store = memoryIdempotencyStore();
  app.post('/orders', express.json(), idempotencyKey({ store, scope: (request) => request.get('x-user-id') }));
  const connection = await amqp.connect(url);
  const transport = amqpTransport(connection);
  await transport.close();
}
