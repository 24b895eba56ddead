// The ops view's route charts, read from the same `http.server.request.duration` histogram that
// /metrics serves: a metric reader takes its delta every few seconds and each process writes one
// row per route to `shop_route_samples`; the ops view adds the processes up per time slot and
// computes request rate, p50/p99 latency (from the bucket counts), error rate and availability.
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type pg from 'pg';
import { httpServerDuration } from './http-telemetry.js';

/** Where one shop writes its route samples. */
export interface RouteSampleSink {
  pool: pg.Pool;
  processId: string;
}

interface RouteSample {
  route: string;
  requests: number;
  serverErrors: number;
  clientErrors: number;
  bounds: number[];
  counts: number[];
}

function samples(metrics: ResourceMetrics): RouteSample[] {
  const byRoute = new Map<string, RouteSample>();
  for (const scope of metrics.scopeMetrics)
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== httpServerDuration || metric.dataPointType !== DataPointType.HISTOGRAM) continue;
      for (const point of metric.dataPoints) {
        if (point.value.count === 0) continue;
        const route = `${point.attributes['http.request.method']} ${point.attributes['http.route'] ?? '(no route)'}`;
        const status = Number(point.attributes['http.response.status_code']);
        const { boundaries, counts } = point.value.buckets;
        const sample = byRoute.get(route) ?? {
          route,
          requests: 0,
          serverErrors: 0,
          clientErrors: 0,
          bounds: boundaries,
          counts: counts.map(() => 0),
        };
        sample.requests += point.value.count;
        if (status >= 500) sample.serverErrors += point.value.count;
        else if (status >= 400) sample.clientErrors += point.value.count;
        counts.forEach((count, index) => {
          sample.counts[index] = (sample.counts[index] ?? 0) + count;
        });
        byRoute.set(route, sample);
      }
    }
  return [...byRoute.values()];
}

async function write(sink: RouteSampleSink, rows: RouteSample[]): Promise<void> {
  await sink.pool.query(
    `INSERT INTO shop_route_samples (at, process_id, route, requests, server_errors, client_errors, bounds, counts)
     SELECT now(), $2, route, requests, "serverErrors", "clientErrors",
            ARRAY(SELECT jsonb_array_elements_text(bounds)::float8), ARRAY(SELECT jsonb_array_elements_text(counts)::int8)
       FROM jsonb_to_recordset($1::jsonb) AS r(route text, requests bigint, "serverErrors" bigint,
            "clientErrors" bigint, bounds jsonb, counts jsonb)`,
    [JSON.stringify(rows), sink.processId],
  );
  await sink.pool.query("DELETE FROM shop_route_samples WHERE at < now() - interval '1 hour'");
}

/** A metric exporter (delta temporality) that writes route samples to every sink attached now. */
export function routeSampleExporter(sinks: ReadonlySet<RouteSampleSink>): PushMetricExporter {
  return {
    export(metrics, done: (result: ExportResult) => void) {
      const rows = samples(metrics);
      if (rows.length === 0 || sinks.size === 0) return done({ code: ExportResultCode.SUCCESS });
      Promise.all([...sinks].map((sink) => write(sink, rows))).then(
        () => done({ code: ExportResultCode.SUCCESS }),
        (error: Error) => done({ code: ExportResultCode.FAILED, error }),
      );
    },
    selectAggregationTemporality: () => AggregationTemporality.DELTA,
    async forceFlush() {},
    async shutdown() {},
  };
}

/** One time slot of one route, all processes added up. */
export interface RoutePoint {
  /** Start of the slot, ms since the epoch. */
  at: number;
  requestsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Share of requests answered 5xx (0–1). */
  errorRate: number;
  /** Share of requests not answered 5xx (0–1). */
  availability: number;
}

/** The quantile `q` (0–1) of a histogram, interpolated linearly inside its bucket, in ms. */
export function histogramQuantile(bounds: number[], counts: number[], q: number): number | null {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let index = 0; index < counts.length; index++) {
    const count = counts[index] ?? 0;
    if (seen + count >= rank && count > 0) {
      const lower = index === 0 ? 0 : (bounds[index - 1] ?? 0);
      // The last bucket is open-ended: report its lower bound.
      const upper = bounds[index] ?? lower;
      return (lower + (upper - lower) * ((rank - seen) / count)) * 1000;
    }
    seen += count;
  }
  return (bounds.at(-1) ?? 0) * 1000;
}

/** Every route's series over the last `minutes`, in slots of `slotSeconds`. */
export async function routeSeries(
  pool: pg.Pool,
  options: { minutes: number; slotSeconds: number },
): Promise<Record<string, RoutePoint[]>> {
  const { rows } = await pool.query<{
    route: string;
    at: number;
    requests: number;
    serverErrors: number;
    bounds: number[];
    counts: string[];
  }>(
    `SELECT route, extract(epoch FROM at)::float8 * 1000 AS at, requests::float8 AS requests,
            server_errors::float8 AS "serverErrors", bounds, counts
       FROM shop_route_samples WHERE at > now() - make_interval(mins => $1) ORDER BY at`,
    [options.minutes],
  );
  // Added up per route and slot across processes (a few hundred rows: no need for SQL array sums).
  const slotMs = options.slotSeconds * 1000;
  const slots = new Map<
    string,
    { route: string; at: number; requests: number; serverErrors: number; bounds: number[]; counts: number[] }
  >();
  for (const row of rows) {
    const at = Math.floor(row.at / slotMs) * slotMs;
    const key = `${row.route}\u0000${at}`;
    const slot = slots.get(key) ?? {
      route: row.route,
      at,
      requests: 0,
      serverErrors: 0,
      bounds: row.bounds,
      counts: [],
    };
    slot.requests += row.requests;
    slot.serverErrors += row.serverErrors;
    row.counts.forEach((count, index) => {
      slot.counts[index] = (slot.counts[index] ?? 0) + Number(count);
    });
    slots.set(key, slot);
  }
  const series: Record<string, RoutePoint[]> = {};
  for (const slot of slots.values()) {
    series[slot.route] ??= [];
    series[slot.route]?.push({
      at: slot.at,
      requestsPerSecond: slot.requests / options.slotSeconds,
      p50Ms: histogramQuantile(slot.bounds, slot.counts, 0.5),
      p99Ms: histogramQuantile(slot.bounds, slot.counts, 0.99),
      errorRate: slot.requests === 0 ? 0 : slot.serverErrors / slot.requests,
      availability: slot.requests === 0 ? 1 : 1 - slot.serverErrors / slot.requests,
    });
  }
  return series;
}
