import { createHash } from 'node:crypto';
import { type Cluster, Command, type Redis } from 'ioredis';

/** A Lua script and its SHA1, for `EVALSHA`. Made by {@link redisScript}. */
export interface RedisScript {
  readonly lua: string;
  readonly sha: string;
}

/** Wraps a Lua script's text with its SHA1. */
export const redisScript = (lua: string): RedisScript => ({
  lua,
  sha: createHash('sha1').update(lua).digest('hex'),
});

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith('NOSCRIPT');

/**
 * Runs a script in one round trip: `EVALSHA`, and `EVAL` (which caches the script again) when the
 * server answers `NOSCRIPT` after a restart or `SCRIPT FLUSH` — what ioredis' `defineCommand`
 * does, written out so that a call is one `Command` and one promise, sent straight to the
 * connection: the stores batch already, and a second pass through ioredis' auto-pipelining
 * queue would only add work. Replies are decoded as UTF-8 strings.
 */
export async function runRedisScript(
  redis: Redis | Cluster,
  script: RedisScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  const send = (name: 'evalsha' | 'eval', first: string) => {
    const command = new Command(name, [first, keys.length, ...keys, ...args], { replyEncoding: 'utf8' });
    redis.sendCommand(command);
    return command.promise;
  };
  try {
    return await send('evalsha', script.sha);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return await send('eval', script.lua);
  }
}
