import type { Meter, Tracer } from '@opentelemetry/api';
import type { OpenTelemetry } from './open-telemetry.js';

/**
 * A package's instruments, made from the meter provider registered now and made again when the
 * application registers another: the metrics API has no proxy, so a meter taken before the SDK
 * is registered would stay a no-op. Every Bulwark package registers its instruments through this.
 *
 * @param scope - the instrumentation scope (the package name)
 * @param create - makes the instruments from the scope's meter
 */
export function meterScoped<Instruments>(
  scope: string,
  create: (meter: Meter) => Instruments,
): (api: OpenTelemetry) => Instruments {
  let cached: { readonly provider: object; readonly value: Instruments } | undefined;
  return (api) => {
    const provider = api.metrics.getMeterProvider();
    if (cached?.provider !== provider) cached = { provider, value: create(provider.getMeter(scope)) };
    return cached.value;
  };
}

/**
 * A package's tracer from the tracer provider registered now, taken again when the application
 * registers another.
 *
 * @param scope - the instrumentation scope (the package name)
 */
export function tracerScoped(scope: string): (api: OpenTelemetry) => Tracer {
  let cached: { readonly provider: object; readonly value: Tracer } | undefined;
  return (api) => {
    const provider = api.trace.getTracerProvider();
    if (cached?.provider !== provider) cached = { provider, value: provider.getTracer(scope) };
    return cached.value;
  };
}
