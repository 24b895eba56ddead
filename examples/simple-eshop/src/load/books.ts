// The shop's books after traffic: once faults clear, every order must end, stock must add up,
// captures and refunds must match the orders, and dead letters must drain. The load run and the
// fuzz test both check them.
import type pg from 'pg';

/** Each invariant by name: whether it holds, and what was found. */
export type BookInvariants = Record<string, { ok: boolean; detail: string }>;

export interface CheckBooksOptions {
  /** The shop's database. */
  pool: pg.Pool;
  /** Calls the shop's API with JSON in and out. */
  call(method: string, path: string, init?: { body?: unknown; token?: string }): Promise<Response>;
  /** A signed-in admin's token, for the ops endpoints. */
  adminToken: string;
  /** How long to wait for every order to end. @defaultValue 60000 */
  settleTimeoutMs?: number | undefined;
  /** Ids of the orders the shop accepted (202): each must be in the books. */
  accepted?: readonly string[];
  /** The prefix of the notes (Idempotency-Keys) of this run's orders: one order per key. */
  notePrefix?: string;
}

export interface Books {
  confirmed: number;
  cancelled: number;
  pending: number;
  /** Cancelled orders by reason (ids masked, first 120 characters). */
  cancelledBecause: Record<string, number>;
  /** Accepted orders missing, and confirmation emails missing. */
  lost: number;
  /** Orders placed twice for one key, captures and refunds made twice. */
  doubled: number;
  invariants: BookInvariants;
}

/** Clears the faults, waits for every order to end, replays dead letters, then checks the books. */
export async function checkBooks(options: CheckBooksOptions): Promise<Books> {
  const call = options.call;
  const admin = options.adminToken;
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
  const cancelledBecause = Object.fromEntries(
    (
      await options.pool.query<{ reason: string; n: number }>(
        `SELECT left(regexp_replace(coalesce(reason, ''), '[0-9a-f]{8}-[0-9a-f-]{27}', '<id>', 'g'), 120) AS reason, count(*)::int AS n FROM shop_orders
          WHERE status = 'cancelled' GROUP BY 1 ORDER BY 2 DESC`,
      )
    ).rows.map((row) => [row.reason, row.n]),
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
    [options.accepted ?? []],
  );
  const keysOrderedTwice = options.notePrefix
    ? await options.pool.query('SELECT note FROM shop_orders WHERE note LIKE $1 GROUP BY note HAVING count(*) > 1', [
        `${options.notePrefix}-%`,
      ])
    : { rowCount: 0 };
  const confirmedWithoutCapture = await options.pool.query(
    `SELECT o.id FROM shop_orders o WHERE o.status = 'confirmed'
      AND NOT EXISTS (SELECT 1 FROM provider_payments p WHERE p.order_id = o.id::text AND p.operation = 'capture')`,
  );

  return {
    confirmed: counts.confirmed ?? 0,
    cancelled: counts.cancelled ?? 0,
    pending: counts.pending ?? 0,
    cancelledBecause,
    lost: (acceptedMissing.rowCount ?? 0) + (emails.rows[0]?.missing ?? 0),
    doubled: (keysOrderedTwice.rowCount ?? 0) + (doubleCaptures.rowCount ?? 0) + (doubleRefunds.rowCount ?? 0),
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
