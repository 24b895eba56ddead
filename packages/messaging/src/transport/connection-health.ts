import type { Clock } from '@bulwark/resilience';

/**
 * Whether a long-lived component can reach its server, for readiness checks and dashboards.
 * `degraded` from the first failure (a lost connection, a call that failed or timed out) until a
 * call succeeds again; `since` is when the status last changed (ms on the component's clock).
 */
export interface ConnectionHealth {
  readonly status: 'up' | 'degraded';
  readonly since?: number;
  /** The message of the latest failure while degraded. */
  readonly lastError?: string;
}

/** Keeps a component's {@link ConnectionHealth}. @internal */
export interface HealthTracker {
  readonly current: ConnectionHealth;
  /** A call to the server succeeded. */
  up(): void;
  /** A call to the server failed, or the connection was lost. */
  degraded(error: unknown): void;
}

/** @internal */
export function healthTracker(clock: Clock): HealthTracker {
  let current: ConnectionHealth = { status: 'up', since: clock.now() };
  return {
    get current() {
      return current;
    },
    up() {
      if (current.status !== 'up') current = { status: 'up', since: clock.now() };
    },
    degraded(error) {
      const lastError = error instanceof Error ? error.message : String(error);
      current = { status: 'degraded', since: current.status === 'degraded' ? current.since : clock.now(), lastError };
    },
  };
}
