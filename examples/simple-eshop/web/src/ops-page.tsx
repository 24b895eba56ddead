import { useRef, useState } from 'react';
import { api } from './api';
import { Timeline } from './orders-page';
import { usePoll } from './router';
import { Sparkline } from './sparkline';

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
  }>;
  bulkheads: Array<{ name: string; running: number; queued: number; maxConcurrent: number; maxQueue: number }>;
  limiters: Array<{ name: string; limit: number }>;
  outbox: { pending: number; oldestAgeMs: number };
  queues: Record<string, number>;
  deadLetters: { total: number; byTopic: Record<string, number> };
  sagas: Record<string, number>;
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
const push = (series: number[], value: number) => [...series.slice(-(historyLength - 1)), value];

export function OpsPage() {
  const history = useRef({
    failureRate: [] as number[],
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
  const { value: polledFaults } = usePoll(
    () => api<{ faults: Record<'payment' | 'email', FaultSettings>; scenarios: string[] }>('GET', '/ops/faults'),
    2_000,
    [tick],
  );
  // A switch shows its new position at once; the next poll confirms what the server holds.
  const [optimistic, setOptimistic] = useState<{
    tick: number;
    target: 'payment' | 'email';
    settings: Partial<FaultSettings>;
  }>();
  const faults =
    polledFaults && optimistic?.tick === tick
      ? {
          ...polledFaults,
          faults: {
            ...polledFaults.faults,
            [optimistic.target]: { ...polledFaults.faults[optimistic.target], ...optimistic.settings },
          },
        }
      : polledFaults;
  const { value: deadLetters } = usePoll(() => api<DeadLetter[]>('GET', '/ops/dlq'), 2_000, [tick]);
  const { value: sagas } = usePoll(() => api<SagaRun[]>('GET', '/ops/sagas?limit=10'), 2_000, [tick]);
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
  const setFault = (target: 'payment' | 'email', settings: Partial<FaultSettings>) => {
    setOptimistic({ tick, target, settings });
    return act(`${target}: ${JSON.stringify(settings)}`, 'POST', '/ops/faults', { target, settings });
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
        <section aria-labelledby="breaker-title" className="panel">
          <h2 id="breaker-title">Payment circuit breaker</h2>
          <p className={`breaker breaker-${breaker?.state}`} data-testid="breaker-state">
            {breaker?.state}
          </p>
          <p className="muted">
            {breaker?.failures}/{breaker?.calls} failed in the window
          </p>
          <Sparkline values={series.failureRate} max={1} label="Failure rate" />
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
            <label>
              Error rate{' '}
              <select
                value={faults?.faults.payment.errorRate ?? 0}
                onChange={(event) => void setFault('payment', { errorRate: Number(event.target.value) })}
              >
                {[0, 0.1, 0.3, 0.5, 1].map((rate) => (
                  <option key={rate} value={rate}>
                    {rate * 100}%
                  </option>
                ))}
              </select>
            </label>
            <label>
              Decline rate{' '}
              <select
                value={faults?.faults.payment.declineRate ?? 0}
                onChange={(event) => void setFault('payment', { declineRate: Number(event.target.value) })}
              >
                {[0, 0.1, 0.5, 1].map((rate) => (
                  <option key={rate} value={rate}>
                    {rate * 100}%
                  </option>
                ))}
              </select>
            </label>
            <label>
              Latency{' '}
              <select
                value={faults?.faults.payment.latencyMs ?? 0}
                onChange={(event) => void setFault('payment', { latencyMs: Number(event.target.value) })}
              >
                {[0, 200, 1_000, 3_000].map((ms) => (
                  <option key={ms} value={ms}>
                    {ms} ms
                  </option>
                ))}
              </select>
            </label>
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
            Login limiter: {status.limiters[0]?.limit} failures per 15 minutes per email and per IP
          </p>
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
