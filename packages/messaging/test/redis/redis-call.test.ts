import { MessagingError } from '@bulwark/messaging';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';
import { redisCall, redisStoreCall } from '../../src/redis/redis-call.js';

// A command on a connection that went silent never settles: what a blackholed network does.
const silent = () => new Promise<never>(() => {});

describe('redisCall / redisStoreCall (bounded Redis calls)', () => {
  it('rejects with REDIS_TIMEOUT once timeoutMs passed on the clock, not before', async () => {
    const clock = manualClock();
    let outcome: unknown;
    redisCall(clock, 1_000, 'XADD to s', silent()).catch((error: unknown) => {
      outcome = error;
    });
    await clock.advanceAsync(999);
    expect(outcome).toBeUndefined();
    await clock.advanceAsync(1);
    expect(outcome).toBeInstanceOf(MessagingError);
    expect(outcome).toMatchObject({ code: 'REDIS_TIMEOUT', message: 'XADD to s: no answer from Redis within 1000 ms' });
  });

  it('answers as the call does when it settles in time, and clears its timer', async () => {
    const clock = manualClock();
    await expect(redisCall(clock, 1_000, 'GET', Promise.resolve('value'))).resolves.toBe('value');
    const failure = new Error('Connection is closed.');
    await expect(redisCall(clock, 1_000, 'GET', Promise.reject(failure))).rejects.toBe(failure);
  });

  it('redisStoreCall types every failure: REDIS_FAILED with the ioredis error as cause', async () => {
    const clock = manualClock();
    const failure = new Error('Reached the max retries per request limit');
    const rejected = redisStoreCall(clock, 1_000, 'begin "k"', Promise.reject(failure));
    await expect(rejected).rejects.toMatchObject({
      code: 'REDIS_FAILED',
      message: 'begin "k" failed: Reached the max retries per request limit',
      cause: failure,
    });
    const timedOut = expect(redisStoreCall(clock, 10, 'get "k"', silent())).rejects.toMatchObject({
      code: 'REDIS_TIMEOUT',
    });
    await clock.advanceAsync(10);
    await timedOut;
  });

  it('a call that fails after its timeout leaves no unhandled rejection behind', async () => {
    const clock = manualClock();
    let fail: (error: Error) => void = () => {};
    const late = new Promise<never>((_, reject) => {
      fail = reject;
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const bounded = expect(redisCall(clock, 5, 'EVALSHA', late)).rejects.toMatchObject({ code: 'REDIS_TIMEOUT' });
      await clock.advanceAsync(5);
      await bounded;
      fail(new Error('Connection is closed.'));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
