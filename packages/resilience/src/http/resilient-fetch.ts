import {
  type CircuitBreakerPolicy,
  type CircuitBreakerSnapshot,
  circuitBreaker,
} from '../circuit-breaker/circuit-breaker.js';
import type { Clock } from '../clock/clock.js';
import { ExecutionRejectedError } from '../errors/resilience-error.js';
import type { Event, EventSubscription, Listener } from '../events/event.js';
import { EventEmitter } from '../events/event.js';
import { unknownEventError } from '../events/unknown-event-error.js';
import { type HedgePolicy, hedge } from '../hedge/hedge.js';
import { pipeline } from '../pipeline/pipeline.js';
import type { Policy } from '../policy/policy.js';
import { executeInRootScope, invoke, RootScope, runPolicy, type Scope, type ScopedPolicy } from '../policy/scope.js';
import { RateLimitedError, RateLimitStoreError } from '../rate-limit/rate-limit-errors.js';
import { type RetryPolicy, retry } from '../retry/retry.js';
import { type TimeoutPolicy, timeout } from '../timeout/timeout.js';
import { TimeoutError } from '../timeout/timeout-errors.js';
import { HttpStatusError, RequestBodyNotReplayableError } from './http-errors.js';
import { type AttemptBody, replayableBody } from './replayable-body.js';
import type {
  HttpCircuitStateChangeEvent,
  HttpGiveUpEvent,
  HttpHedgeEvent,
  HttpRetryEvent,
  ResilientFetchEvents,
} from './resilient-fetch-events.js';
import {
  type FetchFunction,
  type HttpRequestInfo,
  isNetworkError,
  type ResilientFetchOptions,
  resilientFetchDefaults,
  validateResilientFetchOptions,
} from './resilient-fetch-options.js';
import { retryAfterFromHeaders } from './retry-after.js';

/** One origin's (or route's) state in {@link ResilientFetch.snapshot}. */
export interface HttpEndpointSnapshot {
  /** The origin or route key. */
  readonly key: string;
  /** Attempts running now. */
  readonly inFlight: number;
  /** Its circuit breaker, when the breaker step is on. */
  readonly circuit: CircuitBreakerSnapshot | undefined;
}

/** What {@link ResilientFetch.snapshot} reports. */
export interface ResilientFetchSnapshot {
  /** One entry per origin (or route) called so far. */
  readonly endpoints: readonly HttpEndpointSnapshot[];
}

/** What {@link resilientFetch} and the undici interceptor share: per-origin state and events. */
export interface ResilientHttpControls {
  /** Per origin (or route): attempts in flight and the breaker's state. */
  snapshot(): ResilientFetchSnapshot;
  /** The breaker that requests to `url` go through (made if none yet); `undefined` without the breaker step. */
  circuitFor(url: string | URL): CircuitBreakerPolicy | undefined;
  /** Emitted before a request is sent again. */
  readonly onRetry: Event<HttpRetryEvent>;
  /** Emitted when the retry step stops and passes on the last failure. */
  readonly onGiveUp: Event<HttpGiveUpEvent>;
  /** Emitted when the breaker of an origin (or route) changes state. */
  readonly onStateChange: Event<HttpCircuitStateChangeEvent>;
  /** Emitted when a hedged attempt starts. */
  readonly onHedge: Event<HttpHedgeEvent>;
  /** Subscribes to an event by name. */
  on<K extends keyof ResilientFetchEvents>(name: K, listener: Listener<ResilientFetchEvents[K]>): EventSubscription;
}

/** The function returned by {@link resilientFetch}: `fetch` with the standard pipeline around it. */
export interface ResilientFetch extends FetchFunction, ResilientHttpControls {}

/** The part of a retried response's body read to let the connection be reused; past it the body is cancelled. */
const DRAIN_LIMIT_BYTES = 262_144;

const drains = new WeakMap<Response, Promise<void>>();

async function readAndDrop(response: Response): Promise<void> {
  if (response.bodyUsed || response.body === null) return;
  const reader = response.body.getReader();
  let read = 0;
  while (read <= DRAIN_LIMIT_BYTES) {
    const { done, value } = await reader.read();
    if (done) return;
    read += value.byteLength;
  }
  await reader.cancel();
}

/**
 * Reads and drops a body nobody will read (once per response, never failing), so its
 * connection goes back to the pool; past {@link DRAIN_LIMIT_BYTES} the body is cancelled.
 */
function discard(response: Response): Promise<void> {
  let drain = drains.get(response);
  if (!drain) {
    drain = readAndDrop(response).catch(() => {});
    drains.set(response, drain);
  }
  return drain;
}

/** An origin (or route) and what requests to it go through. */
class Endpoint {
  inFlight = 0;
  constructor(
    readonly key: string,
    readonly breaker: CircuitBreakerPolicy | undefined,
  ) {}
}

/** Where a failed attempt went, for events. */
interface FailedAttempt {
  readonly method: string;
  readonly url: string;
}

/** One call of the resilient fetch: the request and what its attempts share. */
class HttpCall {
  attempts = 0;
  lastError: unknown = undefined;
  readonly statusErrors: HttpStatusError[] = [];
  constructor(
    readonly method: string,
    readonly url: URL,
    readonly init: RequestInit,
    readonly body: AttemptBody,
    readonly callerSignal: AbortSignal | undefined,
    /** Sends one attempt: the configured `fetch`, or the undici interceptor's next dispatcher. */
    readonly send: FetchFunction,
  ) {}

  /** Drops the bodies of the transient responses that the caller will not see. */
  discardUnreturned(returned: unknown): void {
    for (const error of this.statusErrors) if (error !== returned) discard(error.response);
  }
}

function parseUrl(input: string | URL | Request): URL {
  if (input instanceof URL) return input;
  return new URL(typeof input === 'string' ? input : input.url);
}

const routeKey = (url: URL): string => `${url.origin}${url.pathname}`;

/**
 * The standard pipeline and its per-origin state, shared by {@link resilientFetch} and the undici
 * interceptor: each call passes the function that sends one attempt (internal).
 */
export class HttpPipeline {
  readonly baseFetch: FetchFunction;
  readonly clock: Clock;
  readonly options: ResilientFetchOptions;
  readonly transientStatus: (status: number) => boolean;
  readonly transientError: (error: unknown) => boolean;
  readonly retryMethods: ReadonlySet<string>;
  readonly maxBufferedBodyBytes: number;
  readonly throwStatusErrors: boolean;
  readonly endpointKey: ((request: HttpRequestInfo) => string) | undefined;
  readonly endpoints = new Map<string, Endpoint>();
  readonly attemptTimeout: TimeoutPolicy | undefined;
  readonly retryPolicy: RetryPolicy | undefined;
  readonly hedgePolicy: HedgePolicy | undefined;
  /** The steps above the breaker, outermost first: once (no retry), retried, retried and hedged. */
  readonly once: ScopedPolicy | undefined;
  readonly retried: ScopedPolicy | undefined;
  readonly hedged: ScopedPolicy | undefined;
  readonly failedAttempts = new WeakMap<object, FailedAttempt>();

  readonly retryEmitter = new EventEmitter<HttpRetryEvent>();
  readonly giveUpEmitter = new EventEmitter<HttpGiveUpEvent>();
  readonly stateChangeEmitter = new EventEmitter<HttpCircuitStateChangeEvent>();
  readonly hedgeEmitter = new EventEmitter<HttpHedgeEvent>();

  constructor(options: ResilientFetchOptions) {
    this.options = options;
    this.baseFetch = options.fetch ?? globalThis.fetch;
    this.clock = options.clock ?? resilientFetchDefaults.clock;
    const random = options.random ?? resilientFetchDefaults.random;
    this.transientStatus = options.transientStatus ?? resilientFetchDefaults.transientStatus;
    this.transientError = options.transientError ?? ((error) => error instanceof TimeoutError || isNetworkError(error));
    this.maxBufferedBodyBytes = options.maxBufferedBodyBytes ?? resilientFetchDefaults.maxBufferedBodyBytes;
    this.throwStatusErrors = (options.statusErrors ?? resilientFetchDefaults.statusErrors) === 'throw';

    const breakerKey = options.circuitBreaker === false ? undefined : (options.circuitBreaker?.key ?? 'origin');
    this.endpointKey =
      breakerKey === undefined || breakerKey === 'origin'
        ? undefined
        : breakerKey === 'route'
          ? ({ url }) => routeKey(url)
          : breakerKey;

    const totalTimeoutMs = options.totalTimeoutMs ?? resilientFetchDefaults.totalTimeoutMs;
    const attemptTimeoutMs = options.attemptTimeoutMs ?? resilientFetchDefaults.attemptTimeoutMs;
    const total = totalTimeoutMs === false ? undefined : timeout({ ms: totalTimeoutMs, clock: this.clock });
    this.attemptTimeout = attemptTimeoutMs === false ? undefined : timeout({ ms: attemptTimeoutMs, clock: this.clock });

    const retrySettings = options.retry === false ? undefined : (options.retry ?? {});
    this.retryMethods = new Set(
      (retrySettings?.methods ?? resilientFetchDefaults.methods).map((method) => method.toUpperCase()),
    );
    if (retrySettings) {
      const retryPolicy = retry({
        maxAttempts: retrySettings.maxAttempts ?? resilientFetchDefaults.maxAttempts,
        backoff: retrySettings.backoff ?? resilientFetchDefaults.backoff,
        ...(retrySettings.budget ? { budget: retrySettings.budget } : {}),
        // A retry whose delay (a server's Retry-After included) would end after the total timeout
        // is not scheduled: the caller gets the last response now rather than a timeout later.
        ...(totalTimeoutMs === false ? {} : { maxElapsedMs: totalTimeoutMs }),
        retryOn: (error) => this.isRetryable(error),
        clock: this.clock,
        random,
      });
      retryPolicy.onRetry(({ attempt, delayMs, error }) => {
        // Start reading the body during the wait; the next attempt awaits the end of it.
        if (error instanceof HttpStatusError) discard(error.response);
        if (this.retryEmitter.hasListeners) {
          this.retryEmitter.emit({ ...this.describeFailure(error), attempt, delayMs, error });
        }
      });
      retryPolicy.onGiveUp(({ attempts, reason, error }) => {
        if (this.giveUpEmitter.hasListeners) {
          this.giveUpEmitter.emit({ ...this.describeFailure(error), attempts, reason, error });
        }
      });
      this.retryPolicy = retryPolicy;
    }
    if (options.hedge) {
      const hedgePolicy = hedge({
        hedgeDelayMs: options.hedge.hedgeDelayMs,
        ...(options.hedge.maxHedgedAttempts === undefined
          ? {}
          : { maxHedgedAttempts: options.hedge.maxHedgedAttempts }),
        clock: this.clock,
      });
      hedgePolicy.onHedge((event) => this.hedgeEmitter.emit(event));
      this.hedgePolicy = hedgePolicy;
    }
    const compose = (...steps: (Policy | undefined)[]): ScopedPolicy | undefined => {
      const present = steps.filter((step): step is Policy => step !== undefined);
      return present.length === 0 ? undefined : (pipeline(...present) as unknown as ScopedPolicy);
    };
    this.once = compose(total);
    this.retried = compose(total, this.retryPolicy);
    this.hedged = compose(total, this.retryPolicy, this.hedgePolicy);
  }

  private describeFailure(error: unknown): FailedAttempt {
    if (error instanceof HttpStatusError) return { method: error.method, url: error.url };
    return (typeof error === 'object' && error !== null && this.failedAttempts.get(error)) || { method: '', url: '' };
  }

  private isRetryable(error: unknown): boolean {
    if (error instanceof HttpStatusError) return true;
    if (error instanceof RequestBodyNotReplayableError || error instanceof ExecutionRejectedError) return false;
    return this.transientError(error);
  }

  private countsAsFailure(error: unknown): boolean {
    return error instanceof HttpStatusError || this.transientError(error);
  }

  endpointFor(url: URL, method: string): Endpoint {
    const key = this.endpointKey ? this.endpointKey({ method, url }) : url.origin;
    let endpoint = this.endpoints.get(key);
    if (endpoint) return endpoint;
    const settings = this.options.circuitBreaker === false ? undefined : (this.options.circuitBreaker ?? {});
    let breaker: CircuitBreakerPolicy | undefined;
    if (settings) {
      breaker = circuitBreaker({
        name: `http:${key}`,
        strategy: settings.strategy ?? resilientFetchDefaults.strategy,
        halfOpenAfter: settings.halfOpenAfter ?? resilientFetchDefaults.halfOpenAfter,
        ...(settings.halfOpenMaxCalls === undefined ? {} : { halfOpenMaxCalls: settings.halfOpenMaxCalls }),
        ...(settings.store ? { store: settings.store } : {}),
        failureOn: (error) => this.countsAsFailure(error),
        clock: this.clock,
        ...(this.options.random ? { random: this.options.random } : {}),
      });
      breaker.onStateChange(({ from, to, reason }) => {
        if (this.stateChangeEmitter.hasListeners) this.stateChangeEmitter.emit({ key, from, to, reason });
      });
    }
    endpoint = new Endpoint(key, breaker);
    this.endpoints.set(key, endpoint);
    return endpoint;
  }

  async fetch(
    input: string | URL | Request,
    init?: RequestInit,
    send: FetchFunction = this.baseFetch,
  ): Promise<Response> {
    const url = parseUrl(input);
    const request = input instanceof Request ? input : undefined;
    const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
    const callerSignal = init?.signal ?? request?.signal ?? undefined;
    callerSignal?.throwIfAborted();
    let headers: RequestInit['headers'] = init?.headers ?? request?.headers;
    let repeatable = this.isIdempotent(method, headers);
    if (!repeatable && this.addsIdempotencyKey(method)) {
      const withKey = new Headers(headers);
      const key = this.options.idempotencyKey;
      withKey.set('Idempotency-Key', typeof key === 'function' ? key() : globalThis.crypto.randomUUID());
      headers = withKey;
      repeatable = true;
    }
    const rawBody = init?.body !== undefined ? init.body : request?.body;
    const body: AttemptBody =
      repeatable && rawBody !== null && rawBody !== undefined
        ? await replayableBody(rawBody, this.maxBufferedBodyBytes)
        : { replayable: true, body: rawBody };
    const attemptInit: RequestInit = request
      ? { redirect: request.redirect, credentials: request.credentials, ...init, headers }
      : headers === init?.headers
        ? (init ?? {})
        : { ...init, headers };
    if (this.options.rateLimit) await this.consumeRateLimit(method, url, callerSignal);

    const call = new HttpCall(method, url, attemptInit, body, callerSignal, send);
    const steps = !repeatable ? this.once : body.replayable && this.hedgePolicy ? this.hedged : this.retried;
    const attempt = (scope: Scope) => this.attempt(call, scope);
    try {
      const response = await (steps
        ? executeInRootScope(steps, attempt, callerSignal)
        : invoke(attempt, new RootScope(callerSignal)));
      call.discardUnreturned(undefined);
      return response;
    } catch (error) {
      call.discardUnreturned(error);
      if (error instanceof HttpStatusError && !this.throwStatusErrors) return error.response;
      throw error;
    }
  }

  /** Methods retried as they are, and any request carrying an `Idempotency-Key`. */
  private isIdempotent(method: string, headers: RequestInit['headers']): boolean {
    if (this.retryMethods.has(method)) return true;
    return headers !== undefined && new Headers(headers).has('idempotency-key');
  }

  private addsIdempotencyKey(method: string): boolean {
    return (method === 'POST' || method === 'PATCH') && Boolean(this.options.idempotencyKey);
  }

  private async consumeRateLimit(method: string, url: URL, signal: AbortSignal | undefined): Promise<void> {
    const settings = this.options.rateLimit;
    if (!settings) return;
    const key = settings.key ? settings.key({ method, url }) : url.origin;
    try {
      const decision = await settings.limiter.consume(key, signal ? { signal } : undefined);
      if (!decision.allowed) throw new RateLimitedError(decision.retryAfterMs, key);
    } catch (error) {
      if (!(settings.failOpen && error instanceof RateLimitStoreError)) throw error;
    }
  }

  /** One attempt: pick its URL, then breaker → attempt timeout → fetch. */
  private attempt(call: HttpCall, scope: Scope): Promise<Response> {
    call.attempts += 1;
    const attempt = call.attempts;
    if (attempt > 1 && !call.body.replayable) {
      return Promise.reject(
        new RequestBodyNotReplayableError(call.method, call.url.href, this.maxBufferedBodyBytes, {
          cause: call.lastError,
        }),
      );
    }
    // The transient responses before this attempt are never the one returned: read their bodies
    // first, so their connections go back to the pool and this attempt can reuse one.
    const stale = call.statusErrors.splice(0);
    if (stale.length === 0) return this.sendThroughBreaker(call, scope, attempt);
    return Promise.all(stale.map(({ response }) => discard(response))).then(() =>
      this.sendThroughBreaker(call, scope, attempt),
    );
  }

  private sendThroughBreaker(call: HttpCall, scope: Scope, attempt: number): Promise<Response> {
    const url = this.options.endpoint
      ? new URL(this.options.endpoint({ method: call.method, url: call.url, attempt }))
      : call.url;
    const endpoint = this.endpointFor(url, call.method);
    const send = (inner: Scope) => this.send(call, url, inner);
    const attemptTimeout = this.attemptTimeout;
    const guarded = attemptTimeout ? (inner: Scope) => runPolicy(attemptTimeout, send, inner) : send;
    endpoint.inFlight += 1;
    const promise = endpoint.breaker ? runPolicy(endpoint.breaker, guarded, scope) : invoke(guarded, scope);
    return promise.then(
      (response) => {
        endpoint.inFlight -= 1;
        return response;
      },
      (error: unknown) => {
        endpoint.inFlight -= 1;
        call.lastError = error;
        if (typeof error === 'object' && error !== null && !(error instanceof HttpStatusError)) {
          this.failedAttempts.set(error, { method: call.method, url: url.href });
        }
        throw error;
      },
    );
  }

  private async send(call: HttpCall, url: URL, scope: Scope): Promise<Response> {
    const own = scope.abortSignal;
    const caller = call.callerSignal;
    // Once the attempt settles its scope stops following the caller, yet the caller's signal must
    // still cancel the body the caller is reading: the fetch follows both.
    const signal =
      caller === undefined || own === caller ? own : own === undefined ? caller : AbortSignal.any([own, caller]);
    const init: RequestInit & { duplex?: 'half' } = { ...call.init, method: call.method, signal: signal ?? null };
    if (call.body.body !== null && call.body.body !== undefined) {
      init.body = call.body.body;
      // Required by Node's fetch for stream bodies, accepted for the others.
      init.duplex = 'half';
    }
    const response = await call.send(url, init);
    if (scope.aborted) {
      // A hedge's loser, or an attempt whose deadline passed as the headers came.
      discard(response);
      throw scope.reason;
    }
    if (!this.transientStatus(response.status)) return response;
    const error = new HttpStatusError(
      response,
      call.method,
      url.href,
      retryAfterFromHeaders(response.headers, this.clock.now()),
    );
    call.statusErrors.push(error);
    throw error;
  }
}

/**
 * A `fetch` with the standard resilience pipeline around it — rate limiter → total timeout →
 * retry → (hedge) → circuit breaker per origin → attempt timeout — each step set or removed
 * (`false`) by its option.
 *
 * - Outcomes come from responses: 408, 429 and 5xx (and network failures, attempt timeouts) are
 *   retried and counted by the breaker; the last response is returned as `fetch` would (or
 *   thrown as {@link HttpStatusError} with `statusErrors: 'throw'`). A retried response's body is
 *   read and dropped so its connection is reused.
 * - `Retry-After` (seconds or an HTTP date) and `RateLimit`/`RateLimit-Reset` set the next delay;
 *   a delay that would pass the total timeout ends the call with the last response at once.
 * - Only idempotent methods are retried or hedged; POST and PATCH only with an `Idempotency-Key`
 *   header (`idempotencyKey: true` adds one).
 * - The request's `signal` ends every wait at once. Request bodies are replayed; a stream longer
 *   than `maxBufferedBodyBytes` is sent once, and a retry of it fails with
 *   {@link RequestBodyNotReplayableError}.
 *
 * @throws {@link @bulwark/resilience!InvalidOptionsError} listing every invalid option.
 * @example
 * ```ts
 * const http = resilientFetch({ totalTimeoutMs: 10_000, retry: { maxAttempts: 4 }, attemptTimeoutMs: 2_000 });
 * http.onStateChange(({ key, to }) => console.log(`${key} circuit ${to}`));
 * const response = await http('https://api.example.com/orders/42', { signal });
 * ```
 */
export function resilientFetch(options: ResilientFetchOptions = {}): ResilientFetch {
  validateResilientFetchOptions(options);
  const core = new HttpPipeline(options);
  const resilient = (input: string | URL | Request, init?: RequestInit) => core.fetch(input, init);
  return Object.assign(resilient, httpControls(core, 'resilientFetch'));
}

/** The snapshot, breakers and events of `core`, as both front ends expose them (internal). */
export function httpControls(core: HttpPipeline, owner: string): ResilientHttpControls {
  const events: { [K in keyof ResilientFetchEvents]: Event<ResilientFetchEvents[K]> } = {
    retry: core.retryEmitter.event,
    giveUp: core.giveUpEmitter.event,
    stateChange: core.stateChangeEmitter.event,
    hedge: core.hedgeEmitter.event,
  };
  return {
    snapshot: (): ResilientFetchSnapshot => ({
      endpoints: [...core.endpoints.values()].map(({ key, inFlight, breaker }) => ({
        key,
        inFlight,
        circuit: breaker?.snapshot(),
      })),
    }),
    circuitFor: (url: string | URL) => core.endpointFor(new URL(url), 'GET').breaker,
    onRetry: events.retry,
    onGiveUp: events.giveUp,
    onStateChange: events.stateChange,
    onHedge: events.hedge,
    on<K extends keyof ResilientFetchEvents>(name: K, listener: Listener<ResilientFetchEvents[K]>): EventSubscription {
      const event = events[name];
      if (!event) throw unknownEventError(owner, name);
      return event(listener);
    },
  };
}
