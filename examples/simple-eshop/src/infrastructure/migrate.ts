import { withTransaction } from '@bulwark/resilience/postgres';
import type pg from 'pg';
import schemaSql from './sql/schema.sql';

/**
 * Runs migration SQL safely at every start and from several processes: one migrates under a
 * transaction-level advisory lock named `lockName`, the others wait for it (`CREATE … IF NOT
 * EXISTS` alone can still collide in the catalog when two run at once).
 */
export async function migrateUnderShopLock(pool: pg.Pool, lockName: string, sql: string): Promise<void> {
  await withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockName]);
    await client.query(sql);
  });
}

/** Creates the shop's tables if missing. */
export async function migrateShop(pool: pg.Pool): Promise<void> {
  await migrateUnderShopLock(pool, 'simple-eshop:migrate', schemaSql);
}
