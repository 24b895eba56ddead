import { type Clock, InvalidOptionsError, OptionsValidator, systemClock, type TimerHandle } from '@bulwark/resilience';
import type { Envelope } from '../envelope/envelope.js';
import { jsonSerializer, type Serializer, serializeToPublish } from '../envelope/serializer.js';
import { assertKeys, assertPublishable } from '../envelope/storable-values.js';
import { tracePublish } from '../telemetry/message-spans.js';
import { settledWithin } from './in-flight.js';
import {
  type CloseSubscriptionOptions,
  type Delivery,
  type DeliveryHandler,
  type NackOptions,
  orderingKeyOf,
  type PublishOptions,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportCapabilities,
} from './transport.js';
import { TransportClosedError } from './transport-errors.js';

/** Options of {@link memoryTransport}. */
export interface MemoryTransportOptions {
  /** @defaultValue `systemClock` */
  clock?: Clock;
  /**
   * A delivery left unsettled this long is taken back and redelivered (to any member of the
   * group), as SQS does; the late ack of the first holder then does nothing.
   * `Infinity` disables it.
   * @defaultValue 30_000
   */
  visibilityTimeoutMs?: number;
  /**
   * Messages are stored serialized, as a real broker would, so a handler never shares an object
   * with the publisher and an unserializable payload fails at `publish`.
   * @defaultValue `jsonSerializer`
   */
  serializer?: Serializer;
  /**
   * `per-key` keeps one message of each ordering key out at a time, in publish order; `none`
   * hands messages out as fast as subscribers take them, like a broker without ordering would
   * (useful to test that a consumer does not depend on the transport's order).
   * @defaultValue `'per-key'`
   */
  ordering?: 'per-key' | 'none';
}

/** Depth of one consumer group, from {@link MemoryTransport.snapshot}. */
export interface MemoryGroupSnapshot {
  readonly topic: string;
  readonly group: string;
  /** Ready to be delivered now. */
  readonly ready: number;
  /** Delivered and not yet settled. */
  readonly inFlight: number;
  /** Waiting for a delay to pass, or behind an earlier message with the same ordering key. */
  readonly waiting: number;
  readonly subscribers: number;
}

/** The in-memory {@link Transport}, with a few extras for tests and dashboards. */
export interface MemoryTransport extends Transport {
  /** Per-group depths, for dashboards and assertions. */
  snapshot(): MemoryGroupSnapshot[];
  /** Creates a consumer group before anyone subscribes, so it receives what is published meanwhile. */
  declareGroup(topic: string, group: string): void;
}

const defaults = {
  visibilityTimeoutMs: 30_000,
  prefetch: 10,
  closeDeadlineMs: 30_000,
} as const;

const capabilitiesOf = (ordering: 'per-key' | 'none'): TransportCapabilities =>
  Object.freeze({
    persistent: false,
    consumerGroups: true,
    ordering,
    delayedDelivery: true,
    visibilityTimeout: true,
    deliveryCount: true,
    unroutable: 'held',
  });

type EntryState = 'waiting' | 'blocked' | 'ready' | 'in-flight' | 'done';

interface Entry {
  readonly sequence: number;
  readonly bytes: Buffer;
  readonly key: string | undefined;
  readonly group: GroupState;
  state: EntryState;
  /** Earliest time at which the entry may be delivered. */
  notBefore: number;
  deliveries: number;
  /** Bumped at every delivery and take-back, so a stale delivery's settle does nothing. */
  token: number;
  timer: TimerHandle | undefined;
  holder: MemorySubscription | undefined;
}

interface GroupState {
  readonly topic: string;
  readonly name: string;
  /** Entries ready now, ordered by sequence (oldest first, so redeliveries go out first). */
  readonly ready: Entry[];
  /** Every unsettled keyed entry, per ordering key, in publish order: only the head may be out. */
  readonly keyQueues: Map<string, Entry[]>;
  readonly subscribers: MemorySubscription[];
  nextSubscriber: number;
  inFlight: number;
}

interface MemorySubscription extends Subscription {
  readonly capacity: number;
  running: number;
  readonly held: Set<Entry>;
  accepting: boolean;
  run(entry: Entry, delivery: Delivery): void;
}

/**
 * An in-memory {@link Transport} for development and tests, with the semantics of a real broker:
 * consumer groups (competing members, fan-out between groups), redelivery of whatever is nacked,
 * left unsettled past the visibility timeout, or held by a subscription that closes, delivery
 * counts, delayed delivery, and per-key ordering (one message of a key out at a time, in publish
 * order, redeliveries included). Messages published to a topic before it has a group are held and
 * handed to its first group (`capabilities.unroutable: 'held'`). Messages live as long as the
 * transport object: nothing persists.
 *
 * @example
 * ```ts
 * const transport = memoryTransport();
 * await transport.subscribe('orders', 'billing', async ({ message }) => bill(message.payload));
 * await transport.publish('orders', [createEnvelope({ topic: 'orders', type: 'order.placed', payload })]);
 * ```
 */
export function memoryTransport(options: MemoryTransportOptions = {}): MemoryTransport {
  const clock = options.clock ?? systemClock;
  const serializer = options.serializer ?? jsonSerializer;
  const visibilityTimeoutMs = options.visibilityTimeoutMs ?? defaults.visibilityTimeoutMs;
  const ordering = options.ordering ?? 'per-key';
  const validator = new OptionsValidator('memoryTransport');
  if (ordering !== 'per-key' && ordering !== 'none')
    validator.report(`ordering must be 'per-key' or 'none', got ${ordering}`);
  if (!(visibilityTimeoutMs > 0)) validator.report(`visibilityTimeoutMs must be > 0, got ${visibilityTimeoutMs}`);
  validator.throwIfInvalid();

  const topics = new Map<string, Map<string, GroupState>>();
  /** Messages published to a topic before it had any group: handed to its first group. */
  const held = new Map<string, { bytes: Buffer; key: string | undefined; notBefore: number }[]>();
  const subscriptions = new Set<MemorySubscription>();
  /** Entries waiting on a timer for their delay to pass. */
  const delayed = new Set<Entry>();
  let sequence = 0;
  let closed = false;
  let dispatchScheduled = false;
  const dirtyGroups = new Set<GroupState>();

  const groupOf = (topic: string, group: string): GroupState => {
    let groups = topics.get(topic);
    if (!groups) {
      groups = new Map();
      topics.set(topic, groups);
    }
    let state = groups.get(group);
    if (!state) {
      state = {
        topic,
        name: group,
        ready: [],
        keyQueues: new Map(),
        subscribers: [],
        nextSubscriber: 0,
        inFlight: 0,
      };
      groups.set(group, state);
      const waiting = held.get(topic);
      if (waiting) {
        held.delete(topic);
        for (const { bytes, key, notBefore } of waiting) enqueue(state, bytes, key, notBefore);
      }
    }
    return state;
  };

  // Dispatch runs on setImmediate, not inside publish/ack: no re-entrancy, and a handler that
  // fails forever cannot starve the event loop with an endless chain of microtasks.
  const scheduleDispatch = (group: GroupState) => {
    dirtyGroups.add(group);
    if (dispatchScheduled) return;
    dispatchScheduled = true;
    setImmediate(dispatch);
  };

  const dispatch = () => {
    dispatchScheduled = false;
    const groups = [...dirtyGroups];
    dirtyGroups.clear();
    for (const group of groups) dispatchGroup(group);
  };

  const pickSubscriber = (group: GroupState): MemorySubscription | undefined => {
    const count = group.subscribers.length;
    for (let step = 0; step < count; step++) {
      const index = (group.nextSubscriber + step) % count;
      const subscriber = group.subscribers[index] as MemorySubscription;
      if (subscriber.accepting && subscriber.running < subscriber.capacity) {
        group.nextSubscriber = (index + 1) % count;
        return subscriber;
      }
    }
    return undefined;
  };

  const dispatchGroup = (group: GroupState) => {
    while (group.ready.length > 0) {
      const subscriber = pickSubscriber(group);
      if (!subscriber) return;
      const entry = group.ready.shift() as Entry;
      deliver(entry, subscriber);
    }
  };

  const insertReady = (entry: Entry) => {
    const ready = entry.group.ready;
    // Binary search: new messages append (fast path), redeliveries slot in by age.
    let low = 0;
    let high = ready.length;
    if (high === 0 || (ready[high - 1] as Entry).sequence < entry.sequence) low = high;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((ready[middle] as Entry).sequence < entry.sequence) low = middle + 1;
      else high = middle;
    }
    ready.splice(low, 0, entry);
  };

  const makeReady = (entry: Entry) => {
    delayed.delete(entry);
    entry.timer = undefined;
    entry.state = 'ready';
    insertReady(entry);
    scheduleDispatch(entry.group);
  };

  /** Puts an entry that may go out (head of its key, or unkeyed) on the ready list, or on a timer. */
  const release = (entry: Entry) => {
    const wait = entry.notBefore - clock.now();
    if (wait > 0) {
      entry.state = 'waiting';
      delayed.add(entry);
      entry.timer = clock.setTimeout(() => makeReady(entry), wait);
    } else {
      makeReady(entry);
    }
  };

  const deliver = (entry: Entry, subscriber: MemorySubscription) => {
    entry.state = 'in-flight';
    entry.deliveries += 1;
    entry.token += 1;
    entry.holder = subscriber;
    entry.group.inFlight += 1;
    subscriber.held.add(entry);
    const token = entry.token;
    if (Number.isFinite(visibilityTimeoutMs)) {
      entry.timer = clock.setTimeout(() => takeBack(entry, token), visibilityTimeoutMs);
    }
    let message: Envelope;
    try {
      message = serializer.deserialize(entry.bytes);
    } catch {
      // Cannot happen with bytes this transport serialized itself; treat as handled.
      settle(entry, token, 'ack');
      return;
    }
    const delivery: Delivery = {
      message,
      deliveryCount: entry.deliveries,
      ack: async () => {
        settle(entry, token, 'ack');
      },
      nack: async (nackOptions?: NackOptions) => {
        settle(entry, token, 'nack', nackOptions?.delayMs ?? 0);
      },
    };
    subscriber.run(entry, delivery);
  };

  const leaveFlight = (entry: Entry) => {
    if (entry.timer !== undefined) clock.clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.group.inFlight -= 1;
    entry.holder?.held.delete(entry);
    entry.holder = undefined;
  };

  /** Returns whether this call settled the delivery (false: stale or already settled). */
  const settle = (entry: Entry, token: number, outcome: 'ack' | 'nack', delayMs = 0): boolean => {
    if (entry.token !== token || entry.state !== 'in-flight') return false;
    leaveFlight(entry);
    if (outcome === 'nack') {
      entry.notBefore = clock.now() + Math.max(0, delayMs);
      release(entry);
      return true;
    }
    entry.state = 'done';
    if (entry.key !== undefined) {
      const queue = entry.group.keyQueues.get(entry.key) as Entry[];
      queue.shift();
      const next = queue[0];
      if (next) {
        release(next);
      } else {
        entry.group.keyQueues.delete(entry.key);
      }
    }
    scheduleDispatch(entry.group);
    return true;
  };

  /** Visibility timeout ran out, or the holder's subscription closed: redeliver. */
  const takeBack = (entry: Entry, token: number) => {
    if (entry.token !== token || entry.state !== 'in-flight') return;
    entry.timer = undefined;
    leaveFlight(entry);
    entry.token += 1;
    entry.notBefore = clock.now();
    release(entry);
  };

  const enqueue = (group: GroupState, bytes: Buffer, key: string | undefined, notBefore: number) => {
    sequence += 1;
    const entry: Entry = {
      sequence,
      bytes,
      key,
      group,
      state: 'blocked',
      notBefore,
      deliveries: 0,
      token: 0,
      timer: undefined,
      holder: undefined,
    };
    if (key !== undefined) {
      const queue = group.keyQueues.get(key);
      if (queue) {
        queue.push(entry);
        return;
      }
      group.keyQueues.set(key, [entry]);
    }
    release(entry);
  };

  const assertOpen = () => {
    if (closed) throw new TransportClosedError('memory');
  };

  const transport: MemoryTransport = {
    name: 'memory',
    capabilities: capabilitiesOf(ordering),

    async publish(topic: string, messages: readonly Envelope[], publishOptions: PublishOptions = {}) {
      publishOptions.signal?.throwIfAborted();
      assertOpen();
      assertPublishable(topic, messages);
      // Serialize everything first so a bad message rejects the whole call and stores nothing.
      const serialized = messages.map((message) => ({
        bytes: serializeToPublish(serializer, message),
        key: ordering === 'per-key' ? orderingKeyOf(message) : undefined,
      }));
      const notBefore = clock.now() + Math.max(0, publishOptions.delayMs ?? 0);
      const groups = topics.get(topic);
      if (!groups) {
        // No group yet: hold the messages for the first one (capabilities.unroutable: 'held').
        let waiting = held.get(topic);
        if (!waiting) {
          waiting = [];
          held.set(topic, waiting);
        }
        for (const { bytes, key } of serialized) waiting.push({ bytes, key, notBefore });
        return;
      }
      for (const group of groups.values()) {
        for (const { bytes, key } of serialized) enqueue(group, bytes, key, notBefore);
      }
    },

    async subscribe(topic: string, group: string, handler: DeliveryHandler, subscribeOptions: SubscribeOptions = {}) {
      subscribeOptions.signal?.throwIfAborted();
      assertOpen();
      assertKeys({ topic, group });
      const prefetch = subscribeOptions.prefetch ?? defaults.prefetch;
      if (!(Number.isInteger(prefetch) && prefetch > 0)) {
        throw new InvalidOptionsError('subscribe', [`prefetch must be a positive integer, got ${prefetch}`]);
      }
      const state = groupOf(topic, group);
      const handlers = new Set<Promise<void>>();
      let closing: Promise<void> | undefined;

      const subscription: MemorySubscription = {
        topic,
        group,
        capacity: prefetch,
        running: 0,
        held: new Set(),
        accepting: true,
        run(entry, delivery) {
          subscription.running += 1;
          const token = entry.token;
          const running = (async () => {
            try {
              await handler(delivery);
              settle(entry, token, 'ack');
            } catch {
              settle(entry, token, 'nack');
            }
          })().finally(() => {
            subscription.running -= 1;
            handlers.delete(running);
            scheduleDispatch(state);
          });
          handlers.add(running);
        },
        close(closeOptions: CloseSubscriptionOptions = {}) {
          closing ??= (async () => {
            subscription.accepting = false;
            const index = state.subscribers.indexOf(subscription);
            if (index >= 0) state.subscribers.splice(index, 1);
            await settledWithin(clock, [...handlers], closeOptions.deadlineMs ?? defaults.closeDeadlineMs);
            for (const entry of [...subscription.held]) takeBack(entry, entry.token);
            subscriptions.delete(subscription);
            scheduleDispatch(state);
          })();
          return closing;
        },
        [Symbol.asyncDispose]: () => subscription.close(),
      };
      subscribeOptions.signal?.addEventListener('abort', () => void subscription.close({ deadlineMs: 0 }), {
        once: true,
      });
      state.subscribers.push(subscription);
      subscriptions.add(subscription);
      scheduleDispatch(state);
      return subscription;
    },

    declareGroup(topic, group) {
      assertOpen();
      groupOf(topic, group);
    },

    snapshot() {
      const result: MemoryGroupSnapshot[] = [];
      for (const [topic, groups] of topics) {
        for (const group of groups.values()) {
          let waiting = 0;
          for (const entry of delayed) if (entry.group === group) waiting += 1;
          for (const queue of group.keyQueues.values()) {
            for (const entry of queue) if (entry.state === 'blocked') waiting += 1;
          }
          result.push({
            topic,
            group: group.name,
            ready: group.ready.length,
            inFlight: group.inFlight,
            waiting,
            subscribers: group.subscribers.length,
          });
        }
      }
      return result;
    },

    async close(closeOptions?: CloseSubscriptionOptions) {
      closed = true;
      await Promise.all([...subscriptions].map((subscription) => subscription.close(closeOptions)));
      // Nothing persists past close: drop pending timers so none fires into a dead transport.
      for (const entry of delayed) if (entry.timer !== undefined) clock.clearTimeout(entry.timer);
      delayed.clear();
      topics.clear();
      held.clear();
    },

    [Symbol.asyncDispose]: () => transport.close(),
  };

  return tracePublish(transport, clock);
}
