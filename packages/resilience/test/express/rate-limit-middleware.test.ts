// The Express middleware: the shared HTTP rate-limit scenario over a real server, and what only
// Express has (its Request in the callbacks).
import type { AddressInfo } from 'node:net';
import { fixedWindow, rateLimiter } from '@bulwark/resilience';
import { rateLimitMiddleware } from '@bulwark/resilience/express';
import express, { type Request } from 'express';
import { describe, expect, it } from 'vitest';
import { rateLimitHttpScenario, type ScenarioApp } from '../rate-limit/http-rate-limit-scenario.js';

async function listen(app: express.Express): Promise<ScenarioApp> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    async get(path, headers = {}) {
      const response = await fetch(`${base}${path}`, { headers });
      return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

rateLimitHttpScenario('rateLimitMiddleware (Express)', {
  serve(options) {
    const app = express();
    app.use(rateLimitMiddleware(options));
    app.get('/items', (_request, response) => {
      response.json({ items: [] });
    });
    return listen(app);
  },
  make: (options) => rateLimitMiddleware(options),
  requestDetail: { read: (request) => (request as Request).path, expected: '/items' },
});

describe('rateLimitMiddleware (Express)', () => {
  it("gives the callbacks Express' Request without an annotation", async () => {
    const app = express();
    app.use(
      '/api',
      rateLimitMiddleware({
        limiter: rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }) }),
        key: (request) => request.get('x-api-key'),
        whenStoreDown: 'reject',
      }),
    );
    app.get('/api/items', (_request, response) => {
      response.json({ items: [] });
    });
    const served = await listen(app);
    try {
      expect((await served.get('/api/items', { 'x-api-key': 'alice' })).status).toBe(200);
      expect((await served.get('/api/items', { 'x-api-key': 'alice' })).status).toBe(429);
      expect((await served.get('/api/items', { 'x-api-key': 'bob' })).status).toBe(200);
    } finally {
      await served.close();
    }
  });
});
