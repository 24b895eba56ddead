import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { EventSubscription } from '@bulwark/resilience';
import { type Clock, delay, NamedEventEmitter, storableDiagnostic, systemClock } from '@bulwark/resilience';
import { CLAIM_CHECK_HEADER, CLAIM_CHECK_HEADER_VALUE, type Claim } from '../claim-check/claim-check.js';
import { ClaimCheckIntegrityError } from '../claim-check/claim-check-errors.js';
import type { Envelope } from '../envelope/envelope.js';
import { createEnvelope } from '../envelope/envelope.js';
import { InvalidMessagingValueError, MessagingError } from '../errors/messaging-error.js';
import type { Delivery, Subscription } from '../transport/transport.js';
import { AsyncReplyClosedError, AsyncReplyResultError, UnknownOperationKindError } from './async-reply-errors.js';
import type { AsyncReplyEvents } from './async-reply-events.js';
import { type AsyncReplyOptions, asyncReplyDefaults, validateAsyncReplyOptions } from './async-reply-options.js';
import type { AsyncReplyErrorInfo, AsyncReplyRecord, AsyncReplyStatus } from './async-reply-store.js';

/** What a handler receives besides its input. */
export interface AsyncReplyHandlerContext {
  /** The operation id (stable across attempts: use it as an idempotency key downstream). */
  readonly id: string;
  readonly kind: string;
  /** 1 on the first run; more when a run whose worker died is started again. */
  readonly attempt: number;
  /** Aborted when the `asyncReply` (or the worker) closes before the handler finishes. */
  readonly signal: AbortSignal;
}

/** Does the work of one kind of operation; its result must be JSON-serializable. */
export type AsyncReplyHandler<Input = unknown, Result = unknown> = (
  input: Input,
  context: AsyncReplyHandlerContext,
) => Promise<Result> | Result;

/** What `accept` returns: answer the request with `202 Accepted` and `Location: statusUrl`. */
export interface AcceptedOperation {
  readonly id: string;
  readonly statusUrl: string;
  /** `false` when an operation with the given `id` already existed (nothing new was started). */
  readonly created: boolean;
}

interface OperationStateBase {
  readonly id: string;
  readonly kind: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** After this, `status` returns `undefined`. */
  readonly expiresAt: number;
  readonly attempts: number;
}

/** Where an operation stands, as `status(id)` reports it. */
export type AsyncReplyState<Result = unknown> =
  | (OperationStateBase & { readonly status: 'pending' })
  | (OperationStateBase & { readonly status: 'running'; readonly startedAt: number })
  | (OperationStateBase & { readonly status: 'succeeded'; readonly result: Result; readonly finishedAt: number })
  | (OperationStateBase & {
      readonly status: 'failed';
      readonly error: AsyncReplyErrorInfo;
      readonly finishedAt: number;
    });

/** Options of {@link AsyncReply.accept}. */
export interface AcceptOptions {
  /**
   * The operation id; by default a random UUID. Pass one derived from the request (e.g. its
   * `Idempotency-Key`) to make `accept` idempotent: a second accept with the id starts nothing.
   */
  id?: string;
  signal?: AbortSignal;
}

/** Options of {@link AsyncReply.worker}. */
export interface AsyncReplyWorkerOptions {
  /** @defaultValue `'bulwark.async-reply.workers'` */
  group?: string;
  /** Operations run at once by this worker. @defaultValue the transport's default */
  prefetch?: number;
}

/**
 * The async request-reply pattern: accept a long operation at once (202 + a status URL), run it
 * in the background or on workers, and report its state and result when asked.
 */
export interface AsyncReply {
  /** Registers the handler of `kind` (one per kind; registering again replaces it). */
  handle<Input = unknown, Result = unknown>(kind: string, handler: AsyncReplyHandler<Input, Result>): AsyncReply;
  /**
   * Records a `pending` operation and starts it: in this process right away, or by publishing
   * it for a worker (worker mode). Resolves once the operation is durably recorded (and
   * published). Start workers before accepting: a transport may drop messages published before
   * its consumer group exists. If publishing fails, the operation is recorded as failed
   * (`ASYNC_REPLY_NOT_PUBLISHED`) and the error is thrown.
   *
   * @throws UnknownOperationKindError in in-process mode when no handler handles `kind`
   */
  accept<Input = unknown>(kind: string, input: Input, options?: AcceptOptions): Promise<AcceptedOperation>;
  /**
   * The operation's state, with its result (checked out of the claim check if it was big) or
   * error; `undefined` when unknown or expired.
   *
   * @throws ClaimCheckIntegrityError when a claimed result's blob is gone or altered
   */
  status<Result = unknown>(
    id: string,
    options?: { signal?: AbortSignal },
  ): Promise<AsyncReplyState<Result> | undefined>;
  /** Subscribes to the operations topic and runs operations with the registered handlers (worker mode). */
  worker(options?: AsyncReplyWorkerOptions): Promise<Subscription>;
  /** Deletes expired records from the store; returns how many. */
  sweepExpired(options?: { signal?: AbortSignal }): Promise<number>;
  /** How many operations this instance is running now. */
  readonly running: number;
  /** Listens to an event; returns the function that removes the listener. */
  on<Name extends keyof AsyncReplyEvents>(
    name: Name,
    listener: (event: AsyncReplyEvents[Name]) => void,
  ): EventSubscription;
  /** A point-in-time view for dashboards. */
  snapshot(): AsyncReplySnapshot;
  /**
   * Stops accepting, closes workers and waits up to `deadlineMs` for running handlers; then
   * aborts their signals. In-process operations cut off that way are recorded as failed; in
   * worker mode they are left to be run again once their lease runs out. Never closes the store.
   */
  close(options?: { deadlineMs?: number }): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** What {@link AsyncReply.snapshot} reports. */
export interface AsyncReplySnapshot {
  /** Operations this instance is running now. */
  readonly running: number;
  /** Kinds with a registered handler. */
  readonly kinds: readonly string[];
  /** `in-process` without a transport, `worker` with one. */
  readonly mode: 'in-process' | 'worker';
  /** Worker subscriptions open on this instance. */
  readonly workers: number;
  readonly closed: boolean;
}

/** The payload of a worker-mode message. */
interface OperationMessage {
  readonly id: string;
  readonly kind: string;
  readonly input: unknown;
}

const DEFAULT_GROUP = 'bulwark.async-reply.workers';
const DEFAULT_CLOSE_DEADLINE_MS = 10_000;

const errorInfo = (error: unknown): AsyncReplyErrorInfo => {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    // Kept whatever the error's text holds (stores refuse NUL and lone surrogates): the operation must still end.
    return {
      name: storableDiagnostic(error.name),
      message: storableDiagnostic(error.message),
      ...(typeof code === 'string' ? { code: storableDiagnostic(code) } : {}),
    };
  }
  return { name: 'Error', message: storableDiagnostic(String(error)) };
};

/**
 * Creates an {@link AsyncReply}.
 *
 * @example
 * ```ts
 * const reports = asyncReply({ store: memoryAsyncReplyStore(), claimCheck: checks })
 *   .handle<{ month: string }, SalesReport>('report.sales', (input, { signal }) => buildReport(input.month, signal));
 *
 * app.post('/reports', async (request, reply) => {
 *   const { statusUrl } = await reports.accept('report.sales', request.body);
 *   reply.code(202).header('location', statusUrl).send({ statusUrl });
 * });
 * app.get('/operations/:id', async (request, reply) => {
 *   const state = await reports.status(request.params.id);
 *   return state ? reply.send(state) : reply.code(404).send();
 * });
 * ```
 */
export function asyncReply(options: AsyncReplyOptions): AsyncReply {
  validateAsyncReplyOptions(options);
  const { store, claimCheck, transport } = options;
  const clock: Clock = options.clock ?? systemClock;
  const topic = options.topic ?? asyncReplyDefaults.topic;
  const ttlMs = options.ttlMs ?? asyncReplyDefaults.ttlMs;
  const leaseMs = options.leaseMs ?? asyncReplyDefaults.leaseMs;
  const statusUrlOf = options.statusUrl ?? asyncReplyDefaults.statusUrl;
  const generateId = options.generateId ?? randomUUID;
  const handlers = new Map<string, AsyncReplyHandler>();
  const inFlight = new Set<Promise<void>>();
  const workers = new Set<Subscription>();
  const shutdown = new AbortController();
  // Every running handler may listen to this one signal; hundreds at once are expected.
  setMaxListeners(0, shutdown.signal);
  const events = new NamedEventEmitter<AsyncReplyEvents>();
  let closed = false;

  const wrap = (id: string, kind: string, payload: unknown): Envelope =>
    createEnvelope({ id, topic, type: kind, payload, key: id }, { clock });

  const serializeResult = async (id: string, kind: string, result: unknown) => {
    let text: string | undefined;
    try {
      text = JSON.stringify(result === undefined ? null : result);
    } catch (error) {
      throw new AsyncReplyResultError(
        `The result of ${kind} cannot be serialized as JSON: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (text === undefined) throw new AsyncReplyResultError(`The result of ${kind} cannot be serialized as JSON`);
    if (!claimCheck) return { result: text, resultClaimed: false };
    const checkedIn = await claimCheck.checkIn(wrap(id, kind, result === undefined ? null : result));
    return claimCheck.isCheckedIn(checkedIn)
      ? { result: JSON.stringify(checkedIn.payload), resultClaimed: true }
      : { result: text, resultClaimed: false };
  };

  /**
   * Runs one operation if it can be started. Returns `busy` with the lease end when another run
   * owns it, `done` otherwise. Throws only when the outcome could not be recorded.
   */
  const run = async (
    id: string,
    kind: string,
    input: unknown,
    mode: 'in-process' | 'worker',
  ): Promise<{ kind: 'done' } | { kind: 'busy'; retryInMs: number }> => {
    const runId = generateId();
    const startedAt = clock.now();
    const record = await store.start(id, { now: startedAt, runId, leaseUntil: startedAt + leaseMs });
    if (!record) {
      const current = await store.get(id, clock.now());
      // Still running under a lease: try again when it ends. The lease may have run out between
      // start and this read (a loaded machine): then at once, not acked as done, which would leave
      // the operation running with no message left to take it over.
      if (current?.status === 'running' && current.leaseUntil !== undefined) {
        return { kind: 'busy', retryInMs: Math.max(0, current.leaseUntil - clock.now()) };
      }
      return { kind: 'done' };
    }
    if (events.has('operation-started')) events.emit('operation-started', { id, kind, attempt: record.attempts });
    const handler = handlers.get(kind);
    let outcome:
      | { status: 'succeeded'; result: string; resultClaimed: boolean }
      | { status: 'failed'; error: AsyncReplyErrorInfo };
    try {
      if (!handler) throw new UnknownOperationKindError(kind);
      const result = await handler(input, { id, kind, attempt: record.attempts, signal: shutdown.signal });
      outcome = { status: 'succeeded', ...(await serializeResult(id, kind, result)) };
    } catch (error) {
      // Cut off by close() on a worker: leave the record running; a redelivery takes it over
      // once the lease runs out, so the operation is not lost.
      if (mode === 'worker' && shutdown.signal.aborted) throw error;
      outcome = { status: 'failed', error: errorInfo(error) };
    }
    const now = clock.now();
    if (!(await store.finish(id, { ...outcome, now, runId, expiresAt: now + ttlMs }))) {
      // The handler outlived its lease and another run took the operation over (or it expired):
      // that run's outcome stands, this one is dropped.
      events.emit('operation-error', {
        id,
        kind,
        error: new MessagingError(
          'ASYNC_REPLY_LEASE_LOST',
          `Run ${runId} of operation ${id} finished after losing its lease; its outcome was dropped`,
        ),
      });
      return { kind: 'done' };
    }
    const durationMs = now - startedAt;
    if (outcome.status === 'succeeded') {
      if (events.has('operation-succeeded')) {
        events.emit('operation-succeeded', { id, kind, durationMs, resultClaimed: outcome.resultClaimed });
      }
    } else if (events.has('operation-failed')) {
      events.emit('operation-failed', { id, kind, durationMs, error: outcome.error });
    }
    return { kind: 'done' };
  };

  /** Records a failure for an operation that cannot run at all (never published, input lost). */
  const failWithoutRunning = async (id: string, error: AsyncReplyErrorInfo) => {
    const runId = generateId();
    const now = clock.now();
    if (!(await store.start(id, { now, runId, leaseUntil: now + leaseMs }))) return;
    await store.finish(id, { status: 'failed', error, now, runId, expiresAt: now + ttlMs });
  };

  const markUnpublished = (id: string, error: unknown) => {
    const cause = errorInfo(error);
    return failWithoutRunning(id, {
      name: cause.name,
      message: `The operation could not be published: ${cause.message}`,
      code: 'ASYNC_REPLY_NOT_PUBLISHED',
    });
  };

  const track = (promise: Promise<void>) => {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
  };

  const toState = async <Result>(record: AsyncReplyRecord, signal?: AbortSignal): Promise<AsyncReplyState<Result>> => {
    const base: OperationStateBase = {
      id: record.id,
      kind: record.kind,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      expiresAt: record.expiresAt,
      attempts: record.attempts,
    };
    const status: AsyncReplyStatus = record.status;
    switch (status) {
      case 'pending':
        return { ...base, status };
      case 'running':
        return { ...base, status, startedAt: record.startedAt ?? record.updatedAt };
      case 'failed':
        return {
          ...base,
          status,
          error: record.error ?? { name: 'Error', message: 'unknown' },
          finishedAt: record.finishedAt ?? record.updatedAt,
        };
      case 'succeeded': {
        const stored = JSON.parse(record.result ?? 'null') as unknown;
        let result: Result;
        if (record.resultClaimed) {
          if (!claimCheck) {
            throw new MessagingError(
              'ASYNC_REPLY_CLAIM_CHECK_MISSING',
              `The result of operation ${record.id} is in the claim check, but this asyncReply has none`,
            );
          }
          const checkedIn = { ...wrap(record.id, record.kind, stored as Claim) };
          const restored = await claimCheck.checkOut<Result>(
            { ...checkedIn, headers: { ...checkedIn.headers, [CLAIM_CHECK_HEADER]: CLAIM_CHECK_HEADER_VALUE } },
            signal ? { signal } : {},
          );
          result = restored.payload;
        } else {
          result = stored as Result;
        }
        return { ...base, status, result, finishedAt: record.finishedAt ?? record.updatedAt };
      }
    }
  };

  const api: AsyncReply = {
    handle(kind, handler) {
      if (typeof kind !== 'string' || kind === '')
        throw new InvalidMessagingValueError('kind', 'must be a non-empty string');
      handlers.set(kind, handler as AsyncReplyHandler);
      return api;
    },

    async accept(kind, input, acceptOptions = {}) {
      if (closed) throw new AsyncReplyClosedError();
      acceptOptions.signal?.throwIfAborted();
      if (!transport && !handlers.has(kind)) throw new UnknownOperationKindError(kind);
      const id = acceptOptions.id ?? generateId();
      const statusUrl = statusUrlOf(id);
      const now = clock.now();
      const created = await store.create(
        { id, kind, createdAt: now, expiresAt: now + ttlMs },
        acceptOptions.signal ? { signal: acceptOptions.signal } : {},
      );
      if (!created) return { id, statusUrl, created: false };
      if (transport) {
        const signalOption = acceptOptions.signal ? { signal: acceptOptions.signal } : {};
        try {
          let message: Envelope = wrap(id, kind, { id, kind, input } satisfies OperationMessage);
          if (claimCheck) message = await claimCheck.checkIn(message, signalOption);
          await transport.publish(topic, [message], signalOption);
        } catch (error) {
          // No worker will ever see it: record the failure so the status does not stay pending.
          await markUnpublished(id, error).catch(() => undefined);
          throw error;
        }
      } else {
        track(
          run(id, kind, input, 'in-process').then(
            () => undefined,
            (error: unknown) => events.emit('operation-error', { id, kind, error }),
          ),
        );
      }
      if (events.has('operation-accepted')) events.emit('operation-accepted', { id, kind });
      return { id, statusUrl, created: true };
    },

    async status<Result = unknown>(id: string, statusOptions: { signal?: AbortSignal } = {}) {
      statusOptions.signal?.throwIfAborted();
      const record = await store.get(id, clock.now(), statusOptions.signal ? { signal: statusOptions.signal } : {});
      return record ? toState<Result>(record, statusOptions.signal) : undefined;
    },

    async worker(workerOptions = {}) {
      if (closed) throw new AsyncReplyClosedError();
      if (!transport) {
        throw new MessagingError('ASYNC_REPLY_NO_TRANSPORT', 'worker() needs asyncReply({ transport }) (worker mode)');
      }
      const subscription = await transport.subscribe(
        topic,
        workerOptions.group ?? DEFAULT_GROUP,
        async (delivery: Delivery) => {
          let message = delivery.message;
          if (claimCheck?.isCheckedIn(message)) {
            try {
              message = await claimCheck.checkOut(message);
            } catch (error) {
              // The input's blob is gone or altered: no redelivery can fix that, so the
              // operation fails (its id and kind ride in the message key and type).
              if (!(error instanceof ClaimCheckIntegrityError) || message.key === undefined) throw error;
              await failWithoutRunning(message.key, errorInfo(error));
              events.emit('operation-error', { id: message.key, kind: message.type, error });
              return;
            }
          }
          const payload = message.payload as Partial<OperationMessage> | null;
          if (typeof payload?.id !== 'string' || typeof payload.kind !== 'string') {
            // Not an operation of ours: redelivering it would never help, so it is acked and reported.
            events.emit('operation-error', {
              id: String(payload?.id ?? message.id),
              kind: String(payload?.kind ?? message.type),
              error: new MessagingError(
                'ASYNC_REPLY_INVALID_MESSAGE',
                `Message ${message.id} is not an async reply operation`,
              ),
            });
            return;
          }
          const { id, kind, input } = payload as OperationMessage;
          const running = run(id, kind, input, 'worker');
          const tracked = running.then(
            () => undefined,
            (error: unknown) => {
              if (!shutdown.signal.aborted) events.emit('operation-error', { id, kind, error });
            },
          );
          track(tracked);
          const outcome = await running;
          if (outcome.kind === 'busy') await delivery.nack({ delayMs: outcome.retryInMs });
        },
        workerOptions.prefetch === undefined ? {} : { prefetch: workerOptions.prefetch },
      );
      workers.add(subscription);
      return subscription;
    },

    sweepExpired(sweepOptions = {}) {
      return store.sweepExpired(clock.now(), sweepOptions.signal ? { signal: sweepOptions.signal } : {});
    },

    get running() {
      return inFlight.size;
    },

    on(name, listener) {
      return events.on(name, listener);
    },

    snapshot() {
      return {
        running: inFlight.size,
        kinds: [...handlers.keys()],
        mode: transport ? 'worker' : 'in-process',
        workers: workers.size,
        closed,
      };
    },

    async close(closeOptions = {}) {
      if (closed) return;
      closed = true;
      const deadlineMs = closeOptions.deadlineMs ?? DEFAULT_CLOSE_DEADLINE_MS;
      const waitAll = () => Promise.all([...inFlight]).then(() => undefined);
      if (deadlineMs > 0 && inFlight.size > 0) {
        const timer = new AbortController();
        await Promise.race([waitAll(), delay(clock, deadlineMs, timer.signal).catch(() => undefined)]);
        timer.abort();
      }
      shutdown.abort(new AsyncReplyClosedError());
      await Promise.all([...workers].map((subscription) => subscription.close({ deadlineMs: 0 })));
      await waitAll();
    },

    [Symbol.asyncDispose]() {
      return api.close();
    },
  };
  return api;
}
