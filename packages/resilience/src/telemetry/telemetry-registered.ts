import type { Meter, TracerProvider } from '@opentelemetry/api';
import type { OpenTelemetry } from './open-telemetry.js';

/** The API's no-op tracer provider: what an unregistered proxy delegates to. */
let noopTracerProvider: TracerProvider | undefined;

/**
 * Whether the application registered anything a telemetry hook would report to or carry through:
 * a tracer provider, a propagator, or a meter provider (`meter`, the package's meter from the
 * provider registered now, is then not the API's no-op meter). A hot path checks this first, so
 * with the API installed but no SDK registered it pays these few global reads and nothing else.
 * Asked on every call, not once: an SDK may be registered after the component was made.
 *
 * @param api - the loaded `@opentelemetry/api`
 * @param meter - the calling package's meter from the meter provider registered now
 */
export function telemetryRegistered(api: OpenTelemetry, meter: Meter): boolean {
  if (meter !== api.createNoopMeter()) return true;
  noopTracerProvider ??= new api.ProxyTracerProvider().getDelegate();
  const provider: TracerProvider = api.trace.getTracerProvider();
  // A provider registered some other way than through the API's proxy counts as registered.
  const delegate = provider instanceof api.ProxyTracerProvider ? provider.getDelegate() : provider;
  if (delegate !== noopTracerProvider) return true;
  // A propagator alone still carries a caller's trace context into the messages' headers.
  return api.propagation.fields().length > 0;
}
