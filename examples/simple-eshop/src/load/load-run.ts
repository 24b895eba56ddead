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
  /**
   * Runs beside the traffic once every shopper has logged in (the chaos run cuts connections and
   * restarts servers here); the books are checked after it and the traffic have both ended.
   */
  alongside?: () => Promise<void>;
}

export interface LoadReport {
  orders: {
    placed: number;
    confirmed: number;
    cancelled: number;
    pending: number;
    perSecond: number;
    /** Order requests answered 5xx (or 409: still in flight) and sent again with the same key. */
    retried: number;
    /** Cancelled orders by reason (ids masked, cut at 120 characters). */
    cancelledBecause: Record<string, number>;
  };
  latencyMs: { browseP50: number; browseP99: number; orderP50: number; orderP99: number };
  /**
   * Lost: accepted orders missing from the books, confirmed orders without their email.
   * Doubled: keys ordered twice, orders captured or refunded twice.
   */
  books: { lost: number; doubled: number };
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
      // A shop that stops answering fails the run instead of hanging it.
      signal: AbortSignal.timeout(30_000),
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
  let retried = 0;
  const accepted: string[] = [];
  const run = Date.now().toString(36);
  // The traffic's duration counts from the moment every shopper has logged in: registering hashes
  // a password per shopper, which takes seconds on a busy machine.
  let stopAt = Number.POSITIVE_INFINITY;
  let trafficStarted = Date.now();
  let loggedIn = 0;
  let allLoggedIn: () => void = () => {};
  const everyoneLoggedIn = new Promise<void>((resolve) => {
    allLoggedIn = () => {
      trafficStarted = Date.now();
      stopAt = trafficStarted + durationMs;
      resolve();
    };
  });

  const shopper = async (index: number) => {
    const email = `load-${run}-${index}@example.com`;
    await call('POST', '/api/users', { body: { username: `load_${run}_${index}`, email, password: 'load-password' } });
    const token = await login(email, 'load-password');
    loggedIn += 1;
    if (loggedIn === shoppers) allLoggedIn();
    await everyoneLoggedIn;
    for (let round = 0; Date.now() < stopAt; round++) {
      let started = performance.now();
      await (await call('GET', '/api/products')).arrayBuffer();
      browse.push(performance.now() - started);
      const items = [0, 1, 2]
        .map((offset) => products[(index * 7 + round * 3 + offset) % products.length] as string)
        .filter((id, position, all) => all.indexOf(id) === position)
        .map((productId) => ({ productId, quantity: 1 + ((index + round) % 2) }));
      await (await call('PUT', '/api/cart', { token, body: { items } })).arrayBuffer();
      // A client retries a failed order with the same key, as the Idempotency-Key draft asks;
      // the key also goes into the order's note, so the books show any key ordered twice.
      const key = `${run}-${index}-${round}`;
      started = performance.now();
      let response = await call('POST', '/api/orders', {
        token,
        body: { note: key },
        headers: { 'idempotency-key': key },
      });
      for (let attempt = 1; attempt < 6 && (response.status >= 500 || response.status === 409); attempt++) {
        await response.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
        retried += 1;
        response = await call('POST', '/api/orders', {
          token,
          body: { note: key },
          headers: { 'idempotency-key': key },
        });
      }
      ordering.push(performance.now() - started);
      if (response.status === 202) {
        placed += 1;
        accepted.push(((await response.json()) as { id: string }).id);
      } else {
        await response.arrayBuffer();
      }
    }
  };
  const alongside = everyoneLoggedIn.then(() => options.alongside?.());
  const traffic = Promise.all(Array.from({ length: shoppers }, (_, index) => shopper(index))).then(
    () => (Date.now() - trafficStarted) / 1000,
  );
  const [trafficSeconds] = await Promise.all([traffic, alongside]);

  const books = await checkBooks({
    pool: options.pool,
    call,
    adminToken: admin,
    settleTimeoutMs: options.settleTimeoutMs,
    accepted,
    notePrefix: run,
  });

  return {
    orders: {
      placed,
      confirmed: books.confirmed,
      cancelled: books.cancelled,
      pending: books.pending,
      perSecond: placed / trafficSeconds,
      retried,
      cancelledBecause: books.cancelledBecause,
    },
    latencyMs: {
      browseP50: percentile(browse, 50),
      browseP99: percentile(browse, 99),
      orderP50: percentile(ordering, 50),
      orderP99: percentile(ordering, 99),
    },
    books: { lost: books.lost, doubled: books.doubled },
    requests,
    errors5xx,
    invariants: books.invariants,
  };
}
