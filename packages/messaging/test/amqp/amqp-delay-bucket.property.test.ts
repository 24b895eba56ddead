import { delayBucketMs } from '@bulwark/messaging/amqp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('delayBucketMs (AMQP delay queues)', () => {
  it('never delivers early, and at most 10% (or 1 ms) late', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 * 24 * 3_600_000 }), (delayMs) => {
        const bucket = delayBucketMs(delayMs);
        expect(bucket).toBeGreaterThanOrEqual(delayMs);
        expect(bucket - delayMs).toBeLessThanOrEqual(Math.max(1, delayMs * 0.1));
      }),
    );
  });

  it('maps jittered delays of one decade onto at most 90 queues', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1_000, max: 9_999 }), { minLength: 1, maxLength: 500 }), (delays) => {
        expect(new Set(delays.map(delayBucketMs)).size).toBeLessThanOrEqual(90);
      }),
    );
  });

  it('is idempotent: a bucket is its own bucket', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), (delayMs) => {
        const bucket = delayBucketMs(delayMs);
        expect(delayBucketMs(bucket)).toBe(bucket);
      }),
    );
  });
});
