// The ops view's OpenTelemetry panels: an order's trace as a waterfall (every process's spans, read
// from the span store) and, per route, request rate, p50/p99 latency, error rate and availability
// over time (from `http.server.request.duration`).
import { useState } from 'react';
import { api } from './api';
import { LineChart } from './line-chart';
import { usePoll } from './router';

interface Span {
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: number;
  role: string;
  startUs: number;
  durationUs: number;
  error: boolean;
  events: Array<{ name: string; offsetUs: number }>;
}
interface RoutePoint {
  at: number;
  requestsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  errorRate: number;
  availability: number;
}

const kinds = ['internal', 'server', 'client', 'producer', 'consumer'];
const roleColors: Record<string, string> = {
  api: '#2f6fb0',
  relay: '#8a5cc2',
  orders: '#c27b1f',
  payment: '#2e8b57',
  email: '#b03a48',
  all: '#2f6fb0',
};

/** Spans in tree order (each after its parent, children by start), with their depth. */
function treeOrder(spans: Span[]): Array<{ span: Span; depth: number }> {
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map<string | null, Span[]>();
  for (const span of spans) {
    const parent = span.parentSpanId && ids.has(span.parentSpanId) ? span.parentSpanId : null;
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const ordered: Array<{ span: Span; depth: number }> = [];
  const visit = (parent: string | null, depth: number) => {
    for (const span of (children.get(parent) ?? []).sort((a, b) => a.startUs - b.startUs)) {
      ordered.push({ span, depth });
      visit(span.spanId, depth + 1);
    }
  };
  visit(null, 0);
  return ordered;
}

const duration = (us: number) =>
  us >= 1_000_000 ? `${(us / 1_000_000).toFixed(2)} s` : `${(us / 1000).toFixed(1)} ms`;

export function TraceWaterfall() {
  const [chosen, setChosen] = useState<string>();
  const { value: orders } = usePoll(
    () => api<Array<{ orderId: string; startedAt: string }>>('GET', '/ops/traces?limit=20'),
    3_000,
    [],
  );
  const orderId = chosen ?? orders?.[0]?.orderId;
  const { value: trace } = usePoll(
    async () => (orderId ? api<{ spans: Span[] }>('GET', `/ops/traces/${orderId}`) : { spans: [] }),
    2_000,
    [orderId],
  );
  const spans = trace?.spans ?? [];
  const start = Math.min(...spans.map((span) => span.startUs));
  const end = Math.max(...spans.map((span) => span.startUs + span.durationUs));
  const total = Math.max(1, end - start);
  return (
    <section aria-labelledby="trace-title" className="panel panel-wide">
      <h2 id="trace-title">Order trace</h2>
      {orders && orders.length > 0 ? (
        <label>
          Order{' '}
          <select value={orderId} onChange={(event) => setChosen(event.target.value)}>
            {orders.map((order) => (
              <option key={order.orderId} value={order.orderId}>
                {order.orderId.slice(0, 8)} — {new Date(order.startedAt).toLocaleTimeString()}
              </option>
            ))}
          </select>
        </label>
      ) : (
        <p className="muted">No order traced in the last hour: place one.</p>
      )}
      {spans.length > 0 ? (
        <div className="waterfall" data-testid="trace-waterfall" data-order-id={orderId}>
          <p className="muted">
            {spans.length} spans in {new Set(spans.map((span) => span.role)).size} processes over {duration(total)}
          </p>
          {treeOrder(spans).map(({ span, depth }) => (
            <div key={span.spanId} className="span-row" data-testid="span-row" data-span-name={span.name}>
              <span className="span-name" style={{ paddingLeft: `${depth * 10}px` }} title={kinds[span.kind]}>
                {span.name}
              </span>
              <span className="span-role" style={{ color: roleColors[span.role] }}>
                {span.role}
              </span>
              <span className="span-track">
                <span
                  className={`span-bar${span.error ? ' span-error' : ''}`}
                  style={{
                    left: `${((span.startUs - start) / total) * 100}%`,
                    width: `${Math.max(0.3, (span.durationUs / total) * 100)}%`,
                    background: roleColors[span.role] ?? '#666',
                  }}
                  title={span.events.map((event) => event.name).join(', ')}
                />
              </span>
              <span className="span-duration">{duration(span.durationUs)}</span>
            </div>
          ))}
        </div>
      ) : null}
    </section>
  );
}

const operatorRoute = /^[A-Z]+ \/(ops|health|metrics)(\/|$)/;

export function RouteCharts() {
  const { value } = usePoll(
    () =>
      api<{ minutes: number; slotSeconds: number; routes: Record<string, RoutePoint[]> }>(
        'GET',
        '/ops/routes?minutes=15&slotSeconds=10',
      ),
    5_000,
    [],
  );
  if (!value) return null;
  const to = Date.now();
  const from = to - value.minutes * 60_000;
  // The shop's own routes: this page's polling of /ops/*, health checks and scrapes would crowd them out.
  const busiest = Object.entries(value.routes)
    .filter(([route]) => !operatorRoute.test(route))
    .map(([route, points]) => ({
      route,
      points,
      requests: points.reduce((sum, point) => sum + point.requestsPerSecond, 0),
    }))
    .sort((a, b) => b.requests - a.requests)
    .slice(0, 6);
  return (
    <section aria-labelledby="routes-title" className="panel panel-wide" data-testid="route-charts">
      <h2 id="routes-title">Routes (last {value.minutes} minutes, all processes)</h2>
      {busiest.length === 0 ? <p className="muted">No requests yet.</p> : null}
      {busiest.map(({ route, points }) => (
        <div key={route} className="route-row" data-testid="route-row" data-route={route}>
          <h3>{route}</h3>
          <div className="route-charts">
            <LineChart
              title="Request rate"
              unit="req/s"
              from={from}
              to={to}
              series={[
                {
                  label: 'req/s',
                  color: '#2f6fb0',
                  points: points.map((point) => [point.at, point.requestsPerSecond]),
                },
              ]}
            />
            <LineChart
              title="Latency"
              unit="ms"
              from={from}
              to={to}
              format={(ms) => ms.toFixed(ms < 10 ? 1 : 0)}
              series={[
                { label: 'p50', color: '#2e8b57', points: points.map((point) => [point.at, point.p50Ms]) },
                { label: 'p99', color: '#c27b1f', points: points.map((point) => [point.at, point.p99Ms]) },
              ]}
            />
            <LineChart
              title="Error rate (5xx)"
              unit="%"
              from={from}
              to={to}
              max={100}
              format={(rate) => rate.toFixed(0)}
              series={[
                { label: 'errors', color: '#b03a48', points: points.map((point) => [point.at, point.errorRate * 100]) },
              ]}
            />
            <LineChart
              title="Availability"
              unit="%"
              from={from}
              to={to}
              max={100}
              format={(rate) => rate.toFixed(0)}
              series={[
                {
                  label: 'available',
                  color: '#2e8b57',
                  points: points.map((point) => [point.at, point.availability * 100]),
                },
              ]}
            />
          </div>
        </div>
      ))}
    </section>
  );
}
