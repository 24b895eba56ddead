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
   * Send each command straight to the connection, past ioredis' auto-pipelining queue: for
   * callers that batch already (a pipelined batcher), where a second queue only adds work.
   * Otherwise the command goes the way of every ioredis command (auto-pipelined when the client
   * enables it).
   */
  readonly direct?: boolean;
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
 * `defineCommand` does, without adding commands to the user's client. Keys get the client's
 * `keyPrefix`, as with every ioredis command. With `direct`, a call is one `Command` and one
 * promise sent straight to the connection. Replies are UTF-8 strings unless `buffers` is set.
 */
export async function runRedisScript(
  redis: Redis | Cluster,
  script: RedisScript,
  keys: readonly (string | Buffer)[],
  args: readonly (string | number | Buffer)[],
  options: RunRedisScriptOptions = {},
): Promise<unknown> {
  const send = (name: 'EVALSHA' | 'EVAL', first: string): Promise<unknown> => {
    const commandArgs = [first, keys.length, ...keys, ...args];
    let reply: Promise<unknown>;
    if (options.direct) {
      const command = new Command(name.toLowerCase(), commandArgs, {
        replyEncoding: options.buffers ? null : 'utf8',
        keyPrefix: redis.options.keyPrefix,
      });
      redis.sendCommand(command);
      reply = command.promise;
    } else {
      reply = options.buffers ? redis.callBuffer(name, ...commandArgs) : redis.call(name, ...commandArgs);
    }
    return options.bound ? options.bound(name, reply) : reply;
  };
  try {
    return await send('EVALSHA', script.sha);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return await send('EVAL', script.lua);
  }
}
