// The payment simulator as its own HTTP service (`--role payment`), and the client the shop
// uses to reach it.
import { type FetchFunction, resilientFetch } from '@bulwark/resilience/http';
import { context, propagation } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { ProviderUnavailableError } from '../faults/faults.js';
import { sendProblem } from '../http/problem.js';
import { PaymentDeclinedError, type PaymentProvider } from './payment-provider.js';

const operations = ['authorize', 'capture', 'refund', 'void'] as const;

const Body = {
  type: 'object',
  required: ['orderId', 'idempotencyKey'],
  properties: {
    orderId: { type: 'string', minLength: 1, maxLength: 100 },
    idempotencyKey: { type: 'string', minLength: 1, maxLength: 200 },
    authorizationId: { type: 'string', maxLength: 100 },
    amountCents: { type: 'integer', minimum: 0 },
  },
} as const;

/** Serves a provider under /provider/payments/<operation>. */
export async function paymentProviderRoutes(app: FastifyInstance, provider: PaymentProvider): Promise<void> {
  for (const operation of operations) {
    app.post(
      `/provider/payments/${operation}`,
      { schema: { tags: ['payment provider'], body: Body } },
      async (request, reply) => {
        try {
          // The schema above guarantees the fields each operation reads.
          const body = request.body as never;
          return (await provider[operation](body)) ?? { ok: true };
        } catch (error) {
          if (error instanceof PaymentDeclinedError)
            return sendProblem(reply, { title: 'Payment Required', status: 402, detail: error.message });
          if (error instanceof ProviderUnavailableError)
            return sendProblem(reply, { title: 'Service Unavailable', status: 503, detail: error.message });
          throw error;
        }
      },
    );
  }
}

/**
 * The HTTP layer of the provider client: each request carries its idempotency key as an
 * `Idempotency-Key` header, so a refused or reset connection, or a 5xx, is retried once here
 * (after the provider's `Retry-After` when it sends one), within each attempt of the payment
 * gateway around this client. The gateway keeps the breaker (it knows a decline is no failure),
 * the bulkhead and the per-attempt deadline, so this layer has no breaker or total timeout of its own.
 */
function providerFetch(): FetchFunction {
  return resilientFetch({
    retry: { maxAttempts: 2 },
    circuitBreaker: false,
    totalTimeoutMs: false,
    attemptTimeoutMs: 1_500,
  });
}

/** `headers` with the current trace context (`traceparent`), so the provider's span joins the trace. */
function traceHeaders(headers: Record<string, string>): Record<string, string> {
  propagation.inject(context.active(), headers);
  return headers;
}

/** A PaymentProvider that calls the simulator service at `baseUrl`. */
export function paymentProviderClient(
  baseUrl: string,
  options: { readonly fetch?: FetchFunction } = {},
): PaymentProvider {
  const http = options.fetch ?? providerFetch();
  const call = async <T>(
    operation: (typeof operations)[number],
    body: { readonly idempotencyKey: string },
    signal?: AbortSignal,
  ): Promise<T> => {
    let response: Response;
    try {
      response = await http(`${baseUrl}/provider/payments/${operation}`, {
        method: 'POST',
        headers: traceHeaders({ 'content-type': 'application/json', 'idempotency-key': body.idempotencyKey }),
        body: JSON.stringify(body),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new ProviderUnavailableError(`payment provider unreachable: ${(error as Error).message}`, { cause: error });
    }
    if (response.status === 402) throw new PaymentDeclinedError(((await response.json()) as { detail: string }).detail);
    if (!response.ok) {
      await response.body?.cancel();
      throw new ProviderUnavailableError(`payment provider answered ${response.status}`);
    }
    return (await response.json()) as T;
  };
  return {
    authorize: (request, signal) => call('authorize', request, signal),
    capture: (request, signal) => call('capture', request, signal),
    refund: (request, signal) => call('refund', request, signal),
    void: async (request, signal) => {
      await call('void', request, signal);
    },
  };
}
