import { type Backoff, type Clock, exponential, OptionsValidator } from '@bulwark/resilience';
import type { Transport } from '../transport/transport.js';
import type { OutboxClaimCheck } from './outbox.js';

/** Options of `outbox.relay(...)`. */
export interface OutboxRelayOptions {
  /**
   * Where messages go. Only `publish` is used, and `publishJson` where the transport has it and no
   * `claimCheck` is set: rows the store reads as JSON text then go out as stored, unparsed (a
   * wrapper around a transport keeps this only if it passes `publishJson` on). The relay never
   * closes the transport.
   */
  transport: Pick<Transport, 'publish' | 'publishJson'>;
  /**
   * Messages per publish call, at most. A read takes up to `batchSize` rows per publish in flight
   * (`batchSize * publishConcurrency`, at most 10,000 unless `batchSize` is bigger), so that each
   * lane gets about a batch per read. Bigger batches publish faster from a backlog.
   * @defaultValue 500
   */
  batchSize?: number;
  /**
   * The fallback poll when no notification arrives (LISTEN/NOTIFY wakes the relay at once).
   * @defaultValue 1_000
   */
  pollIntervalMs?: number;
  /**
   * A publish (claim check included) not finished by then counts as failed and is retried; its
   * signal is aborted. Guards the leadership against a hung broker connection.
   * @defaultValue 30_000
   */
  publishTimeoutMs?: number;
  /**
   * Publishes in flight at once. Messages are split into lanes by topic and key (a key's messages
   * always take the same lane, messages without a key take one lane per topic); a lane publishes
   * only after its previous publish was accepted, so a message of a key never goes out before an
   * earlier one of that key was accepted, while different keys go out side by side. 1 publishes one
   * batch at a time, in position order within each topic. Stores that read ahead (`prefetch`) also
   * keep reading while publishes are in flight, up to two reads.
   * @defaultValue 1
   */
  publishConcurrency?: number;
  /** Checks big payloads in (into a blob store) before publishing. */
  claimCheck?: OutboxClaimCheck;
  /**
   * Delay before retrying a failed publish, and before reconnecting after a store failure
   * (`constant`, `linear` or `exponential` from `@bulwark/resilience`).
   * @defaultValue `exponential({ initialMs: 100, maxMs: 30_000, jitter: 'full' })`
   */
  backoff?: Backoff;
  /** Uniform numbers in [0, 1) for the backoff's jitter. @defaultValue `Math.random` */
  random?: () => number;
  /** Stops the relay when aborted; a publish in flight is aborted too. */
  signal?: AbortSignal;
}

/** Defaults of {@link OutboxRelayOptions}. */
export const outboxRelayDefaults = {
  batchSize: 500,
  pollIntervalMs: 1_000,
  publishTimeoutMs: 30_000,
  publishConcurrency: 1,
  // Full jitter: after a broker outage, relays of different outboxes do not retry in lockstep.
  backoff: exponential({ initialMs: 100, maxMs: 30_000, jitter: 'full' }),
  random: Math.random,
} as const;

/** The options a relay runs with, defaults applied. */
export interface ResolvedOutboxRelayOptions {
  readonly transport: Pick<Transport, 'publish' | 'publishJson'>;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  readonly publishTimeoutMs: number;
  readonly publishConcurrency: number;
  readonly claimCheck: OutboxClaimCheck | undefined;
  /**
   * Milliseconds to wait after the `attempt`-th consecutive failure (1, 2, …) of one thing (a
   * topic, the store), given the delay before it (0 at first; decorrelated jitter uses it).
   */
  readonly retryDelay: (attempt: number, previousDelayMs: number) => number;
  readonly signal: AbortSignal | undefined;
  readonly clock: Clock;
}

/** Applies defaults and validates, reporting every problem at once. */
export function resolveOutboxRelayOptions(options: OutboxRelayOptions, clock: Clock): ResolvedOutboxRelayOptions {
  const validator = new OptionsValidator('outbox relay');
  const given = (options ?? {}) as Partial<OutboxRelayOptions>;
  if (typeof given.transport?.publish !== 'function')
    validator.report('transport must have a publish(topic, messages) function');
  if (given.transport?.publishJson !== undefined && typeof given.transport.publishJson !== 'function')
    validator.report('transport.publishJson must be a function when present');
  const batchSize = given.batchSize ?? outboxRelayDefaults.batchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000)
    validator.report(`batchSize must be an integer from 1 to 100000, got ${String(given.batchSize)}`);
  const pollIntervalMs = given.pollIntervalMs ?? outboxRelayDefaults.pollIntervalMs;
  if (!Number.isFinite(pollIntervalMs) || pollIntervalMs < 1)
    validator.report(`pollIntervalMs must be a finite number of at least 1, got ${String(given.pollIntervalMs)}`);
  const publishTimeoutMs = given.publishTimeoutMs ?? outboxRelayDefaults.publishTimeoutMs;
  if (!Number.isFinite(publishTimeoutMs) || publishTimeoutMs < 1)
    validator.report(`publishTimeoutMs must be a finite number of at least 1, got ${String(given.publishTimeoutMs)}`);
  const publishConcurrency = given.publishConcurrency ?? outboxRelayDefaults.publishConcurrency;
  if (!Number.isInteger(publishConcurrency) || publishConcurrency < 1 || publishConcurrency > 256)
    validator.report(`publishConcurrency must be an integer from 1 to 256, got ${String(given.publishConcurrency)}`);
  if (given.claimCheck !== undefined && typeof given.claimCheck?.checkIn !== 'function')
    validator.report('claimCheck must have a checkIn(message) function');
  if (given.backoff !== undefined && typeof given.backoff?.delayMs !== 'function')
    validator.report('backoff must have a delayMs(input) function (constant, linear or exponential)');
  if (given.random !== undefined && typeof given.random !== 'function') validator.report('random must be a function');
  if (given.signal !== undefined && !(given.signal instanceof AbortSignal))
    validator.report('signal must be an AbortSignal');
  validator.throwIfInvalid();
  return {
    transport: given.transport as Pick<Transport, 'publish' | 'publishJson'>,
    batchSize,
    pollIntervalMs,
    publishTimeoutMs,
    publishConcurrency,
    claimCheck: given.claimCheck,
    retryDelay: retryDelays(given.backoff ?? outboxRelayDefaults.backoff, given.random ?? outboxRelayDefaults.random),
    signal: given.signal,
    clock,
  };
}

/**
 * Adapts a {@link Backoff} to the relay's attempt counters. Stateless: each thing retried (every
 * failing topic, the store) keeps its own previous delay, so they never disturb each other's.
 */
function retryDelays(backoff: Backoff, random: () => number): (attempt: number, previousDelayMs: number) => number {
  return (attempt, previousDelayMs) =>
    Math.max(0, backoff.delayMs({ attempt, previousDelayMs: attempt <= 1 ? 0 : previousDelayMs, random }));
}

/**
 * Rows per read at most, unless `batchSize` alone is bigger: bounds what a relay with many publishes
 * in flight holds in memory (two reads while it reads ahead).
 */
const maxReadSize = 10_000;

/**
 * Rows a relay reads at once: a batch per publish in flight. Reading 500 rows for 8 lanes gave each
 * lane ~60 messages per call, and the reads (one at a time, on the leader's connection) were what
 * the relay waited for; reading ~4,000 makes each call about a batch and the reads 8 times fewer.
 */
export function readSizeOf(options: Pick<ResolvedOutboxRelayOptions, 'batchSize' | 'publishConcurrency'>): number {
  return Math.max(options.batchSize, Math.min(options.batchSize * options.publishConcurrency, maxReadSize));
}
