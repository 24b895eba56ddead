import { withTransaction } from '@bulwark/resilience/postgres';
import type pg from 'pg';
import schemaSql from './sql/schema.sql';

/**
 * Creates the shop's tables if missing; safe at every start and from several processes: one
 * migrates under a transaction-level advisory lock, the others wait for it (`CREATE … IF NOT
 * EXISTS` alone can still collide in the catalog when two run at once).
 */
export async function migrateShop(pool: pg.Pool): Promise<void> {
  await withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['simple-eshop:migrate']);
    await client.query(schemaSql);
  });
}
