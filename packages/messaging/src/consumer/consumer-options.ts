import type { Backoff, Clock } from '@bulwark/resilience';
import { OptionsValidator } from '@bulwark/resilience';
import type { Envelope } from '../envelope/envelope.js';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import type { Delivery } from '../transport/transport.js';

/** What the handler receives besides the message. */
export interface MessageContext {
  /** Aborts when the consumer's shutdown deadline passes: stop and let the message come back. */
  readonly signal: AbortSignal;
  /** 1 for the first run of the handler on this delivery, incremented by each retry. */
  readonly attempt: number;
  /** The transport's delivery count (1 unless the message came back from a dead or failed consumer). */
  readonly deliveryCount: number;
  /** The underlying delivery; the consumer settles it, a handler should not. */
  readonly delivery: Delivery;
}

/** Handles one message; throw to fail (a {@link NonRetryableError} skips the retries). */
export type MessageHandler<Payload = unknown> = (
  message: Envelope<Payload>,
  context: MessageContext,
) => Promise<void> | void;

/**
 * How a failing handler is retried, in process, before the message is dead-lettered:
 * - delays in ms, one per retry: `[1_000, 5_000, 15_000]` runs the handler up to 4 times;
 * - `{ maxAttempts, backoff }` with a backoff from `@bulwark/resilience` (`exponential(…)`,
 *   `constant(…)`, `linear(…)`); `maxAttempts` counts the first run;
 * - `false`: no retry.
 *
 * Retries hold the delivery: keep their total under the transport's visibility timeout.
 */
export type ConsumerRetry = readonly number[] | { readonly maxAttempts: number; readonly backoff: Backoff } | false;

/** Inbox deduplication: a message id handled once per group is skipped when it comes again. */
export interface ConsumerDedupe {
  /** Where handled message ids are recorded (`memoryIdempotencyStore()`, Redis, PostgreSQL). */
  readonly store: IdempotencyStore;
  /** How long a handled id is remembered: a duration in ms, or `'forever'`. */
  readonly windowMs: number | 'forever';
  /**
   * How long a handler holds a message id while it runs; a crashed holder's id is taken over
   * after it. Renewed while the handler runs when the store supports `renew`.
   * @defaultValue 30_000
   */
  readonly leaseMs?: number;
}

/** Options of {@link consume}. */
export interface ConsumeOptions<Payload = unknown> {
  readonly topic: string;
  /** The consumer group: instances with the same group share the work. */
  readonly group: string;
  readonly handler: MessageHandler<Payload>;
  /** Handlers running at once in this instance. @defaultValue 1 */
  readonly concurrency?: number;
  /** Deliveries taken from the transport at once. @defaultValue `concurrency` */
  readonly prefetch?: number;
  /** @defaultValue `[1_000, 5_000, 15_000]` */
  readonly retry?: ConsumerRetry;
  /**
   * The dead-letter topic: a message whose retries ran out, or whose handler threw a
   * `NonRetryableError`, is published there with the failure in headers and acked. Without one,
   * such a delivery is nacked and the transport delivers it again later.
   */
  readonly deadLetter?: string;
  /**
   * The consumer group declared on the `deadLetter` topic when the consumer starts (where the
   * transport has `declareGroup`), so dead letters are kept until someone reads them even if no
   * one subscribed to that topic yet: on RabbitMQ a topic without a group refuses publishes, and
   * the original would otherwise come back forever. `deadLetterQueue()` reads this group by
   * default. `false` declares nothing.
   * @defaultValue `'bulwark-dead-letters'`
   */
  readonly deadLetterGroup?: string | false;
  /**
   * `fifo-group`: messages with the same `groupId` are handled strictly one after another in
   * delivery order, retries included; different groups (and messages without a group) run in
   * parallel. Across instances this relies on a transport with `ordering: 'per-key'`.
   * @defaultValue `'none'`
   */
  readonly ordering?: 'none' | 'fifo-group';
  /** Inbox deduplication by message id. */
  readonly dedupe?: ConsumerDedupe;
  /**
   * A message delivered more times than this (its consumers keep dying on it) is dead-lettered
   * without running the handler again.
   * @defaultValue 10
   */
  readonly maxDeliveries?: number;
  /** How long `close()` waits for handlers in flight by default. @defaultValue 30_000 */
  readonly shutdownDeadlineMs?: number;
  /** @defaultValue `systemClock` */
  readonly clock?: Clock;
  /** Source of randomness for a backoff's jitter. @defaultValue `Math.random` */
  readonly random?: () => number;
  /** Aborting it closes the consumer (with the default deadline). */
  readonly signal?: AbortSignal;
}

/** Defaults of {@link ConsumeOptions}. */
export const consumerDefaults = {
  concurrency: 1,
  retry: [1_000, 5_000, 15_000] as readonly number[],
  ordering: 'none',
  maxDeliveries: 10,
  shutdownDeadlineMs: 30_000,
  leaseMs: 30_000,
  deadLetterGroup: 'bulwark-dead-letters',
} as const;

/**
 * 100 years: how `'forever'` is passed to an idempotency store as a ttl.
 *
 * @internal
 */
export const foreverMs = 100 * 365 * 24 * 60 * 60 * 1000;

const positiveInteger = (value: number | undefined) => value === undefined || (Number.isInteger(value) && value > 0);

/** Checks every option and reports every problem at once. */
export function validateConsumeOptions(options: ConsumeOptions<never>): void {
  const validator = new OptionsValidator('consume');
  if (typeof options.topic !== 'string' || options.topic === '') validator.report('topic must be a non-empty string');
  if (typeof options.group !== 'string' || options.group === '') validator.report('group must be a non-empty string');
  if (typeof options.handler !== 'function') validator.report('handler must be a function');
  if (!positiveInteger(options.concurrency))
    validator.report(`concurrency must be a positive integer, got ${options.concurrency}`);
  if (!positiveInteger(options.prefetch))
    validator.report(`prefetch must be a positive integer, got ${options.prefetch}`);
  if (!positiveInteger(options.maxDeliveries)) {
    validator.report(`maxDeliveries must be a positive integer, got ${options.maxDeliveries}`);
  }
  const retry = options.retry;
  if (Array.isArray(retry)) {
    if (!retry.every((delay) => typeof delay === 'number' && delay >= 0 && Number.isFinite(delay))) {
      validator.report('retry delays must be finite numbers >= 0');
    }
  } else if (retry !== undefined && retry !== false) {
    const policy = retry as { maxAttempts?: number; backoff?: Backoff };
    if (!positiveInteger(policy.maxAttempts))
      validator.report(`retry.maxAttempts must be a positive integer, got ${policy.maxAttempts}`);
    if (typeof policy.backoff?.delayMs !== 'function') validator.report('retry.backoff must have a delayMs function');
  }
  if (options.deadLetter !== undefined && (typeof options.deadLetter !== 'string' || options.deadLetter === '')) {
    validator.report('deadLetter must be a non-empty topic name');
  }
  const deadLetterGroup = options.deadLetterGroup;
  if (
    deadLetterGroup !== undefined &&
    deadLetterGroup !== false &&
    (typeof deadLetterGroup !== 'string' || deadLetterGroup === '')
  ) {
    validator.report('deadLetterGroup must be a non-empty group name or false');
  }
  if (options.deadLetter !== undefined && options.deadLetter === options.topic) {
    validator.report('deadLetter must differ from topic');
  }
  if (options.ordering !== undefined && options.ordering !== 'none' && options.ordering !== 'fifo-group') {
    validator.report(`ordering must be 'none' or 'fifo-group', got ${String(options.ordering)}`);
  }
  if (options.dedupe) {
    const { windowMs, leaseMs, store } = options.dedupe;
    if (!store || typeof store.begin !== 'function') validator.report('dedupe.store must be an IdempotencyStore');
    if (windowMs !== 'forever' && !(typeof windowMs === 'number' && windowMs > 0)) {
      validator.report(`dedupe.windowMs must be a duration > 0 or 'forever', got ${String(windowMs)}`);
    }
    if (leaseMs !== undefined && !(leaseMs > 0)) validator.report(`dedupe.leaseMs must be > 0, got ${leaseMs}`);
  }
  if (options.shutdownDeadlineMs !== undefined && !(options.shutdownDeadlineMs >= 0)) {
    validator.report(`shutdownDeadlineMs must be >= 0, got ${options.shutdownDeadlineMs}`);
  }
  validator.throwIfInvalid();
}
