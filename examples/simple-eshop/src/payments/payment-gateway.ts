// The shop's way to the payment provider: every call goes through a bulkhead (so a slow provider
// cannot take every connection), a circuit breaker (so an outage fails fast instead of piling
// up), a retry with backoff for transient failures, and a timeout per attempt.
import {
  type BulkheadPolicy,
  bulkhead,
  type CircuitBreakerPolicy,
  type CircuitStateStore,
  circuitBreaker,
  exponential,
  failureRate,
  pipeline,
  retry,
  timeout,
} from '@bulwark/resilience';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { PaymentDeclinedError, type PaymentProvider } from './payment-provider.js';

export interface PaymentGateway extends PaymentProvider {
  readonly breaker: CircuitBreakerPolicy;
  readonly bulkhead: BulkheadPolicy;
}

export interface PaymentGatewayOptions {
  /** Per-attempt deadline. @defaultValue 2000 */
  timeoutMs?: number;
  /** How long the breaker stays open before a probe. @defaultValue 5000 */
  halfOpenAfterMs?: number;
  /** Shares the breaker's state with the other processes (e.g. `redisCircuitStateStore`). */
  store?: CircuitStateStore;
}

/** A declined card is the provider working as designed: neither retried nor held against it. */
const isTransient = (error: unknown) => !(error instanceof PaymentDeclinedError);

export function paymentGateway(provider: PaymentProvider, options: PaymentGatewayOptions = {}): PaymentGateway {
  const breaker = circuitBreaker({
    name: 'payments',
    strategy: failureRate({ threshold: 0.5, minimumCalls: 6, window: { kind: 'time', ms: 10_000 } }),
    halfOpenAfter: options.halfOpenAfterMs ?? 5_000,
    failureOn: isTransient,
    ...(options.store ? { store: options.store } : {}),
  });
  const calls = bulkhead({ maxConcurrent: 16, maxQueue: 64, queueTimeoutMs: 2_000 });
  const policy = pipeline(
    calls,
    // Outside the retry, the breaker counts a call whose retries all failed as one failure.
    breaker,
    retry({
      maxAttempts: 3,
      backoff: exponential({ initialMs: 100, maxMs: 1_000, jitter: 'full' }),
      retryOn: isTransient,
    }),
    timeout({ ms: options.timeoutMs ?? 2_000 }),
  );
  // A CLIENT span per call, around the policies, so their events (retries, a breaker rejection, a
  // timeout) land on it; the provider client carries its context to the provider process.
  const tracer = trace.getTracer('simple-eshop');
  const traced = <T>(operation: string, orderId: string, call: () => Promise<T>): Promise<T> =>
    tracer.startActiveSpan(
      `payment ${operation}`,
      { kind: SpanKind.CLIENT, attributes: { 'shop.payment.operation': operation, 'shop.payment.order_id': orderId } },
      async (span) => {
        try {
          return await call();
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
          span.setAttribute('error.type', (error as Error).name);
          throw error;
        } finally {
          span.end();
        }
      },
    );
  return {
    breaker,
    bulkhead: calls,
    authorize: (request, signal) =>
      traced('authorize', request.orderId, () =>
        policy.execute(({ signal: attemptSignal }) => provider.authorize(request, attemptSignal), { signal }),
      ),
    capture: (request, signal) =>
      traced('capture', request.orderId, () =>
        policy.execute(({ signal: attemptSignal }) => provider.capture(request, attemptSignal), { signal }),
      ),
    refund: (request, signal) =>
      traced('refund', request.orderId, () =>
        policy.execute(({ signal: attemptSignal }) => provider.refund(request, attemptSignal), { signal }),
      ),
    void: (request, signal) =>
      traced('void', request.orderId, () =>
        policy.execute(({ signal: attemptSignal }) => provider.void(request, attemptSignal), { signal }),
      ),
  };
}
