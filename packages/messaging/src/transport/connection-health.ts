import type { Clock } from '@bulwark/resilience';

/**
 * Whether a long-lived component currently reaches its server, as its `snapshot()` reports it:
 * `up`, or `degraded` while its connection is lost or its calls fail (it keeps retrying on its
 * own). The same shape for every transport, relay and consumer.
 */
export interface ConnectionHealth {
  readonly status: 'up' | 'degraded';
  /** When the status last changed (the component's clock, ms); absent if it never changed. */
  readonly since?: number;
  /** The last error met while degraded. */
  readonly lastError?: string;
}

/** Keeps a component's {@link ConnectionHealth}: degraded at the first failure, up again at the next success. */
export class ConnectionHealthTracker {
  private current: ConnectionHealth = { status: 'up' };
  constructor(private readonly clock: Clock) {}

  /** A call or connection failed. */
  failed(error: unknown): void {
    const lastError = error instanceof Error ? error.message : String(error);
    this.current =
      this.current.status === 'degraded'
        ? { ...this.current, lastError }
        : { status: 'degraded', since: this.clock.now(), lastError };
  }

  /** A call succeeded, or the connection is back. */
  succeeded(): void {
    if (this.current.status === 'up') return;
    this.current = { status: 'up', since: this.clock.now() };
  }

  get health(): ConnectionHealth {
    return this.current;
  }
}
