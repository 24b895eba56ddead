// Drives mixed traffic at a running shop with faults switched on, then clears the faults and
// checks the shop's books: every order ended, stock adds up, captures and refunds match.
import type pg from 'pg';

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
  invariants: Record<string, { ok: boolean; detail: string }>;
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

  // Faults clear; everything in flight must now end, and dead letters go back out.
  await call('POST', '/ops/faults', { token: admin, body: { reset: true } });
  const settleDeadline = Date.now() + (options.settleTimeoutMs ?? 60_000);
  let pending = 1;
  while (Date.now() < settleDeadline) {
    pending = (await options.pool.query("SELECT count(*)::int AS n FROM shop_orders WHERE status = 'pending'")).rows[0]
      .n;
    if (pending === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  let deadLetters = 0;
  for (let attempt = 0; attempt < 40; attempt++) {
    await call('POST', '/ops/dlq/replay', { token: admin, body: {} });
    await new Promise((resolve) => setTimeout(resolve, 250));
    deadLetters = ((await (await call('GET', '/ops/dlq', { token: admin })).json()) as unknown[]).length;
    if (deadLetters === 0) break;
  }
  // Confirmation emails follow their orders through the outbox, the transport and the email
  // consumer (and its retries): wait for them as for the orders.
  const missingEmails = async () =>
    (
      await options.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM shop_orders o WHERE o.status = 'confirmed'
          AND NOT EXISTS (SELECT 1 FROM shop_mail m WHERE m.message_id = 'order-confirmed:' || o.id)`,
      )
    ).rows[0]?.n ?? 0;
  while ((await missingEmails()) > 0 && Date.now() < settleDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }

  const sagaCounts = (
    (await (await call('GET', '/ops/status', { token: admin })).json()) as { sagas: Record<string, number> }
  ).sagas;
  const counts = Object.fromEntries(
    (
      await options.pool.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM shop_orders GROUP BY status',
      )
    ).rows.map((row) => [row.status, row.n]),
  ) as Record<string, number>;
  const cancelledBecause = Object.fromEntries(
    (
      await options.pool.query<{ reason: string; n: number }>(
        `SELECT left(regexp_replace(coalesce(reason, ''), '[0-9a-f]{8}-[0-9a-f-]{27}', '<id>', 'g'), 120) AS reason, count(*)::int AS n FROM shop_orders
          WHERE status = 'cancelled' GROUP BY 1 ORDER BY 2 DESC`,
      )
    ).rows.map((row) => [row.reason, row.n]),
  );
  const stock = await options.pool.query<{ id: string }>(
    'SELECT id FROM shop_products WHERE stock + reserved + sold <> initial_stock OR reserved <> 0',
  );
  const capturesWithoutConfirmation = await options.pool.query(
    `SELECT p.order_id FROM provider_payments p JOIN shop_orders o ON o.id::text = p.order_id
      WHERE p.operation = 'capture' AND o.status <> 'confirmed'
        AND NOT EXISTS (SELECT 1 FROM provider_payments r WHERE r.order_id = p.order_id AND r.operation = 'refund')`,
  );
  const refundsOfConfirmed = await options.pool.query(
    `SELECT p.order_id FROM provider_payments p JOIN shop_orders o ON o.id::text = p.order_id
      WHERE p.operation = 'refund' AND o.status = 'confirmed'`,
  );
  const doubleCaptures = await options.pool.query(
    "SELECT order_id FROM provider_payments WHERE operation = 'capture' GROUP BY order_id HAVING count(*) > 1",
  );
  const doubleRefunds = await options.pool.query(
    "SELECT order_id FROM provider_payments WHERE operation = 'refund' GROUP BY order_id HAVING count(*) > 1",
  );
  const emails = await options.pool.query<{ missing: number; stray: number }>(
    `SELECT (SELECT count(*)::int FROM shop_orders o WHERE o.status = 'confirmed' AND NOT EXISTS
               (SELECT 1 FROM shop_mail m WHERE m.message_id = 'order-confirmed:' || o.id)) AS missing,
            (SELECT count(*)::int FROM shop_mail m WHERE m.message_id LIKE 'order-confirmed:%' AND NOT EXISTS
               (SELECT 1 FROM shop_orders o WHERE m.message_id = 'order-confirmed:' || o.id AND o.status = 'confirmed')) AS stray`,
  );
  const acceptedMissing = await options.pool.query<{ id: string }>(
    'SELECT id FROM unnest($1::uuid[]) AS accepted (id) WHERE NOT EXISTS (SELECT 1 FROM shop_orders o WHERE o.id = accepted.id)',
    [accepted],
  );
  const keysOrderedTwice = await options.pool.query(
    `SELECT note FROM shop_orders WHERE note LIKE $1 GROUP BY note HAVING count(*) > 1`,
    [`${run}-%`],
  );
  const confirmedWithoutCapture = await options.pool.query(
    `SELECT o.id FROM shop_orders o WHERE o.status = 'confirmed'
      AND NOT EXISTS (SELECT 1 FROM provider_payments p WHERE p.order_id = o.id::text AND p.operation = 'capture')`,
  );

  return {
    orders: {
      placed,
      confirmed: counts.confirmed ?? 0,
      cancelled: counts.cancelled ?? 0,
      pending: counts.pending ?? 0,
      perSecond: placed / trafficSeconds,
      retried,
      cancelledBecause,
    },
    latencyMs: {
      browseP50: percentile(browse, 50),
      browseP99: percentile(browse, 99),
      orderP50: percentile(ordering, 50),
      orderP99: percentile(ordering, 99),
    },
    books: {
      lost: (acceptedMissing.rowCount ?? 0) + (emails.rows[0]?.missing ?? 0),
      doubled: (keysOrderedTwice.rowCount ?? 0) + (doubleCaptures.rowCount ?? 0) + (doubleRefunds.rowCount ?? 0),
    },
    requests,
    errors5xx,
    invariants: {
      'every order confirmed or cancelled': { ok: pending === 0, detail: `${pending} pending` },
      'stock + reserved + sold = initial stock, nothing left reserved': {
        ok: stock.rowCount === 0,
        detail: `${stock.rowCount} products off`,
      },
      'a capture only for a confirmed order, else refunded': {
        ok: capturesWithoutConfirmation.rowCount === 0,
        detail: `${capturesWithoutConfirmation.rowCount} captures unrefunded`,
      },
      'no refund of a confirmed order': {
        ok: refundsOfConfirmed.rowCount === 0,
        detail: `${refundsOfConfirmed.rowCount}`,
      },
      'every confirmed order captured exactly once': {
        ok: doubleCaptures.rowCount === 0 && confirmedWithoutCapture.rowCount === 0,
        detail: `${doubleCaptures.rowCount} doubled, ${confirmedWithoutCapture.rowCount} missing`,
      },
      'nothing refunded twice': { ok: doubleRefunds.rowCount === 0, detail: `${doubleRefunds.rowCount} doubled` },
      'one confirmation email per confirmed order, none for another': {
        ok: emails.rows[0]?.missing === 0 && emails.rows[0]?.stray === 0,
        detail: `${emails.rows[0]?.missing} missing, ${emails.rows[0]?.stray} for an order not confirmed`,
      },
      'every accepted (202) order is in the books': {
        ok: acceptedMissing.rowCount === 0,
        detail: `${acceptedMissing.rowCount} lost`,
      },
      'one order per Idempotency-Key': {
        ok: keysOrderedTwice.rowCount === 0,
        detail: `${keysOrderedTwice.rowCount} keys ordered twice`,
      },
      'dead letters drained after faults clear': { ok: deadLetters === 0, detail: `${deadLetters} left` },
      'no saga left failed (a compensation that gave up)': {
        ok: (sagaCounts.failed ?? 0) === 0,
        detail: `${sagaCounts.failed ?? 0} failed`,
      },
    },
  };
}
