import type { Clock } from '@bulwark/resilience';
import { InvalidMessagingOptionsError } from '../errors/messaging-error.js';
import type { Transport } from '../transport/transport.js';
import type { OutboxClaimCheck } from './outbox.js';

/**
 * How long to wait before retrying a failed publish: receives the attempt that failed (1, 2, …)
 * and returns milliseconds. A backoff from `@bulwark/resilience` can be adapted in one line.
 */
export type OutboxRetryDelay = (attempt: number) => number;

/** Options of `outbox.relay(...)`. */
export interface OutboxRelayOptions {
  /** Where messages go. Only `publish` is used; the relay never closes the transport. */
  transport: Pick<Transport, 'publish'>;
  /**
   * Rows read and published per round. Bigger batches publish faster from a backlog.
   * @defaultValue 500
   */
  batchSize?: number;
  /**
   * The fallback poll when no notification arrives (LISTEN/NOTIFY wakes the relay at once).
   * @defaultValue 1_000
   */
  pollIntervalMs?: number;
  /** Checks big payloads in (into a blob store) before publishing. */
  claimCheck?: OutboxClaimCheck;
  /**
   * Delay before retrying a failed publish, and before reconnecting after a store failure.
   * @defaultValue exponential: 100 ms doubling per attempt, at most 30 s
   */
  retryDelay?: OutboxRetryDelay;
  /** Stops the relay when aborted; a publish in flight is aborted too. */
  signal?: AbortSignal;
}

/** Defaults of {@link OutboxRelayOptions}. */
export const outboxRelayDefaults = {
  batchSize: 500,
  pollIntervalMs: 1_000,
  retryDelay: ((attempt: number) => Math.min(30_000, 100 * 2 ** Math.max(0, attempt - 1))) as OutboxRetryDelay,
} as const;

/** The options a relay runs with, defaults applied. */
export interface ResolvedOutboxRelayOptions {
  readonly transport: Pick<Transport, 'publish'>;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  readonly claimCheck: OutboxClaimCheck | undefined;
  readonly retryDelay: OutboxRetryDelay;
  readonly signal: AbortSignal | undefined;
  readonly clock: Clock;
}

/** Applies defaults and validates, reporting every problem at once. */
export function resolveOutboxRelayOptions(options: OutboxRelayOptions, clock: Clock): ResolvedOutboxRelayOptions {
  const problems: string[] = [];
  const given = (options ?? {}) as Partial<OutboxRelayOptions>;
  if (typeof given.transport?.publish !== 'function')
    problems.push('transport must have a publish(topic, messages) function');
  const batchSize = given.batchSize ?? outboxRelayDefaults.batchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000)
    problems.push(`batchSize must be an integer from 1 to 100000 (got ${String(given.batchSize)})`);
  const pollIntervalMs = given.pollIntervalMs ?? outboxRelayDefaults.pollIntervalMs;
  if (!Number.isFinite(pollIntervalMs) || pollIntervalMs < 1)
    problems.push(`pollIntervalMs must be a finite number of at least 1 (got ${String(given.pollIntervalMs)})`);
  if (given.claimCheck !== undefined && typeof given.claimCheck?.checkIn !== 'function')
    problems.push('claimCheck must have a checkIn(message) function');
  if (given.retryDelay !== undefined && typeof given.retryDelay !== 'function')
    problems.push('retryDelay must be a function (attempt) => milliseconds');
  if (given.signal !== undefined && !(given.signal instanceof AbortSignal))
    problems.push('signal must be an AbortSignal');
  if (problems.length > 0) throw new InvalidMessagingOptionsError('outbox relay', problems);
  return {
    transport: given.transport as Pick<Transport, 'publish'>,
    batchSize,
    pollIntervalMs,
    claimCheck: given.claimCheck,
    retryDelay: given.retryDelay ?? outboxRelayDefaults.retryDelay,
    signal: given.signal,
    clock,
  };
}
