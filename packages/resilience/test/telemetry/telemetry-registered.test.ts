import { openTelemetry, telemetryRegistered } from '@bulwark/resilience/telemetry';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterEach, expect, it } from 'vitest';

const api = openTelemetry();
if (!api) throw new Error('@opentelemetry/api is a dev dependency of this package');
const meter = () => api.metrics.getMeterProvider().getMeter('@bulwark/test');

afterEach(() => {
  api.trace.disable();
  api.metrics.disable();
  api.propagation.disable();
});

it('reports nothing registered while the API is installed without an SDK', () => {
  expect(telemetryRegistered(api, meter())).toBe(false);
});

it('reports a tracer provider registered after the component was made, and its removal', () => {
  expect(telemetryRegistered(api, meter())).toBe(false);
  api.trace.setGlobalTracerProvider(new BasicTracerProvider());
  expect(telemetryRegistered(api, meter())).toBe(true);
  api.trace.disable();
  expect(telemetryRegistered(api, meter())).toBe(false);
});

it('reports a meter provider registered alone', () => {
  api.metrics.setGlobalMeterProvider(new MeterProvider());
  expect(telemetryRegistered(api, meter())).toBe(true);
});

it('reports a propagator registered alone: it still carries a caller trace context into messages', () => {
  api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  expect(telemetryRegistered(api, meter())).toBe(true);
});
