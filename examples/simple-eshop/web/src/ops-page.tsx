import { useRef, useState } from 'react';
import { api } from './api';
import { Timeline } from './orders-page';
import { usePoll } from './router';
import { Sparkline } from './sparkline';
import { RouteCharts, TraceWaterfall } from './telemetry-panels';

interface FaultSettings {
  declineRate: number;
  errorRate: number;
  latencyMs: number;
  down: boolean;
}
interface OpsStatus {
  backends: Record<string, string>;
  breakers: Array<{
    name: string;
    state: string;
    failureRate: number;
    calls: number;
    failures: number;
    nextProbeAt?: number;
    role?: string;
  }>;
  bulkheads: Array<{ name: string; running: number; queued: number; maxConcurrent: number; maxQueue: number }>;
  limiters: Array<{ name: string; limit: number; failures?: number; rejected?: number }>;
  caches?: Array<{ name: string; hits: number; misses: number; staleAnswers: number; health: { status: string } }>;
  outbox: { pending: number; oldestAgeMs: number };
  queues: Record<string, number>;
  deadLetters: { total: number; byTopic: Record<string, number> };
  sagas: Record<string, number>;
  /** Choreographed flows (shipping, notification) by status. */
  flows?: Record<string, number>;
  projections?: Array<{
    name: string;
    state: string;
    applied: number;
    lagEvents: number | null;
    lagMs: number | null;
    failures: number;
    role: string;
  }>;
}
interface SalesDashboard {
  days: Array<{ day: string; productId: string; name: string; orders: number; units: number; revenueCents: number }>;
  totals: { units: number; revenueCents: number };
}
interface DeadLetter {
  id: string;
  type: string;
  originalTopic: string;
  storedAt: string;
  headers: Record<string, string>;
}
interface SagaRun {
  id: string;
  saga: string;
  status: string;
  updatedAt: string;
  timeline: Array<{ at: string; kind: string; step: string | null }>;
}
interface Mail {
  id: string;
  to: string;
  subject: string;
  sentAt: string;
}

const historyLength = 120;
/** Open is drawn high, half-open in between, so an outage shows as a plateau. */
const breakerLevels: Record<string, number> = { closed: 0, 'half-open': 0.5, open: 1, isolated: 1 };
const percent = (rate: number) => `${Math.round(rate * 100)}%`;
const describeSettings = (settings: Partial<FaultSettings>) =>
  Object.entries(settings)
    .map(([name, value]) =>
      name === 'down'
        ? value
          ? 'down'
          : 'up'
        : name === 'latencyMs'
          ? `latency ${value} ms`
          : `${name === 'errorRate' ? 'errors' : 'declines'} ${percent(Number(value))}`,
    )
    .join(', ');

/** A select of preset values that also shows a current value set elsewhere (e.g. by a scenario). */
function Choice({
  label,
  value,
  presets,
  format,
  onChange,
}: {
  label: string;
  value: number;
  presets: number[];
  format: (value: number) => string;
  onChange: (value: number) => void;
}) {
  const options = presets.includes(value) ? presets : [...presets, value].sort((a, b) => a - b);
  return (
    <label>
      {label}{' '}
      <select value={value} onChange={(event) => onChange(Number(event.target.value))}>
        {options.map((option) => (
          <option key={option} value={option}>
            {format(option)}
          </option>
        ))}
      </select>
    </label>
  );
}
const push = (series: number[], value: number) => [...series.slice(-(historyLength - 1)), value];

export function OpsPage() {
  const history = useRef({
    failureRate: [] as number[],
    breakerOpen: [] as number[],
    outboxLag: [] as number[],
    queueDepth: [] as number[],
    bulkhead: [] as number[],
  });
  const [, redraw] = useState(0);
  const { value: status, error } = usePoll(
    async () => {
      const next = await api<OpsStatus>('GET', '/ops/status');
      const series = history.current;
      series.failureRate = push(series.failureRate, next.breakers[0]?.failureRate ?? 0);
      series.breakerOpen = push(series.breakerOpen, breakerLevels[next.breakers[0]?.state ?? 'closed'] ?? 0);
      series.outboxLag = push(series.outboxLag, next.outbox.oldestAgeMs);
      series.queueDepth = push(
        series.queueDepth,
        Object.values(next.queues).reduce((sum, depth) => sum + depth, 0),
      );
      series.bulkhead = push(series.bulkhead, (next.bulkheads[0]?.running ?? 0) + (next.bulkheads[0]?.queued ?? 0));
      return next;
    },
    1_000,
    [],
  );
  const [tick, setTick] = useState(0);
  // A switch shows its new position at once. A poll result replaces it only when no change is on
  // its way to the server and the poll began after the last one arrived there, so an answer read
  // before the server had the change never flips a switch back.
  const [faults, setFaults] = useState<{ faults: Record<'payment' | 'email', FaultSettings>; scenarios: string[] }>();
  const lastChange = useRef(0);
  const changesInFlight = useRef(0);
  usePoll(
    async () => {
      const startedAt = performance.now();
      const next = await api<{ faults: Record<'payment' | 'email', FaultSettings>; scenarios: string[] }>(
        'GET',
        '/ops/faults',
      );
      if (changesInFlight.current === 0 && startedAt > lastChange.current) setFaults(next);
      return next;
    },
    2_000,
    [tick],
  );
  const { value: deadLetters } = usePoll(() => api<DeadLetter[]>('GET', '/ops/dlq'), 2_000, [tick]);
  const { value: sagas } = usePoll(() => api<SagaRun[]>('GET', '/ops/sagas?limit=10'), 2_000, [tick]);
  const { value: flows } = usePoll(() => api<SagaRun[]>('GET', '/ops/flows?limit=10'), 2_000, [tick]);
  const { value: sales } = usePoll(() => api<SalesDashboard>('GET', '/ops/sales-dashboard?days=7'), 5_000, [tick]);
  const { value: mail } = usePoll(() => api<Mail[]>('GET', '/ops/mail?limit=10'), 2_000, [tick]);
  const [message, setMessage] = useState<string>();

  const act = async (what: string, method: string, path: string, body: unknown) => {
    try {
      await api(method, path, { body });
      setMessage(what);
      setTick((value) => value + 1);
      redraw((value) => value + 1);
    } catch (caught) {
      setMessage(`${what} failed: ${(caught as Error).message}`);
    }
  };
  const setFault = async (target: 'payment' | 'email', settings: Partial<FaultSettings>) => {
    changesInFlight.current += 1;
    setFaults(
      (current) =>
        current && { ...current, faults: { ...current.faults, [target]: { ...current.faults[target], ...settings } } },
    );
    try {
      await act(`${target} ${describeSettings(settings)}`, 'POST', '/ops/faults', { target, settings });
    } finally {
      changesInFlight.current -= 1;
      lastChange.current = performance.now();
    }
  };

  if (!status) return <p aria-busy={!error}>{error ?? 'Loading the ops view…'}</p>;
  const breaker = status.breakers[0];
  const series = history.current;
  return (
    <section aria-labelledby="ops-title" className="ops">
      <h1 id="ops-title">Operations</h1>
      <p className="muted">
        Transport {status.backends.transport} · blobs {status.backends.blobs} · idempotency{' '}
        {status.backends.idempotency}
      </p>
      <p role="status" aria-live="polite">
        {message}
      </p>

      <div className="panels">
        <TraceWaterfall />
        <RouteCharts />

        <section aria-labelledby="breaker-title" className="panel">
          <h2 id="breaker-title">Payment circuit breaker</h2>
          <p className={`breaker breaker-${breaker?.state}`} data-testid="breaker-state">
            {breaker?.state}
          </p>
          <p className="muted">
            {breaker?.failures}/{breaker?.calls} failed in the window
            {breaker?.role && breaker.role !== 'all' ? ` (in the ${breaker.role} process)` : ''}
          </p>
          <Sparkline
            values={series.breakerOpen}
            max={1}
            label="Open (high) or half-open over time"
            unit=""
            format={(level) => (level >= 1 ? 'open' : level > 0 ? 'half-open' : 'closed')}
          />
          <Sparkline values={series.failureRate} max={1} label="Failure rate in the window" format={percent} />
        </section>

        <section aria-labelledby="faults-title" className="panel">
          <h2 id="faults-title">Fault switches</h2>
          <fieldset>
            <legend>Payment provider</legend>
            <label>
              <input
                type="checkbox"
                checked={faults?.faults.payment.down ?? false}
                onChange={(event) => void setFault('payment', { down: event.target.checked })}
              />{' '}
              Payment down
            </label>
            <Choice
              label="Error rate"
              value={faults?.faults.payment.errorRate ?? 0}
              presets={[0, 0.1, 0.3, 0.5, 1]}
              format={percent}
              onChange={(errorRate) => void setFault('payment', { errorRate })}
            />
            <Choice
              label="Decline rate"
              value={faults?.faults.payment.declineRate ?? 0}
              presets={[0, 0.1, 0.5, 1]}
              format={percent}
              onChange={(declineRate) => void setFault('payment', { declineRate })}
            />
            <Choice
              label="Latency"
              value={faults?.faults.payment.latencyMs ?? 0}
              presets={[0, 200, 1_000, 3_000]}
              format={(ms) => `${ms} ms`}
              onChange={(latencyMs) => void setFault('payment', { latencyMs })}
            />
          </fieldset>
          <fieldset>
            <legend>Email provider</legend>
            <label>
              <input
                type="checkbox"
                checked={faults?.faults.email.down ?? false}
                onChange={(event) => void setFault('email', { down: event.target.checked })}
              />{' '}
              Email down
            </label>
            <Choice
              label="Email error rate"
              value={faults?.faults.email.errorRate ?? 0}
              presets={[0, 0.1, 0.3, 0.5, 1]}
              format={percent}
              onChange={(errorRate) => void setFault('email', { errorRate })}
            />
          </fieldset>
          <div className="row">
            {faults?.scenarios.map((scenario) => (
              <button
                key={scenario}
                type="button"
                onClick={() => void act(`scenario ${scenario}`, 'POST', '/ops/faults', { scenario })}
              >
                {scenario}
              </button>
            ))}
            <button
              type="button"
              className="primary"
              onClick={() => void act('faults reset', 'POST', '/ops/faults', { reset: true })}
            >
              Reset all faults
            </button>
          </div>
        </section>

        <section aria-labelledby="flow-title" className="panel">
          <h2 id="flow-title">Messages</h2>
          <Sparkline values={series.outboxLag} label="Outbox lag" unit=" ms" />
          <p className="muted">{status.outbox.pending} unpublished</p>
          <Sparkline values={series.queueDepth} label="Queue depth" />
          <Sparkline
            values={series.bulkhead}
            max={status.bulkheads[0]?.maxConcurrent}
            label="Payment bulkhead (running + queued)"
          />
          <p className="muted">
            Login limiter: {status.limiters[0]?.limit} failures per 15 minutes per email and per IP;{' '}
            {status.limiters.reduce((sum, limiter) => sum + (limiter.failures ?? 0), 0)} failures counted,{' '}
            {status.limiters.reduce((sum, limiter) => sum + (limiter.rejected ?? 0), 0)} logins refused (429)
          </p>
          <CacheLine caches={status.caches ?? []} />
        </section>

        <section aria-labelledby="sagas-title" className="panel">
          <h2 id="sagas-title">Sagas</h2>
          <p>
            {Object.entries(status.sagas).map(([state, count]) => (
              <span key={state} className={`pill status-${state}`}>
                {state} {count}
              </span>
            ))}
          </p>
          {sagas?.map((run) => (
            <details key={run.id}>
              <summary>
                {run.id.slice(0, 8)} — {run.status}
              </summary>
              <Timeline entries={run.timeline} />
            </details>
          ))}
        </section>

        <section aria-labelledby="flows-title" className="panel">
          <h2 id="flows-title">Choreographed flows</h2>
          <p className="muted">Shipping and notification react to the order saga's outcome events.</p>
          <p>
            {Object.entries(status.flows ?? {}).map(([state, count]) => (
              <span key={state} className={`pill status-${state}`}>
                {state} {count}
              </span>
            ))}
          </p>
          {flows?.map((run) => (
            <details key={`${run.saga}:${run.id}`}>
              <summary>
                {run.saga} {run.id.slice(0, 8)} — {run.status}
              </summary>
              <Timeline entries={run.timeline} />
            </details>
          ))}
        </section>

        <section aria-labelledby="read-models-title" className="panel">
          <h2 id="read-models-title">Read models</h2>
          <ul>
            {(status.projections ?? [])
              .filter((projection) => projection.state !== 'standby')
              .map((projection) => (
                <li key={`${projection.name}:${projection.role}`}>
                  {projection.name} ({projection.state}, {projection.role}): {projection.lagEvents ?? '?'} events /{' '}
                  {projection.lagMs ?? '?'} ms behind, {projection.applied} applied
                  {projection.failures > 0 ? `, ${projection.failures} failed batches` : ''}
                </li>
              ))}
          </ul>
          <h3>Sales, last 7 days</h3>
          <p className="muted">
            {sales?.totals.units ?? 0} units, €{((sales?.totals.revenueCents ?? 0) / 100).toFixed(2)}
          </p>
          <ul>
            {sales?.days.slice(0, 10).map((row) => (
              <li key={`${row.day}:${row.productId}`}>
                {row.day} {row.name}: {row.units} units in {row.orders} orders, €{(row.revenueCents / 100).toFixed(2)}
              </li>
            ))}
          </ul>
        </section>

        <section aria-labelledby="dlq-title" className="panel">
          <h2 id="dlq-title">Dead letters ({status.deadLetters.total})</h2>
          {deadLetters && deadLetters.length > 0 ? (
            <>
              <ul>
                {deadLetters.map((letter) => (
                  <li key={letter.id}>
                    {letter.type} on {letter.originalTopic}: {letter.headers['x-dead-letter-error'] ?? 'failed'}{' '}
                    <button
                      type="button"
                      onClick={() => void act(`replayed ${letter.id}`, 'POST', '/ops/dlq/replay', { ids: [letter.id] })}
                    >
                      Replay
                    </button>
                  </li>
                ))}
              </ul>
              <button type="button" onClick={() => void act('replayed all', 'POST', '/ops/dlq/replay', {})}>
                Replay all
              </button>{' '}
              <button type="button" onClick={() => void act('purged all', 'POST', '/ops/dlq/purge', {})}>
                Purge all
              </button>
            </>
          ) : (
            <p className="muted">None.</p>
          )}
        </section>

        <section aria-labelledby="mail-title" className="panel">
          <h2 id="mail-title">Mailbox</h2>
          <ul>
            {mail?.map((entry) => (
              <li key={entry.id}>
                <time dateTime={entry.sentAt}>{new Date(entry.sentAt).toLocaleTimeString()}</time> to {entry.to}:{' '}
                {entry.subject}
              </li>
            ))}
          </ul>
        </section>
      </div>
    </section>
  );
}

/** Hit rate and stale answers of the catalog cache, summed over processes. */
function CacheLine({ caches }: { caches: NonNullable<OpsStatus['caches']> }) {
  if (caches.length === 0) return null;
  const hits = caches.reduce((sum, cache) => sum + cache.hits, 0);
  const misses = caches.reduce((sum, cache) => sum + cache.misses, 0);
  const stale = caches.reduce((sum, cache) => sum + cache.staleAnswers, 0);
  const degraded = caches.some((cache) => cache.health.status !== 'up');
  const rate = hits + misses === 0 ? 0 : (100 * hits) / (hits + misses);
  return (
    <p className="muted" data-testid="catalog-cache">
      Catalog cache: {rate.toFixed(0)}% hits ({hits} hits, {misses} misses), {stale} stale answers
      {degraded ? ' — cache store degraded' : ''}
    </p>
  );
}
