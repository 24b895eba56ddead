import { migrateUnderLock } from '@bulwark/resilience/postgres';
import type pg from 'pg';
import schemaSql from './sql/schema.sql';

/**
 * Creates the shop's tables if missing; safe at every start and from several processes (one
 * migrates, the others wait for its lock), like the migrate() of every Bulwark adapter.
 */
export async function migrateShop(pool: pg.Pool): Promise<void> {
  await migrateUnderLock(pool, 'simple-eshop:migrate', schemaSql);
}
