// The one scenario every HTTP adapter of the rate limiter passes (Express middleware, Fastify
// plugin): headers and the 429 problem document per key, keyless requests unlimited, the store
// down failing closed or open, every header format, `headers: false`, `limitedResponse`, and an
// explicit `whenStoreDown`. Time runs on the controllable clock.
import type { IncomingHttpHeaders } from 'node:http';
import {
  fixedWindow,
  type HttpRateLimitOptions,
  InvalidOptionsError,
  type RateLimitHeadersFormat,
  type RateLimitStore,
  rateLimiter,
} from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

/** What the scenario reads of a request: both frameworks' requests have it. */
export interface ScenarioRequest {
  readonly headers: IncomingHttpHeaders;
}

/** A response as the scenario reads it, header names in lower case. */
export interface ScenarioResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** An app serving `GET /items` behind one limiter. */
export interface ScenarioApp {
  get(path: string, headers?: Record<string, string>): Promise<ScenarioResponse>;
  close(): Promise<void>;
}

/** How the scenario drives one framework. */
export interface RateLimitAdapter {
  /** Serves `GET /items` (answering 200) behind the adapter made with `options`. */
  serve(options: HttpRateLimitOptions<ScenarioRequest>): Promise<ScenarioApp>;
  /** Makes the adapter without serving it (to check its options). */
  make(options: HttpRateLimitOptions<ScenarioRequest>): unknown;
  /** What `limitedResponse` reports of the request, and what that is for `GET /items` from loopback. */
  readonly requestDetail: { read(request: ScenarioRequest): string; readonly expected: string };
}

/** A store whose every call fails as a refused connection does. */
export const downStore: RateLimitStore = {
  consume: async () => {
    throw new Error('ECONNREFUSED');
  },
  peek: async () => {
    throw new Error('ECONNREFUSED');
  },
  reset: async () => {},
  close: async () => {},
};

const formats: Array<[RateLimitHeadersFormat, Record<string, string>]> = [
  ['draft-8', { 'ratelimit-policy': '"api";q=2;w=10', ratelimit: '"api";r=0;t=10' }],
  ['draft-7', { 'ratelimit-policy': '2;w=10', ratelimit: 'limit=2, remaining=0, reset=10' }],
  [
    'draft-6',
    { 'ratelimit-policy': '2;w=10', 'ratelimit-limit': '2', 'ratelimit-remaining': '0', 'ratelimit-reset': '10' },
  ],
  ['legacy', { 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(1_700_000_010) }],
];

const rateLimitHeaders = (response: ScenarioResponse) =>
  Object.fromEntries(Object.entries(response.headers).filter(([name]) => name.includes('ratelimit')));

export function rateLimitHttpScenario(name: string, adapter: RateLimitAdapter): void {
  describe(`${name}: the HTTP rate-limit scenario`, () => {
    /** 2 requests per 10 s per `x-api-key` (else one shared key), on a clock of its own. */
    const serve = async (options: Partial<HttpRateLimitOptions<ScenarioRequest>> = {}) => {
      const clock = manualClock(1_700_000_000_000);
      const app = await adapter.serve({
        limiter: rateLimiter({ algorithm: fixedWindow({ limit: 2, windowMs: 10_000 }), clock }),
        key: (request) => (request.headers['x-api-key'] as string | undefined) ?? 'anonymous',
        whenStoreDown: 'reject',
        clock,
        ...options,
      });
      return { app, clock };
    };

    it('sets the newest draft headers, then answers 429 (a problem document) with Retry-After, per key', async () => {
      const { app, clock } = await serve();
      try {
        const first = await app.get('/items');
        expect(first.status).toBe(200);
        expect(first.headers['ratelimit-policy']).toBe('"default";q=2;w=10');
        expect(first.headers.ratelimit).toBe('"default";r=1;t=10');
        expect(first.headers['ratelimit-limit']).toBeUndefined();
        expect((await app.get('/items')).status).toBe(200);
        const limited = await app.get('/items');
        expect(limited.status).toBe(429);
        expect(limited.headers['retry-after']).toBe('10');
        expect(limited.headers.ratelimit).toBe('"default";r=0;t=10');
        expect(limited.headers['content-type']).toBe('application/problem+json');
        expect(JSON.parse(limited.body)).toEqual({
          type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
          title: 'Too Many Requests',
          status: 429,
          detail: 'Rate limit exceeded; retry in 10 s.',
          'violated-policies': ['default'],
          retryAfterMs: 10_000,
        });
        // Another key is counted apart.
        expect((await app.get('/items', { 'x-api-key': 'k2' })).status).toBe(200);
        clock.advance(10_000);
        expect((await app.get('/items')).status).toBe(200);
      } finally {
        await app.close();
      }
    });

    it('lets requests without a key through unlimited', async () => {
      const { app } = await serve({ key: () => undefined });
      try {
        for (let index = 0; index < 5; index++) {
          const response = await app.get('/items');
          expect(response.status).toBe(200);
          expect(response.headers.ratelimit).toBeUndefined();
        }
      } finally {
        await app.close();
      }
    });

    it('store down + whenStoreDown "reject" → 503; "allow" → passes and reports the outage', async () => {
      const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 2, windowMs: 1_000 }), store: downStore });
      const closed = await adapter.serve({ limiter, key: () => 'k', whenStoreDown: 'reject' });
      const outages: string[] = [];
      const open = await adapter.serve({
        limiter,
        key: () => 'k',
        whenStoreDown: 'allow',
        onStoreDown: (error) => outages.push(error.code),
      });
      try {
        const refused = await closed.get('/items');
        expect(refused.status).toBe(503);
        expect(refused.headers['retry-after']).toBe('1');
        expect(refused.headers['content-type']).toBe('application/problem+json');
        expect(JSON.parse(refused.body)).toMatchObject({
          type: 'urn:bulwark:rate-limit:store-unavailable',
          status: 503,
        });
        const passed = await open.get('/items');
        expect(passed.status).toBe(200);
        expect(outages).toEqual(['RATE_LIMIT_STORE_FAILED']);
      } finally {
        await closed.close();
        await open.close();
      }
    });

    it.each(formats)('headers: %s', async (format, expected) => {
      const { app } = await serve({ headers: format, policy: 'api' });
      try {
        await app.get('/items');
        expect(rateLimitHeaders(await app.get('/items'))).toEqual(expected);
      } finally {
        await app.close();
      }
    });

    it('headers: false sends none, but a refusal still has Retry-After', async () => {
      const { app } = await serve({ headers: false });
      try {
        await app.get('/items');
        await app.get('/items');
        const limited = await app.get('/items');
        expect(limited.status).toBe(429);
        expect(limited.headers['retry-after']).toBe('10');
        expect(Object.keys(rateLimitHeaders(limited))).toEqual([]);
      } finally {
        await app.close();
      }
    });

    it('limitedResponse builds the refusal: own status, body and content type', async () => {
      const { app } = await serve({
        limitedResponse: ({ request, decision, problem }) => ({
          status: 418,
          body: {
            about: adapter.requestDetail.read(request),
            wait: decision.retryAfterMs,
            type: problem.type,
            policies: problem['violated-policies'],
          },
        }),
      });
      const { app: text } = await serve({ limitedResponse: () => ({ body: 'later' }) });
      try {
        await app.get('/items');
        await app.get('/items');
        const limited = await app.get('/items');
        expect(limited.status).toBe(418);
        expect(limited.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(limited.headers['retry-after']).toBe('10');
        expect(JSON.parse(limited.body)).toEqual({
          about: adapter.requestDetail.expected,
          wait: 10_000,
          type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
          policies: ['default'],
        });
        for (let index = 0; index < 2; index++) await text.get('/items');
        const plain = await text.get('/items');
        expect([plain.status, plain.headers['content-type'], plain.body]).toEqual([
          429,
          'text/plain; charset=utf-8',
          'later',
        ]);
      } finally {
        await app.close();
        await text.close();
      }
    });

    it('requires an explicit whenStoreDown', () => {
      const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }) });
      const make = () => adapter.make({ limiter, key: () => 'k' } as never);
      expect(make).toThrowError(InvalidOptionsError);
      expect(make).toThrowError(/whenStoreDown/);
    });
  });
}
