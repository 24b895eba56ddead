// The shop's in-house trace store: every process writes its finished spans to `shop_spans` in the
// PostgreSQL database all the roles share, and the ops view reads an order's whole trace from there.
// Why a shared table rather than each process serving its own spans: the roles already share this
// database (and nothing else: behind a gateway or on other machines a process has no address the
// others know), the trace of one order crosses three to five processes, and a process that dies
// keeps its spans. It holds the last hour; a real deployment sends traces over OTLP as well.
import { type ExportResult, ExportResultCode, hrTimeToMicroseconds } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-node';
import type pg from 'pg';

/** Where one shop writes its spans. */
export interface SpanSink {
  pool: pg.Pool;
  role: string;
  processId: string;
}

/** A span as the ops view draws it. */
export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  /** The OpenTelemetry SpanKind: 0 internal, 1 server, 2 client, 3 producer, 4 consumer. */
  kind: number;
  role: string;
  processId: string;
  /** Microseconds since the epoch. */
  startUs: number;
  durationUs: number;
  error: boolean;
  attributes: Record<string, unknown>;
  events: Array<{ name: string; offsetUs: number; attributes: Record<string, unknown> }>;
}

const keepFor = "interval '1 hour'";
const pruneEveryMs = 60_000;

function row(span: ReadableSpan, sink: SpanSink) {
  const startUs = Math.round(hrTimeToMicroseconds(span.startTime));
  return {
    trace_id: span.spanContext().traceId,
    span_id: span.spanContext().spanId,
    parent_span_id: span.parentSpanContext?.spanId ?? null,
    name: span.name,
    kind: span.kind,
    role: sink.role,
    process_id: sink.processId,
    start_us: startUs,
    duration_us: Math.round(hrTimeToMicroseconds(span.duration)),
    // SpanStatusCode.ERROR
    error: span.status.code === 2,
    attributes: span.attributes,
    events: span.events.map((event) => ({
      name: event.name,
      offsetUs: Math.round(hrTimeToMicroseconds(event.time)) - startUs,
      attributes: event.attributes ?? {},
    })),
  };
}

async function write(sink: SpanSink, spans: ReadableSpan[], prune: boolean): Promise<void> {
  await sink.pool.query(
    `INSERT INTO shop_spans (trace_id, span_id, parent_span_id, name, kind, role, process_id, start_us, duration_us,
                             error, attributes, events)
     SELECT trace_id, span_id, parent_span_id, name, kind, role, process_id, start_us, duration_us, error,
            attributes, events
       FROM jsonb_to_recordset($1::jsonb) AS r(trace_id text, span_id text, parent_span_id text, name text,
            kind smallint, role text, process_id text, start_us bigint, duration_us bigint, error boolean,
            attributes jsonb, events jsonb)
     ON CONFLICT DO NOTHING`,
    [JSON.stringify(spans.map((span) => row(span, sink)))],
  );
  if (prune) await sink.pool.query(`DELETE FROM shop_spans WHERE recorded_at < now() - ${keepFor}`);
}

/** A span exporter that writes to every sink attached now (one per shop in the process). */
export function spanStoreExporter(sinks: ReadonlySet<SpanSink>): SpanExporter {
  let prunedAt = Date.now();
  return {
    export(spans, done: (result: ExportResult) => void) {
      const prune = Date.now() - prunedAt > pruneEveryMs;
      if (prune) prunedAt = Date.now();
      Promise.all([...sinks].map((sink) => write(sink, spans, prune))).then(
        () => done({ code: ExportResultCode.SUCCESS }),
        (error: Error) => done({ code: ExportResultCode.FAILED, error }),
      );
    },
    async shutdown() {},
  };
}

const columns = `trace_id AS "traceId", span_id AS "spanId", parent_span_id AS "parentSpanId", name, kind, role,
  process_id AS "processId", start_us::float8 AS "startUs", duration_us::float8 AS "durationUs", error, attributes,
  events`;

/** The trace of an order (the one its `POST /api/orders` started), every span of every process. */
export async function orderTrace(pool: pg.Pool, orderId: string): Promise<StoredSpan[]> {
  const { rows } = await pool.query<StoredSpan>(
    `SELECT ${columns} FROM shop_spans
      WHERE trace_id = (SELECT trace_id FROM shop_spans WHERE attributes ->> 'shop.order.id' = $1
                         ORDER BY start_us LIMIT 1)
      ORDER BY start_us, span_id`,
    [orderId],
  );
  return rows;
}

/** The orders whose traces the store holds, the latest first. */
export async function tracedOrders(
  pool: pg.Pool,
  limit: number,
): Promise<Array<{ orderId: string; traceId: string; startedAt: string }>> {
  const { rows } = await pool.query<{ orderId: string; traceId: string; startedAt: string }>(
    `SELECT attributes ->> 'shop.order.id' AS "orderId", trace_id AS "traceId",
            to_timestamp(start_us / 1e6) AS "startedAt"
       FROM shop_spans WHERE attributes ? 'shop.order.id'
      ORDER BY start_us DESC LIMIT $1`,
    [limit],
  );
  return rows;
}
