// Every docs example that needs no server runs here and must print what its guide shows.
import { describe, expect, it } from 'vitest';
import { documentedOutput, runExample } from './run-example.js';

const examples = [
  'getting-started',
  'circuit-breaker',
  'retry',
  'bulkhead',
  'rate-limiting',
  'timeout-fallback-hedge',
  'caching',
  'http',
  'idempotency',
  'idempotency-http',
  'claim-check',
  'consumer',
  'saga',
  'choreography',
  'operating',
  'observability',
];

describe('docs examples', () => {
  it.each(examples)('%s prints what its guide says', async (name) => {
    const expected = documentedOutput(name);
    expect(expected.length).toBeGreaterThan(0);
    expect(await runExample(name)).toBe(expected);
  });
});
