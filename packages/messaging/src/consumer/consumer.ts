import type { EventSubscription } from '@bulwark/resilience';
import { delay, NamedEventEmitter, storableDiagnostic, systemClock } from '@bulwark/resilience';
import { deadLetterHeaders } from '../dead-letter/dead-letter-headers.js';
import type { Envelope, MessageHeaders } from '../envelope/envelope.js';
import { MessagingError } from '../errors/messaging-error.js';
import { emitWarningFor } from '../errors/warning-reporter.js';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';
import { traceConsumerEvents, traceInboxCheck, traceProcessing } from '../telemetry/message-spans.js';
import type { ConnectionHealth } from '../transport/connection-health.js';
import { asError, settledWithin } from '../transport/in-flight.js';
import type { Delivery, NackOptions, Subscription, Transport } from '../transport/transport.js';
import { MaxDeliveriesExceededError, NonRetryableError } from './consumer-errors.js';
import type { ConsumerEvents } from './consumer-events.js';
import { type ConsumeOptions, consumerDefaults, foreverMs, validateConsumeOptions } from './consumer-options.js';

/** Counters of a consumer, for dashboards. */
export interface ConsumerSnapshot {
  readonly topic: string;
  readonly group: string;
  /** Deliveries being handled (or waiting for their FIFO group) right now. */
  readonly inFlight: number;
  readonly handled: number;
  readonly retried: number;
  readonly deadLettered: number;
  /** Deliveries nacked after their retries ran out, without a dead-letter topic. */
  readonly failed: number;
  /** Deliveries the inbox recognised as already handled. */
  readonly duplicates: number;
  readonly closed: boolean;
  /** The transport's connection, `degraded` while it reconnects (always `up` on a transport without one). */
  readonly health: ConnectionHealth;
}

/** A running consumer: see {@link consume}. */
export interface Consumer {
  readonly topic: string;
  readonly group: string;
  /** Listens to an event; returns the function that stops listening. */
  on<Name extends keyof ConsumerEvents>(name: Name, listener: (data: ConsumerEvents[Name]) => void): EventSubscription;
  snapshot(): ConsumerSnapshot;
  /**
   * Graceful shutdown: stops taking messages at once, cancels pending retry waits (those messages
   * come back later), waits up to `deadlineMs` for running handlers, then aborts their `signal`;
   * deliveries unsettled by then are given back to the transport. Idempotent.
   */
  close(options?: { deadlineMs?: number }): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

type Outcome =
  | { readonly kind: 'handled'; readonly attempts: number; readonly durationMs: number }
  | { readonly kind: 'stopped' }
  | {
      readonly kind: 'failed';
      readonly error: unknown;
      readonly attempts: number;
      readonly firstFailureAt: number;
      readonly lastFailureAt: number;
    };

/** A counting semaphore: at most `permits` holders at once, served in arrival order. */
function semaphore(permits: number) {
  let available = permits;
  const waiting: (() => void)[] = [];
  return {
    async acquire(): Promise<void> {
      if (available > 0) {
        available -= 1;
        return;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release(): void {
      const next = waiting.shift();
      if (next) next();
      else available += 1;
    },
  };
}

/**
 * Consumes a topic as a member of a consumer group, on any {@link Transport}:
 *
 * - runs `handler` for each message, up to `concurrency` at once, acking on success;
 * - retries a failing handler in process with the given delays or backoff, then publishes the
 *   message to the `deadLetter` topic with the error, attempt count and first/last failure
 *   times in headers ({@link deadLetterHeaders}); a {@link NonRetryableError} dead-letters at once;
 * - with `ordering: 'fifo-group'`, handles each `groupId` strictly in order (retries included),
 *   different groups in parallel;
 * - with `dedupe`, records handled message ids in an inbox on an `IdempotencyStore` and skips
 *   a message that comes again within the window (redelivery after a crash, a duplicate publish);
 * - acks a dead-lettered message only once the dead-letter publish succeeded (else it is nacked and
 *   comes back), and declares `deadLetterGroup` on the dead-letter topic at start, so dead
 *   letters are kept even before anyone reads that topic;
 * - shuts down gracefully, draining handlers in flight within a deadline.
 *
 * @example
 * ```ts
 * const consumer = await consume(transport, {
 *   topic: 'orders', group: 'billing', concurrency: 8,
 *   retry: [1_000, 5_000, 15_000], deadLetter: 'orders.dead-letter',
 *   ordering: 'fifo-group', dedupe: { store: memoryIdempotencyStore(), windowMs: 5 * 60_000 },
 *   handler: async (message, { signal }) => bill(message.payload, { signal }),
 * });
 * process.on('SIGTERM', () => consumer.close({ deadlineMs: 10_000 }));
 * ```
 */
export async function consume<Payload = unknown>(
  transport: Transport,
  options: ConsumeOptions<Payload>,
): Promise<Consumer> {
  validateConsumeOptions(options as ConsumeOptions<never>);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const concurrency = options.concurrency ?? consumerDefaults.concurrency;
  const retry = options.retry ?? consumerDefaults.retry;
  const fifo = (options.ordering ?? consumerDefaults.ordering) === 'fifo-group';
  const maxDeliveries = options.maxDeliveries ?? consumerDefaults.maxDeliveries;
  const shutdownDeadlineMs = options.shutdownDeadlineMs ?? consumerDefaults.shutdownDeadlineMs;
  const dedupe = options.dedupe;
  const leaseMs = dedupe?.leaseMs ?? consumerDefaults.leaseMs;
  const windowMs = dedupe ? (dedupe.windowMs === 'forever' ? foreverMs : dedupe.windowMs) : 0;
  // Without a dead-letter topic a failed message is nacked; it comes back after the last retry delay.
  const failedRedeliveryDelayMs = Array.isArray(retry) ? (retry[retry.length - 1] ?? 1_000) : 1_000;

  const emitter = new NamedEventEmitter<ConsumerEvents>();
  traceConsumerEvents(emitter, options.topic, options.group);
  /** Aborted by close(): no new work, pending retry waits end. */
  const stopping = new AbortController();
  /** Aborted when the shutdown deadline passes: the handlers' signal. */
  const shutdown = new AbortController();
  const slots = semaphore(concurrency);
  const groupTails = new Map<string, Promise<void>>();
  const processing = new Set<Promise<void>>();
  const counters = { handled: 0, retried: 0, deadLettered: 0, failed: 0, duplicates: 0 };

  const warn = emitWarningFor(`consume(${options.topic}, ${options.group})`);
  const reportError = (error: unknown) => {
    if (emitter.has('consumer-error')) emitter.emit('consumer-error', { error });
    else warn(asError(error));
  };
  const ack = (delivery: Delivery) => delivery.ack().catch(reportError);
  const nack = (delivery: Delivery, nackOptions?: NackOptions) => delivery.nack(nackOptions).catch(reportError);

  /** The wait before retry number `attempt`, or undefined when attempts ran out. */
  const retryDelay = (attempt: number, previousDelayMs: number): number | undefined => {
    if (retry === false) return undefined;
    if (Array.isArray(retry)) return retry[attempt - 1];
    const policy = retry as Exclude<typeof retry, false | readonly number[]>;
    if (attempt >= policy.maxAttempts) return undefined;
    return Math.max(0, policy.backoff.delayMs({ attempt, previousDelayMs, random }));
  };

  const runWithRetries = async (delivery: Delivery): Promise<Outcome> => {
    const message = delivery.message as Envelope<Payload>;
    const startedAt = clock.now();
    let firstFailureAt: number | undefined;
    let previousDelayMs = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        await options.handler(message, {
          signal: shutdown.signal,
          attempt,
          deliveryCount: delivery.deliveryCount,
          delivery,
        });
        return { kind: 'handled', attempts: attempt, durationMs: clock.now() - startedAt };
      } catch (error) {
        const failedAt = clock.now();
        firstFailureAt ??= failedAt;
        if (shutdown.signal.aborted) return { kind: 'stopped' };
        const delayMs = error instanceof NonRetryableError ? undefined : retryDelay(attempt, previousDelayMs);
        if (delayMs === undefined) {
          return { kind: 'failed', error, attempts: attempt, firstFailureAt, lastFailureAt: failedAt };
        }
        counters.retried += 1;
        emitter.emit('retry-scheduled', () => ({ message, attempt, delayMs, error }));
        try {
          await delay(clock, delayMs, stopping.signal);
        } catch {
          return { kind: 'stopped' };
        }
        previousDelayMs = delayMs;
      }
    }
  };

  const giveUp = async (delivery: Delivery, failure: Extract<Outcome, { kind: 'failed' }>) => {
    const message = delivery.message;
    const error = asError(failure.error);
    if (options.deadLetter !== undefined) {
      const headers: MessageHeaders = {
        ...message.headers,
        // An error's text may hold what no transport carries (a NUL, a lone surrogate): the message
        // must still reach the dead-letter topic.
        [deadLetterHeaders.error]: storableDiagnostic(error.message),
        [deadLetterHeaders.errorName]: storableDiagnostic(error.name),
        [deadLetterHeaders.attempts]: String(failure.attempts),
        [deadLetterHeaders.deliveryCount]: String(delivery.deliveryCount),
        [deadLetterHeaders.firstFailureAt]: new Date(failure.firstFailureAt).toISOString(),
        [deadLetterHeaders.lastFailureAt]: new Date(failure.lastFailureAt).toISOString(),
        [deadLetterHeaders.originalTopic]: options.topic,
        [deadLetterHeaders.originalGroup]: options.group,
      };
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string') headers[deadLetterHeaders.errorCode] = storableDiagnostic(code);
      try {
        await transport.publish(options.deadLetter, [{ ...message, topic: options.deadLetter, headers }]);
        counters.deadLettered += 1;
        emitter.emit('message-dead-lettered', () => ({ message, attempts: failure.attempts, error: failure.error }));
        await ack(delivery);
        return;
      } catch (publishError) {
        reportError(publishError);
      }
    }
    counters.failed += 1;
    emitter.emit('message-failed', () => ({ message, attempts: failure.attempts, error: failure.error }));
    await nack(delivery, { delayMs: failedRedeliveryDelayMs });
  };

  /** Runs one delivery to its end; never rejects. */
  const handleDelivery = traceProcessing(transport, options.group, clock, async (delivery: Delivery): Promise<void> => {
    await slots.acquire();
    try {
      if (stopping.signal.aborted) {
        await nack(delivery);
        return;
      }
      let lease: { store: IdempotencyStore; key: string; token: string } | undefined;
      if (dedupe) {
        const key = `inbox:${options.group}:${delivery.message.id}`;
        let begun: Awaited<ReturnType<IdempotencyStore['begin']>>;
        try {
          begun = await traceInboxCheck(options.group, () => dedupe.store.begin(key, '', leaseMs));
        } catch (error) {
          reportError(error);
          await nack(delivery, { delayMs: 1_000 });
          return;
        }
        if (begun.kind === 'existing') {
          if (begun.record.status === 'completed') {
            counters.duplicates += 1;
            emitter.emit('duplicate-skipped', () => ({ message: delivery.message }));
            await ack(delivery);
          } else {
            // Another copy is being handled right now (or its holder crashed): come back after its lease.
            const wait = Math.min(Math.max(begun.record.leaseExpiresAt - clock.now(), 100), leaseMs);
            await nack(delivery, { delayMs: wait });
          }
          return;
        }
        lease = { store: dedupe.store, key, token: begun.leaseToken };
      }
      // Checked after the inbox, so a message already handled is acked as a duplicate, not dead-lettered.
      if (delivery.deliveryCount > maxDeliveries) {
        if (lease) await lease.store.release(lease.key, lease.token).catch(reportError);
        const now = clock.now();
        await giveUp(delivery, {
          kind: 'failed',
          error: new MaxDeliveriesExceededError(delivery.deliveryCount),
          attempts: 0,
          firstFailureAt: now,
          lastFailureAt: now,
        });
        return;
      }
      // Renew the inbox lease while the handler (and its retries) run, so no copy takes it over.
      let renewal: unknown;
      let renewing = true;
      const renew = lease?.store.renew;
      if (lease && renew) {
        const held = lease;
        const schedule = () => {
          renewal = clock.setTimeout(() => {
            renew.call(held.store, held.key, held.token, leaseMs).then((stillHeld) => {
              if (stillHeld && renewing) schedule();
            }, reportError);
          }, leaseMs / 3);
        };
        schedule();
      }
      let outcome: Outcome;
      try {
        outcome = await runWithRetries(delivery);
      } finally {
        renewing = false;
        if (renewal !== undefined) clock.clearTimeout(renewal);
      }
      if (outcome.kind === 'handled') {
        if (lease) {
          await lease.store.complete(lease.key, lease.token, '', windowMs).catch(reportError);
        }
        counters.handled += 1;
        emitter.emit('message-handled', () => ({
          message: delivery.message,
          attempts: outcome.attempts,
          durationMs: outcome.durationMs,
        }));
        await ack(delivery);
        return;
      }
      if (lease) await lease.store.release(lease.key, lease.token).catch(reportError);
      if (outcome.kind === 'stopped') await nack(delivery);
      else await giveUp(delivery, outcome);
    } catch (error) {
      reportError(error);
      await nack(delivery);
    } finally {
      slots.release();
    }
  });

  const onDelivery = (delivery: Delivery): Promise<void> => {
    const groupId = fifo ? delivery.message.groupId : undefined;
    let done: Promise<void>;
    if (groupId === undefined) {
      done = handleDelivery(delivery);
    } else {
      // Chain behind the group's previous message: strictly one at a time, in delivery order.
      const previous = groupTails.get(groupId) ?? Promise.resolve();
      done = previous.then(() => handleDelivery(delivery));
      groupTails.set(groupId, done);
      void done.then(() => {
        if (groupTails.get(groupId) === done) groupTails.delete(groupId);
      });
    }
    processing.add(done);
    void done.then(() => processing.delete(done));
    return done;
  };

  // Dead letters must have somewhere to go before the first failure: declare their group first.
  const deadLetterGroup = options.deadLetterGroup ?? consumerDefaults.deadLetterGroup;
  if (options.deadLetter !== undefined && deadLetterGroup !== false && transport.declareGroup) {
    await transport.declareGroup(options.deadLetter, deadLetterGroup, options.signal ? { signal: options.signal } : {});
  }

  const subscription: Subscription = await transport.subscribe(options.topic, options.group, onDelivery, {
    prefetch: options.prefetch ?? concurrency,
  });

  let closing: Promise<void> | undefined;
  const consumer: Consumer = {
    topic: options.topic,
    group: options.group,
    on: (name, listener) => emitter.on(name, listener),
    snapshot: () => ({
      topic: options.topic,
      group: options.group,
      inFlight: processing.size,
      ...counters,
      closed: closing !== undefined,
      health: transport.health?.() ?? { status: 'up' },
    }),
    close(closeOptions = {}) {
      closing ??= (async () => {
        const deadlineMs = closeOptions.deadlineMs ?? shutdownDeadlineMs;
        stopping.abort();
        const [drained] = await Promise.all([
          settledWithin(clock, [...processing], deadlineMs),
          subscription.close({ deadlineMs }),
        ]);
        if (!drained)
          shutdown.abort(
            new MessagingError(
              'CONSUMER_SHUTDOWN_DEADLINE',
              `consumer ${options.group} shut down after ${deadlineMs} ms`,
            ),
          );
      })();
      return closing;
    },
    [Symbol.asyncDispose]: () => consumer.close(),
  };
  options.signal?.addEventListener('abort', () => void consumer.close(), { once: true });
  return consumer;
}
