// Runtime fault switches for the simulated providers, kept in PostgreSQL so that every process
// of a shop spread over several (`--role payment`, `--role email`, …) sees the same switches.
import type pg from 'pg';

export interface FaultSettings {
  /** Share of calls that fail with a business refusal (a declined card), 0–1. */
  declineRate: number;
  /** Share of calls that fail with a server error, 0–1. */
  errorRate: number;
  /** Added to every call, in ms. */
  latencyMs: number;
  /** Every call fails as if the provider were unreachable. */
  down: boolean;
}

export type FaultTarget = 'payment' | 'email';
export const faultTargets: readonly FaultTarget[] = ['payment', 'email'];

export const noFaults: FaultSettings = { declineRate: 0, errorRate: 0, latencyMs: 0, down: false };

/** Named scenarios an operator can switch on at once. */
export const faultScenarios: Record<string, Partial<Record<FaultTarget, Partial<FaultSettings>>>> = {
  'payment-outage': { payment: { down: true } },
  'payment-flaky': { payment: { errorRate: 0.3, latencyMs: 200 } },
  'payment-slow': { payment: { latencyMs: 3_000 } },
  'card-declines': { payment: { declineRate: 0.5 } },
  'email-outage': { email: { down: true } },
  'black-friday': { payment: { errorRate: 0.2, latencyMs: 400, declineRate: 0.1 }, email: { errorRate: 0.3 } },
};

export interface Faults {
  /** The current settings of a target (cached for `refreshMs`). */
  get(target: FaultTarget): Promise<FaultSettings>;
  set(target: FaultTarget, settings: Partial<FaultSettings>): Promise<FaultSettings>;
  reset(): Promise<void>;
  all(): Promise<Record<FaultTarget, FaultSettings>>;
}

export function postgresFaults(pool: pg.Pool, options: { refreshMs?: number } = {}): Faults {
  const refreshMs = options.refreshMs ?? 250;
  const cache = new Map<FaultTarget, { settings: FaultSettings; readAt: number }>();

  const read = async (target: FaultTarget): Promise<FaultSettings> => {
    const { rows } = await pool.query<{ settings: Partial<FaultSettings> }>(
      'SELECT settings FROM shop_faults WHERE target = $1',
      [target],
    );
    const settings = { ...noFaults, ...rows[0]?.settings };
    cache.set(target, { settings, readAt: Date.now() });
    return settings;
  };

  return {
    async get(target) {
      const cached = cache.get(target);
      if (cached && Date.now() - cached.readAt < refreshMs) return cached.settings;
      return read(target);
    },
    async set(target, settings) {
      const merged = { ...(await read(target)), ...settings };
      await pool.query(
        `INSERT INTO shop_faults (target, settings) VALUES ($1, $2)
         ON CONFLICT (target) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()`,
        [target, merged],
      );
      cache.set(target, { settings: merged, readAt: Date.now() });
      return merged;
    },
    async reset() {
      await pool.query('DELETE FROM shop_faults');
      cache.clear();
    },
    async all() {
      const entries = await Promise.all(faultTargets.map(async (target) => [target, await read(target)] as const));
      return Object.fromEntries(entries) as Record<FaultTarget, FaultSettings>;
    },
  };
}

/** Applies latency, outage and error faults; the caller handles declines itself. */
export async function applyFaults(settings: FaultSettings, what: string, signal?: AbortSignal): Promise<void> {
  if (settings.latencyMs > 0) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, settings.latencyMs);
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }
  if (settings.down) throw new ProviderUnavailableError(`${what} is down (fault switch)`);
  if (Math.random() < settings.errorRate)
    throw new ProviderUnavailableError(`${what} failed with a server error (fault switch)`);
}

/** A transient provider failure: worth retrying. */
export class ProviderUnavailableError extends Error {
  override name = 'ProviderUnavailableError';
  readonly transient = true;
}
