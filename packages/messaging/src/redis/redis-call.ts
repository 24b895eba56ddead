import { type Clock, within } from '@bulwark/resilience';
import { MessagingError } from '../errors/messaging-error.js';

/**
 * Waits for a Redis call at most `timeoutMs`, then rejects with a `MessagingError` of code
 * `REDIS_TIMEOUT`. ioredis has no timeout by default: on a connection that went silent (a dead
 * peer, a network blackhole) a command waits until the socket dies, which may be never. The
 * command itself is not withdrawn (ioredis may still send it once connected again): callers that
 * time out treat the outcome as unknown, as after any lost reply.
 *
 * @internal
 */
export function redisCall<T>(clock: Clock, timeoutMs: number, what: string, call: Promise<T>): Promise<T> {
  return within(
    clock,
    call,
    timeoutMs,
    () => new MessagingError('REDIS_TIMEOUT', `${what}: no answer from Redis within ${timeoutMs} ms`),
  );
}

/**
 * {@link redisCall} for the stores: a failure is rethrown as a `MessagingError` of code
 * `REDIS_FAILED` (the ioredis error as its `cause`), so that callers see one error type whatever
 * went wrong with the connection.
 *
 * @internal
 */
export async function redisStoreCall<T>(clock: Clock, timeoutMs: number, what: string, call: Promise<T>): Promise<T> {
  try {
    return await redisCall(clock, timeoutMs, what, call);
  } catch (error) {
    if (error instanceof MessagingError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new MessagingError('REDIS_FAILED', `${what} failed: ${reason}`, { cause: error });
  }
}
