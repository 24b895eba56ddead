import { type RedisScript, redisScript, runRedisScript } from '@bulwark/resilience/internal/redis';
import type { Redis } from 'ioredis';
import { MessagingError } from '../errors/messaging-error.js';
import ackSource from './lua/stream-ack.lua';
import appendSource from './lua/stream-append.lua';
import claimSource from './lua/stream-claim.lua';
import createGroupSource from './lua/stream-create-group.lua';
import nackSource from './lua/stream-nack.lua';
import pruneConsumersSource from './lua/stream-prune-consumers.lua';
import scheduleSource from './lua/stream-schedule.lua';
import { redisCall } from './redis-call.js';
import type { TransportSettings } from './redis-streams-options.js';

/** Field of a stream entry that holds the serialized envelope. */
export const envelopeField = 'envelope';

export const claimScript = redisScript(claimSource);
export const nackScript = redisScript(nackSource);
export const ackScript = redisScript(ackSource);
export const scheduleScript = redisScript(scheduleSource);
export const appendScript = redisScript(appendSource);
export const pruneConsumersScript = redisScript(pruneConsumersSource);
export const createGroupScript = redisScript(createGroupSource);

/** Runs a script with binary replies, each command bounded by `operationTimeoutMs`. */
export function runScript(
  redis: Redis,
  script: RedisScript,
  keys: readonly string[],
  args: readonly (string | number | Buffer)[],
  settings: Pick<TransportSettings, 'clock' | 'operationTimeoutMs'>,
): Promise<unknown> {
  return runRedisScript(redis, script, keys, args, {
    buffers: true,
    bound: (command, reply) =>
      redisCall(settings.clock, settings.operationTimeoutMs, `${command} on ${keys[0]}`, reply),
  });
}

export const isNoGroupError = (error: unknown): boolean =>
  error instanceof Error && error.message.startsWith('NOGROUP');

export const asError = (code: string, message: string, cause: unknown) => new MessagingError(code, message, { cause });

/** The sorted set of a stream's delayed publishes. */
export const scheduledKey = (stream: string) => `${stream}:scheduled`;
