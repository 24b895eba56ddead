import { consume, createEnvelope, memoryTransport } from '@bulwark/messaging';
import { postgresOutbox } from '@bulwark/messaging/postgres';
import pg from 'pg';

const prefix = process.env.EXAMPLE_PREFIX ?? 'shop'; // table names: one set per application (or test)
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' });
pool.on('error', (error) => console.warn('idle client error', error)); // pg would crash the process without it

await pool.query(`CREATE TABLE IF NOT EXISTS ${prefix}_orders (id text PRIMARY KEY, status text NOT NULL)`);
const outbox = postgresOutbox(pool, { table: `${prefix}_outbox` });
await outbox.migrate(); // creates the tables if missing: safe at every start

// The message is written in the same transaction as the change that causes it.
async function placeOrder(orderId: string, fail = false): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${prefix}_orders (id, status) VALUES ($1, 'placed')`, [orderId]);
    await outbox.add(
      client,
      createEnvelope({ topic: 'orders', type: 'order.placed', key: orderId, payload: { orderId } }),
    );
    if (fail) throw new Error('payment details invalid');
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK'); // the order and its message vanish together
    throw error;
  } finally {
    client.release();
  }
}

// Any transport; the relay only publishes. Start one relay per process: one leads, the others stand by.
const transport = memoryTransport();
const received: string[] = [];
const consumer = await consume<{ orderId: string }>(transport, {
  topic: 'orders',
  group: 'billing',
  handler: (message) => void received.push(message.payload.orderId),
});
const relay = outbox.relay({ transport });

await placeOrder('o-1');
await placeOrder('o-2', true).catch((error: unknown) => console.log(`rolled back: ${(error as Error).message}`));
await placeOrder('o-3');

while (received.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
console.log(`published: ${received.join(', ')}`);
// Rows are deleted once the transport accepted them; lag() reads the table, for dashboards.
while ((await outbox.lag()).pending > 0) await new Promise((resolve) => setTimeout(resolve, 10));
console.log(`role: ${relay.snapshot().role}, pending: ${(await outbox.lag()).pending}`);

await relay.close();
await consumer.close();
await transport.close();
await pool.end();
// rolled back: payment details invalid
// published: o-1, o-3
// role: leader, pending: 0
