// Invariants of resilientFetch over scripted sequences of server answers, against a real server.
import { constant } from '@bulwark/resilience';
import { resilientFetch } from '@bulwark/resilience/http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answer, startTestServer, type TestServer } from './fixtures/test-server.js';

type Scripted = 200 | 404 | 429 | 500 | 503 | 'reset';

describe('resilientFetch properties', () => {
  let script: Scripted[] = [];
  let api: TestServer;
  beforeAll(async () => {
    api = await startTestServer((_request, response, { socket }) => {
      const next = script.shift() ?? 200;
      if (next === 'reset') socket.destroy();
      else answer(response, next, next === 429 ? { 'retry-after': '0' } : {});
    });
  });
  afterAll(() => api.close());

  it('never sends more than maxAttempts; a POST without Idempotency-Key at most once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom('GET', 'PUT', 'POST', 'POST with key', 'PATCH'),
        fc.array(fc.constantFrom<Scripted>(200, 404, 429, 500, 503, 'reset'), { maxLength: 6 }),
        async (maxAttempts, kind, answers) => {
          script = [...answers];
          const before = api.requests.length;
          const http = resilientFetch({ retry: { maxAttempts, backoff: constant({ ms: 0 }) }, circuitBreaker: false });
          const method = kind === 'POST with key' ? 'POST' : kind;
          const headers: Record<string, string> = kind === 'POST with key' ? { 'idempotency-key': 'k' } : {};
          const outcome = await http(api.url, { method, headers, ...(method === 'GET' ? {} : { body: 'b' }) }).then(
            (response) => response.status,
            () => 'error',
          );
          const sent = api.requests.length - before;
          const retriable = kind !== 'POST' && kind !== 'PATCH';
          expect(sent).toBeGreaterThanOrEqual(1);
          expect(sent).toBeLessThanOrEqual(retriable ? maxAttempts : 1);
          // The call stops at the first answer that is not transient.
          const firstFinal = answers.findIndex((answer) => answer === 200 || answer === 404);
          const expectedSent = retriable
            ? Math.min(maxAttempts, firstFinal === -1 ? Math.max(answers.length + 1, 1) : firstFinal + 1)
            : 1;
          expect(sent).toBe(expectedSent);
          if (sent === expectedSent && retriable && firstFinal !== -1 && firstFinal < maxAttempts) {
            expect(outcome).toBe(answers[firstFinal]);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
