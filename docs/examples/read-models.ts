import { compareCursors, eventLogStart, projection } from '@bulwark/messaging';
import { postgresEventLog, withTransaction } from '@bulwark/messaging/postgres';
import pg from 'pg';

const prefix = process.env.EXAMPLE_PREFIX ?? 'shop'; // table names: one set per application (or test)
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
pool.on('error', (error) => console.warn('idle client error', error)); // pg would crash the process without it

const log = postgresEventLog(pool, { table: `${prefix}_events` });
await log.migrate(); // the event table and the projections' checkpoint table, if missing

// The write side: the command changes its own table and appends what happened, in one transaction.
async function placeOrder(orderId: string, total: number): Promise<void> {
  await withTransaction(pool, async (client) => {
    await client.query(`CREATE TABLE IF NOT EXISTS ${prefix}_sales (id text PRIMARY KEY, total int NOT NULL)`);
    await client.query(`INSERT INTO ${prefix}_sales (id, total) VALUES ($1, $2)`, [orderId, total]);
    await log.append(client, { stream: `order-${orderId}`, type: 'order.placed', data: { orderId, total } });
  });
}
async function shipOrder(orderId: string): Promise<void> {
  await withTransaction(pool, (client) =>
    log.append(client, { stream: `order-${orderId}`, type: 'order.shipped', data: { orderId } }),
  );
}

// The read side: a table shaped for the query, kept by a projection. Each batch of events, the
// rows it writes and the projection's checkpoint commit together: every event is applied once.
const history = projection({
  name: 'order-history',
  source: log,
  pollIntervalMs: 50,
  readModel: {
    table: `${prefix}_order_history`,
    // Also called for the fresh table of a rebuild: name everything after `table`.
    async create({ executor, table }) {
      await executor.query(
        `CREATE TABLE IF NOT EXISTS ${table} (order_id text PRIMARY KEY, total int NOT NULL, status text NOT NULL)`,
      );
    },
  },
  async handle(events, { executor, table }) {
    for (const event of events) {
      const data = event.data as { orderId: string; total?: number };
      if (event.type === 'order.placed')
        await executor.query(`INSERT INTO ${table} (order_id, total, status) VALUES ($1, $2, 'placed')`, [
          data.orderId,
          data.total,
        ]);
      if (event.type === 'order.shipped')
        await executor.query(`UPDATE ${table} SET status = 'shipped' WHERE order_id = $1`, [data.orderId]);
    }
  },
});

await placeOrder('o-1', 30);
await placeOrder('o-2', 45);
await shipOrder('o-1');

// Queries read the read model, never the write side. It is eventually consistent: to read your own
// writes, wait until the projection has passed the last event you appended.
const [lastEvent] = (await log.readStream('order-o-1')).slice(-1);
const caughtUp = async () => {
  while (compareCursors(history.snapshot().checkpoint ?? eventLogStart, lastEvent ?? eventLogStart) < 0)
    await new Promise((resolve) => setTimeout(resolve, 20));
};
await caughtUp();
const query = async () =>
  (await pool.query(`SELECT order_id, status FROM ${prefix}_order_history ORDER BY order_id`)).rows
    .map((row) => `${row.order_id} ${row.status}`)
    .join(', ');
console.log(`orders: ${await query()}`);

// A bug in a handler, or a new column: rebuild from the log into a fresh table, then swap.
await pool.query(`UPDATE ${prefix}_order_history SET status = 'lost'`);
await history.rebuild();
await caughtUp();
console.log(`after rebuild: ${await query()}`);

const snapshot = history.snapshot();
console.log(`state: ${snapshot.state}, lag: ${snapshot.lagEvents ?? 0} events`);

await history.close();
await log.close();
await pool.end();
// orders: o-1 shipped, o-2 placed
// after rebuild: o-1 shipped, o-2 placed
// state: running, lag: 0 events
