import type { OpenTelemetry } from '@bulwark/resilience/telemetry';
import type { Context } from '@opentelemetry/api';
import type { MessageHeaders } from '../envelope/envelope.js';

/**
 * The trace context a message carries in its headers (`traceparent`, `tracestate`, `baggage`, as
 * the registered propagator reads them), or `undefined` when it carries none.
 */
export function messageContext(api: OpenTelemetry, headers: MessageHeaders): Context | undefined {
  if (headers.traceparent === undefined) return undefined;
  return api.propagation.extract(api.ROOT_CONTEXT, headers, api.defaultTextMapGetter);
}

/**
 * `headers` with `context` written in by the registered propagator; the same object when the
 * propagator wrote nothing (none registered, or an invalid context), so nothing is copied then.
 */
export function withTraceHeaders(api: OpenTelemetry, context: Context, headers: MessageHeaders): MessageHeaders {
  const carrier: Record<string, string> = {};
  api.propagation.inject(context, carrier, api.defaultTextMapSetter);
  for (const _name in carrier) return { ...headers, ...carrier };
  return headers;
}
