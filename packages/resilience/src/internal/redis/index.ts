/**
 * Internal: Redis helpers shared by the Bulwark packages (the Lua runner, the pipelined batcher).
 * Not for applications; no compatibility promise, may change in any release.
 *
 * @internal
 * @module @bulwark/resilience/internal/redis
 */

export type { PipelinedBatcherOptions } from '../pipelined-batcher.js';
export { pipelinedBatcher, pipelinedBatcherDefaults } from '../pipelined-batcher.js';
export type { RedisScript, RunRedisScriptOptions } from './redis-script.js';
export { redisScript, runRedisScript } from './redis-script.js';
