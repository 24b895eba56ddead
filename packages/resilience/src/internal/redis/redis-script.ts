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

/** How {@link runRedisScript} sends and decodes. */
export interface RunRedisScriptOptions {
  /** Leave replies as Buffers (binary payloads) instead of decoding them as UTF-8 strings. */
  readonly buffers?: boolean;
  /**
   * Wraps the reply of each command sent (`EVALSHA`, then `EVAL` after `NOSCRIPT`), e.g. to bound
   * how long it may take; a rejection of the wrapped `EVALSHA` that is not `NOSCRIPT` is final.
   */
  readonly bound?: (command: 'EVALSHA' | 'EVAL', reply: Promise<unknown>) => Promise<unknown>;
}

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith('NOSCRIPT');

/**
 * The one way Bulwark runs Lua on Redis: `EVALSHA`, and `EVAL` (which caches the script again)
 * when the server answers `NOSCRIPT` after a restart or `SCRIPT FLUSH` — what ioredis'
 * `defineCommand` does, written out so that a call is one `Command` and one promise, sent
 * straight to the connection: the stores batch already, and a second pass through ioredis'
 * auto-pipelining queue would only add work. Replies are UTF-8 strings unless `buffers` is set.
 */
export async function runRedisScript(
  redis: Redis | Cluster,
  script: RedisScript,
  keys: readonly (string | Buffer)[],
  args: readonly (string | number | Buffer)[],
  options: RunRedisScriptOptions = {},
): Promise<unknown> {
  const replyEncoding = options.buffers ? null : 'utf8';
  const send = (name: 'EVALSHA' | 'EVAL', first: string) => {
    const command = new Command(name.toLowerCase(), [first, keys.length, ...keys, ...args], { replyEncoding });
    redis.sendCommand(command);
    return options.bound ? options.bound(name, command.promise) : command.promise;
  };
  try {
    return await send('EVALSHA', script.sha);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return await send('EVAL', script.lua);
  }
}
