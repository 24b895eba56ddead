// Drives mixed traffic at a running shop with faults switched on, then clears the faults and
// checks the shop's books: every order ended, stock adds up, captures and refunds match.
import type pg from 'pg';
import { type BookInvariants, checkBooks } from './books.js';

export interface LoadOptions {
  /** The shop's base URL. */
  url: string;
  /** The shop's database, for the invariant checks. */
  pool: pg.Pool;
  admin: { email: string; password: string };
  /** How long traffic runs. @defaultValue 20000 */
  durationMs?: number;
  /** Concurrent virtual shoppers. @defaultValue 16 */
  shoppers?: number;
  /** Faults during the run (as POST /ops/faults takes them). */
  faults?: unknown[];
  /** How long to wait for every order to end after traffic stops. @defaultValue 60000 */
  settleTimeoutMs?: number;
}

export interface LoadReport {
  orders: { placed: number; confirmed: number; cancelled: number; pending: number; perSecond: number };
  latencyMs: { browseP50: number; browseP99: number; orderP50: number; orderP99: number };
  requests: number;
  errors5xx: number;
  invariants: BookInvariants;
}

const percentile = (values: number[], p: number) =>
  values.length === 0
    ? 0
    : ([...values].sort((a, b) => a - b)[
        Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)
      ] as number);

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const durationMs = options.durationMs ?? 20_000;
  const shoppers = options.shoppers ?? 16;
  let requests = 0;
  let errors5xx = 0;
  const call = async (
    method: string,
    path: string,
    init: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    const response = await fetch(`${options.url}${path}`, {
      method,
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    requests += 1;
    if (response.status >= 500) errors5xx += 1;
    return response;
  };
  const login = async (email: string, password: string) =>
    ((await (await call('POST', '/api/sessions', { body: { email, password } })).json()) as { token: string }).token;

  const admin = await login(options.admin.email, options.admin.password);
  const products = ((await (await call('GET', '/api/products')).json()) as Array<{ id: string }>).map(
    (product) => product.id,
  );
  for (const fault of options.faults ?? []) await call('POST', '/ops/faults', { token: admin, body: fault });

  const browse: number[] = [];
  const ordering: number[] = [];
  let placed = 0;
  const run = Date.now().toString(36);
  const stopAt = Date.now() + durationMs;

  const shopper = async (index: number) => {
    const email = `load-${run}-${index}@example.com`;
    await call('POST', '/api/users', { body: { username: `load_${run}_${index}`, email, password: 'load-password' } });
    const token = await login(email, 'load-password');
    for (let round = 0; Date.now() < stopAt; round++) {
      let started = performance.now();
      await (await call('GET', '/api/products')).arrayBuffer();
      browse.push(performance.now() - started);
      const items = [0, 1, 2]
        .map((offset) => products[(index * 7 + round * 3 + offset) % products.length] as string)
        .filter((id, position, all) => all.indexOf(id) === position)
        .map((productId) => ({ productId, quantity: 1 + ((index + round) % 2) }));
      await (await call('PUT', '/api/cart', { token, body: { items } })).arrayBuffer();
      started = performance.now();
      const response = await call('POST', '/api/orders', {
        token,
        body: {},
        headers: { 'idempotency-key': `${run}-${index}-${round}` },
      });
      ordering.push(performance.now() - started);
      if (response.status === 202) placed += 1;
      await response.arrayBuffer();
    }
  };
  const trafficStarted = Date.now();
  await Promise.all(Array.from({ length: shoppers }, (_, index) => shopper(index)));
  const trafficSeconds = (Date.now() - trafficStarted) / 1000;

  const books = await checkBooks({
    pool: options.pool,
    call,
    adminToken: admin,
    settleTimeoutMs: options.settleTimeoutMs,
  });

  return {
    orders: {
      placed,
      confirmed: books.confirmed,
      cancelled: books.cancelled,
      pending: books.pending,
      perSecond: placed / trafficSeconds,
    },
    latencyMs: {
      browseP50: percentile(browse, 50),
      browseP99: percentile(browse, 99),
      orderP50: percentile(ordering, 50),
      orderP99: percentile(ordering, 99),
    },
    requests,
    errors5xx,
    invariants: books.invariants,
  };
}
