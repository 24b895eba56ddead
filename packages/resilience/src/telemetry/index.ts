/**
 * `@bulwark/resilience/telemetry`: the one loader of the optional `@opentelemetry/api` peer and the
 * one way instruments and tracers are registered, shared by `@bulwark/resilience`,
 * `@bulwark/messaging` and `@bulwark/saga`. Applications do not need it: they register an
 * OpenTelemetry SDK and the packages report through it (see the observability guide).
 *
 * @packageDocumentation
 */
export { type OpenTelemetry, openTelemetry } from './open-telemetry.js';
export { meterScoped, tracerScoped } from './provider-scoped.js';
export { telemetryRegistered } from './telemetry-registered.js';
