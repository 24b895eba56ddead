import type pg from 'pg';
import schemaSql from './sql/schema.sql';

/** Creates the shop's tables if missing; safe at every start and from several processes. */
export async function migrateShop(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    // Several processes may start at once: one migrates, the others wait for it.
    await client.query('SELECT pg_advisory_lock(hashtext($1))', ['simple-eshop:migrate']);
    await client.query(schemaSql);
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', ['simple-eshop:migrate']).catch(() => {});
    client.release();
  }
}
