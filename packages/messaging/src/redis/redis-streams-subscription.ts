import { delay, exponential } from '@bulwark/resilience';
import type { Redis } from 'ioredis';
import type { Envelope } from '../envelope/envelope.js';
import { MessagingError } from '../errors/messaging-error.js';
import { settledWithin } from '../transport/in-flight.js';
import type { CloseSubscriptionOptions, Delivery, DeliveryHandler, Subscription } from '../transport/transport.js';
import { redisCall } from './redis-call.js';
import { streamAckBatcher } from './redis-streams-ack-batcher.js';
import { redisStreamsDefaults, type TransportSettings } from './redis-streams-options.js';
import {
  ackScript,
  asError,
  claimScript,
  envelopeField,
  isNoGroupError,
  nackScript,
  pruneConsumersScript,
  runScript,
} from './redis-streams-scripts.js';

/** What one subscription needs from its transport. */
export interface SubscriptionContext {
  redis: Redis;
  topic: string;
  group: string;
  handler: DeliveryHandler;
  prefetch: number;
  stream: string;
  delayed: string;
  scheduled: string;
  consumer: string;
  settings: TransportSettings;
  ensureGroup: () => Promise<void>;
  onClosed: (subscription: RedisSubscription) => void;
}

/** A running subscription, as its transport sees it. */
export interface RedisSubscription extends Subscription {
  /** Looks for due deliveries after `delayMs` (a delayed publish or nack will be due then). */
  claimIn(delayMs: number): void;
}

type StreamFields = Buffer[];
type ReadReply = [Buffer, [Buffer, StreamFields][]][] | null;
type ClaimReply = [Buffer, ...[Buffer, StreamFields, number][]];

interface InFlightDelivery {
  readonly id: string;
  readonly task: Promise<void>;
  /** Set once acked, nacked or taken back at close: later settles do nothing. */
  settled: boolean;
}

/**
 * Runs one subscription on its own blocking connection: a read loop (`XREADGROUP`, claiming due
 * and abandoned entries every `claimIntervalMs`, backing off through `exponential()` after
 * failures, re-creating a group Redis lost), the handlers of up to `prefetch` deliveries, batched
 * acks, and on close the return of what it still holds.
 */
export function startSubscription(context: SubscriptionContext): RedisSubscription {
  const { redis, topic, group, consumer, stream, delayed, handler, prefetch, settings } = context;
  const { clock, onError } = settings;
  // The blocking read gets a connection of its own (closed with the subscription). It waits for
  // the server as long as it takes rather than failing reads while Redis restarts.
  // socketTimeout: a read that got no byte back within its block time plus the operation timeout
  // is on a dead connection (a silent network): ioredis drops it and connects again.
  const blocking = redis.duplicate({
    maxRetriesPerRequest: null,
    enableAutoPipelining: false,
    socketTimeout: settings.blockMs + settings.operationTimeoutMs,
  });
  blocking.on('error', () => {}); // ioredis reconnects by itself; failed reads are reported by the loop.
  let blockingClientId: number | undefined;
  let blockedInRead = false;
  const refreshClientId = () => {
    blocking.client('ID').then(
      (id) => {
        blockingClientId = Number(id);
      },
      () => {
        blockingClientId = undefined;
      },
    );
  };
  blocking.on('ready', refreshClientId);
  // Ids are per server run: a stale one could name another client's connection after a restart.
  blocking.on('close', () => {
    blockingClientId = undefined;
  });

  const stopping = new AbortController();
  // Keyed by delivery, not entry id: an entry taken back after the visibility timeout may come
  // back to this same subscription while its first handler still runs.
  const inFlight = new Set<InFlightDelivery>();
  const timers = new Set<unknown>();
  let claimRequested = true;
  let claimCursor = '0-0';
  let slotWaiter: (() => void) | undefined;
  let closing: Promise<void> | undefined;

  const report = (code: string, message: string, cause: unknown) => {
    try {
      onError(asError(code, message, cause));
    } catch {
      // A throwing error listener must not stop the subscription.
    }
  };

  // Interrupts a blocking XREADGROUP (as if it timed out) so the loop acts on news at once.
  const wakeReader = () => {
    if (!blockedInRead || blockingClientId === undefined) return;
    redis.client('UNBLOCK', blockingClientId).catch(() => {
      // Without the CLIENT permission the read simply ends at its block timeout.
    });
  };
  const requestClaim = () => {
    claimRequested = true;
    wakeReader();
  };
  const schedule = (callback: () => void, delayMs: number) => {
    const timer = clock.setTimeout(() => {
      timers.delete(timer);
      callback();
    }, delayMs);
    timers.add(timer);
  };
  const claimIn = (delayMs: number) => {
    if (stopping.signal.aborted) return;
    if (delayMs <= 0) requestClaim();
    // A few ms late so the server clock (which decides what is due) has passed the due time.
    else schedule(requestClaim, delayMs + 5);
  };

  // Acks issued while one ack is on the wire are sent together in the next one.
  const ack = streamAckBatcher(async (ids) => {
    try {
      await runScript(redis, ackScript, [stream], [group, consumer, ...ids], settings);
    } catch (error) {
      throw asError('ACK_FAILED', `Ack on ${stream} for group ${group} failed`, error);
    }
  });

  const nack = async (id: string, delayMs: number) => {
    try {
      await runScript(redis, nackScript, [stream, delayed], [group, consumer, delayMs, id], settings);
    } catch (error) {
      throw asError('NACK_FAILED', `Nack of ${id} on ${stream} for group ${group} failed`, error);
    }
    claimIn(delayMs);
  };

  const giveBack = (id: string) =>
    runScript(redis, nackScript, [stream, delayed], [group, consumer, 0, id], settings).then(
      () => {},
      (error: unknown) => report('NACK_FAILED', `Giving back ${id} of ${stream} failed`, error),
    );

  const dispatch = (id: string, fields: StreamFields, deliveryCount: number) => {
    // A delivery of the same entry still running here was taken back: its settles no longer count.
    for (const earlier of inFlight) if (earlier.id === id) earlier.settled = true;
    const state: { id: string; settled: boolean } = { id, settled: false };
    const entry: InFlightDelivery = Object.assign(state, {
      task: handle(id, fields, deliveryCount, state).finally(() => {
        inFlight.delete(entry);
        const waiter = slotWaiter;
        slotWaiter = undefined;
        waiter?.();
      }),
    });
    inFlight.add(entry);
  };

  const handle = async (id: string, fields: StreamFields, deliveryCount: number, state: { settled: boolean }) => {
    await Promise.resolve(); // Registered in inFlight before the handler runs.
    let message: Envelope;
    try {
      const index = fields.findIndex((field, position) => position % 2 === 0 && field.toString() === envelopeField);
      const bytes = index >= 0 ? fields[index + 1] : undefined;
      if (!bytes) throw new MessagingError('UNREADABLE_MESSAGE', `The entry has no "${envelopeField}" field`);
      message = settings.serializer.deserialize(bytes);
    } catch (error) {
      // Redelivering an unreadable entry would fail forever; it stays in the stream for inspection.
      report('UNREADABLE_MESSAGE', `Entry ${id} of ${stream} cannot be deserialized; acked without handling`, error);
      await ack(id).catch(() => {});
      return;
    }
    const delivery: Delivery = {
      message,
      deliveryCount,
      ack: async () => {
        if (state.settled) return;
        state.settled = true;
        await ack(id);
      },
      nack: async (nackOptions) => {
        if (state.settled) return;
        state.settled = true;
        await nack(id, Math.max(0, Math.ceil(nackOptions?.delayMs ?? 0)));
      },
    };
    try {
      await handler(delivery);
    } catch {
      await delivery.nack().catch((nackError: unknown) => {
        // Still pending: it is taken over after the visibility timeout.
        report('NACK_FAILED', `Nack of ${id} on ${stream} failed`, nackError);
      });
      return;
    }
    await delivery.ack().catch((ackError: unknown) => {
      report('ACK_FAILED', `Ack of ${id} on ${stream} failed; it will be redelivered`, ackError);
    });
  };

  const claim = async () => {
    const budget = prefetch - inFlight.size;
    if (budget <= 0) return;
    const reply = (await runScript(
      redis,
      claimScript,
      [stream, delayed, context.scheduled],
      [group, consumer, settings.visibilityTimeoutMs, budget, claimCursor, settings.maxLength],
      settings,
    )) as ClaimReply;
    claimCursor = reply[0].toString();
    for (let index = 1; index < reply.length; index++) {
      const [id, fields, count] = reply[index] as [Buffer, StreamFields, number];
      dispatch(id.toString(), fields, Number(count));
    }
    // A scan that did not finish continues at once: there may be more abandoned entries.
    if (claimCursor !== '0-0') claimRequested = true;
    if (clock.now() >= nextPruneAt) {
      nextPruneAt = clock.now() + pruneIntervalMs;
      await runScript(redis, pruneConsumersScript, [stream], [group, pruneIdleMs], settings);
    }
  };
  // Consumers of crashed processes, looked for by each subscription every minute at most.
  const pruneIdleMs = settings.consumerPruneIdleMs;
  const pruneIntervalMs = Math.min(60_000, pruneIdleMs);
  let nextPruneAt = clock.now() + pruneIntervalMs;

  const waitForSlot = () =>
    inFlight.size < prefetch || stopping.signal.aborted
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          slotWaiter = resolve;
        });

  // 100 ms doubling to 2 s: quick after a blip, gentle during a long outage.
  const retryBackoff = exponential({ initialMs: 100, maxMs: 2_000 });
  const readLoop = async () => {
    let nextClaimAt = 0;
    let failures = 0;
    while (!stopping.signal.aborted) {
      await waitForSlot();
      if (stopping.signal.aborted) break;
      try {
        if (claimRequested || clock.now() >= nextClaimAt) {
          claimRequested = false;
          nextClaimAt = clock.now() + settings.claimIntervalMs;
          await claim();
          failures = 0;
          settings.health.succeeded();
          continue;
        }
        const free = prefetch - inFlight.size;
        const blockMs = Math.max(1, Math.min(settings.blockMs, nextClaimAt - clock.now()));
        blockedInRead = true;
        let reply: ReadReply;
        try {
          reply = (await blocking.callBuffer(
            'XREADGROUP',
            'GROUP',
            group,
            consumer,
            'COUNT',
            free,
            'BLOCK',
            blockMs,
            'STREAMS',
            stream,
            '>',
          )) as ReadReply;
        } finally {
          blockedInRead = false;
        }
        failures = 0;
        settings.health.succeeded();
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            // Read as the subscription closed: give it straight back to the rest of the group.
            if (stopping.signal.aborted) await giveBack(id.toString());
            else dispatch(id.toString(), fields, 1);
          }
        }
      } catch (error) {
        if (stopping.signal.aborted) break;
        if (isNoGroupError(error)) {
          // Redis came back without its data (no persistence): the group has to be made again.
          await context.ensureGroup().catch((groupError: unknown) => {
            report('SUBSCRIPTION_FAILED', `Re-creating group ${group} on ${stream} failed`, groupError);
          });
        } else {
          settings.health.failed(error);
          report('SUBSCRIPTION_FAILED', `Reading ${stream} for group ${group} failed; retrying`, error);
        }
        failures += 1;
        const waitMs = retryBackoff.delayMs({ attempt: failures, previousDelayMs: 0, random: () => 0 });
        await delay(clock, waitMs, stopping.signal).catch(() => {});
      }
    }
  };

  refreshClientId();
  const reading = readLoop();

  const subscription: RedisSubscription = {
    topic,
    group,
    claimIn,
    close(closeOptions?: CloseSubscriptionOptions) {
      closing ??= (async () => {
        stopping.abort();
        wakeReader();
        slotWaiter?.();
        const drained = (async () => {
          await reading;
          // Looked at after the loop ended: its last read may have dispatched more deliveries.
          await Promise.all([...inFlight].map((entry) => entry.task));
        })();
        const settledInTime = await settledWithin(
          clock,
          [drained],
          closeOptions?.deadlineMs ?? redisStreamsDefaults.closeDeadlineMs,
        );
        for (const timer of timers) clock.clearTimeout(timer);
        timers.clear();
        // Handlers still running lose their deliveries: due now for the rest of the group, and
        // their late acks no longer count.
        const unsettled = [...inFlight].filter((entry) => !entry.settled);
        for (const entry of unsettled) entry.settled = true;
        await Promise.all(unsettled.map(({ id }) => giveBack(id)));
        blocking.disconnect();
        await reading;
        if (settledInTime) {
          // Leave no empty consumer behind in the group.
          // Bounded: close() must end even when Redis does not answer.
          const bounded = <T>(what: string, call: Promise<T>) =>
            redisCall(clock, settings.operationTimeoutMs, what, call);
          const pending = (await bounded(
            `XPENDING ${stream}`,
            redis.xpending(stream, group, '-', '+', 1, consumer),
          ).catch(() => [1])) as unknown[];
          if (pending.length === 0)
            await bounded(`XGROUP DELCONSUMER ${stream}`, redis.xgroup('DELCONSUMER', stream, group, consumer)).catch(
              () => {},
            );
        }
        context.onClosed(subscription);
      })();
      return closing;
    },
    [Symbol.asyncDispose]: () => subscription.close(),
  };
  return subscription;
}
