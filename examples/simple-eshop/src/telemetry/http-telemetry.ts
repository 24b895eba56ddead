// HTTP server telemetry from Fastify's own hooks, per the OpenTelemetry HTTP semantic conventions:
// a SERVER span per request (the caller's `traceparent` as its parent) made active for the route's
// handler, so the outbox, saga and payment spans below it join the request's trace; and the
// `http.server.request.duration` histogram that /metrics and the ops view's route charts read.
// Hooks rather than @opentelemetry/instrumentation-http: that one patches `node:http` through a
// require hook which must load before anything imports it, which `--import tsx` ESM startup
// does not guarantee; Fastify knows the route template (`http.route`) first-hand.
import { context, metrics, propagation, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export const httpServerDuration = 'http.server.request.duration';

/** The semantic conventions' advised buckets for `http.server.request.duration`, in seconds. */
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

export function registerHttpTelemetry(app: FastifyInstance): void {
  const tracer = trace.getTracer('simple-eshop');
  const duration = metrics.getMeter('simple-eshop').createHistogram(httpServerDuration, {
    description: 'Duration of HTTP server requests.',
    unit: 's',
    advice: { explicitBucketBoundaries: durationBuckets },
  });
  const spans = new WeakMap<FastifyRequest, Span>();

  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    const parent = propagation.extract(context.active(), request.headers);
    const span = tracer.startSpan(
      route ? `${request.method} ${route}` : request.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'url.path': request.url.split('?')[0] ?? request.url,
          'url.scheme': request.protocol,
          ...(route ? { 'http.route': route } : {}),
        },
      },
      parent,
    );
    spans.set(request, span);
    // Everything Fastify runs for this request from here (hooks, body parsing, handler) descends
    // from this call, so AsyncLocalStorage carries the span to it.
    context.with(trace.setSpan(parent, span), done);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const route = request.routeOptions.url;
    const attributes = {
      'http.request.method': request.method,
      'http.response.status_code': status,
      ...(route ? { 'http.route': route } : {}),
      ...(status >= 500 ? { 'error.type': String(status) } : {}),
    };
    duration.record(reply.elapsedTime / 1000, attributes);
    const span = spans.get(request);
    if (span) {
      span.setAttributes(attributes);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}
