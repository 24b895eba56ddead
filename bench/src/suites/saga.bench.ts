// A 3-step saga with trivial steps, durable on this machine's PostgreSQL, at concurrency 1 and 32.
// One operation of each subject = one whole saga (or workflow), started and awaited:
//   raw pg, intent+outcome per step   the floor named by the issue: the durable writes done by hand,
//                                     one statement each: insert the run, then per step an intent
//                                     row and an outcome row, then mark the run completed (8 writes)
//   raw pg, bulwark's 4 statements    the same SQL the bulwark log runs, issued by hand: the run and
//                                     the first intent; outcome N + intent N+1 (twice); the last
//                                     outcome + completion (4 writes): what the orchestrator costs
//   bulwark                           sagaOrchestrator + postgresSagaLog: start() then wait()
//   dbos-transact                     @dbos-inc/dbos-sdk: a registered workflow of 3 registered steps
// Every subject gets its own pool of the same size (4 at concurrency 1, 16 at 32) on the same server, and fresh tables (DBOS: a
// fresh system schema). The ratio column is each subject's ops/s over the floor's.
import { defineSaga, sagaOrchestrator } from '@bulwark/saga';
import { postgresSagaLog, postgresSagaLogSql } from '@bulwark/saga/postgres';
import pg from 'pg';
import type { BenchmarkDefinition, Subject } from '../harness.js';

const url = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const suffix = `${process.pid}_${Date.now().toString(36)}`;
const floorTable = `bench_saga_floor_${suffix}`;
const sameSqlTable = `bench_saga_same_${suffix}`;
const bulwarkTable = `bench_saga_bulwark_${suffix}`;
const dbosSchema = `bench_saga_dbos_${suffix}`;
// The server's max_connections (100) is shared with other suites and engineers: 16 connections
// per subject at concurrency 32 (callers queue for a connection alike in every subject).
let poolSize = 4;

const pools: pg.Pool[] = [];
const newPool = () => {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  pools.push(pool);
  return pool;
};
let counter = 0;
const nextId = (prefix: string) => `${prefix}-${suffix}-${counter++}`;
const trivial = (n: number) => n + 1;

async function floorSubject(): Promise<Subject> {
  const pool = newPool();
  await pool.query(`
    CREATE TABLE IF NOT EXISTS "${floorTable}" (id text PRIMARY KEY, status text NOT NULL, input jsonb NOT NULL, created_at bigint NOT NULL, updated_at bigint NOT NULL);
    CREATE TABLE IF NOT EXISTS "${floorTable}_entries" (saga_id text NOT NULL, seq integer NOT NULL, at bigint NOT NULL, kind text NOT NULL, step text, data jsonb, PRIMARY KEY (saga_id, seq));`);
  const insertRun = `INSERT INTO "${floorTable}" (id, status, input, created_at, updated_at) VALUES ($1, 'running', $2::jsonb, $3, $3)`;
  const insertEntry = `INSERT INTO "${floorTable}_entries" (saga_id, seq, at, kind, step, data) VALUES ($1, $2, $3, $4, $5, $6::jsonb)`;
  const complete = `UPDATE "${floorTable}" SET status = 'completed', updated_at = $2 WHERE id = $1`;
  return {
    run: async () => {
      const id = nextId('floor');
      let value = 1;
      await pool.query({ name: 'floor-run', text: insertRun, values: [id, JSON.stringify({ n: value }), Date.now()] });
      for (const [index, step] of ['a', 'b', 'c'].entries()) {
        await pool.query({
          name: 'floor-entry',
          text: insertEntry,
          values: [id, index * 2 + 1, Date.now(), 'step-intent', step, null],
        });
        value = trivial(value);
        await pool.query({
          name: 'floor-entry',
          text: insertEntry,
          values: [id, index * 2 + 2, Date.now(), 'step-completed', step, JSON.stringify(value)],
        });
      }
      await pool.query({ name: 'floor-complete', text: complete, values: [id, Date.now()] });
    },
  };
}

async function sameSqlSubject(): Promise<Subject> {
  const pool = newPool();
  await postgresSagaLog(pool, { table: sameSqlTable }).migrate();
  const sql = postgresSagaLogSql({ table: sameSqlTable });
  const entry = (kind: string, step?: string, data?: unknown) => ({ at: Date.now(), kind, step, data });
  const append = (id: string, entries: unknown[], status: string | null, release: boolean) => {
    const now = Date.now();
    return pool.query({
      name: 'same-append',
      text: sql.append,
      values: [id, 'owner', status, release, now + 30_000, null, now, JSON.stringify(entries)],
    });
  };
  return {
    run: async () => {
      const id = nextId('same');
      const now = Date.now();
      await pool.query({
        name: 'same-create',
        text: sql.create,
        values: [
          id,
          'bench',
          JSON.stringify({ n: 1 }),
          'owner',
          now + 30_000,
          now,
          JSON.stringify([entry('saga-started'), entry('step-intent', 'a')]),
        ],
      });
      const a = trivial(1);
      await append(id, [entry('step-completed', 'a', a), entry('step-intent', 'b')], null, false);
      const b = trivial(a);
      await append(id, [entry('step-completed', 'b', b), entry('step-intent', 'c')], null, false);
      const c = trivial(b);
      await append(id, [entry('step-completed', 'c', c), entry('saga-completed')], 'completed', true);
    },
  };
}

const benchSaga = defineSaga<{ n: number }>('bench')
  .step('a', { execute: ({ input }) => trivial(input.n) })
  .step('b', { execute: ({ results }) => trivial(results.a) })
  .step('c', { execute: ({ results }) => trivial(results.b) });
let closeBulwark: (() => Promise<void>) | undefined;

async function bulwarkSubject(): Promise<Subject> {
  const pool = newPool();
  const log = postgresSagaLog(pool, { table: bulwarkTable });
  await log.migrate();
  const sagas = sagaOrchestrator({ log, sagas: [benchSaga], recoverEveryMs: false });
  closeBulwark = () => sagas.close();
  return {
    run: async () => {
      const id = nextId('bulwark');
      await sagas.start(benchSaga, { n: 1 }, { id });
      const outcome = await sagas.wait(id);
      if (outcome.status !== 'completed') throw new Error(`saga ${id} ended ${outcome.status}`);
    },
  };
}

type DbosModule = typeof import('@dbos-inc/dbos-sdk');
let dbos: { module: DbosModule; workflow: (n: number) => Promise<number> } | undefined;
let dbosRegistered: ((n: number) => Promise<number>) | undefined;

async function dbosSubject(): Promise<Subject> {
  // Imported here so the other suites never load DBOS.
  const module: DbosModule = await import('@dbos-inc/dbos-sdk');
  const { DBOS } = module;
  if (!dbosRegistered) {
    const stepA = DBOS.registerStep(async (n: number) => trivial(n), { name: 'a' });
    const stepB = DBOS.registerStep(async (n: number) => trivial(n), { name: 'b' });
    const stepC = DBOS.registerStep(async (n: number) => trivial(n), { name: 'c' });
    dbosRegistered = DBOS.registerWorkflow(async (n: number) => stepC(await stepB(await stepA(n))), {
      name: 'three-steps',
    });
  }
  if (!dbos) {
    DBOS.setConfig({
      name: 'bulwark-bench',
      systemDatabaseUrl: url,
      systemDatabaseSchemaName: dbosSchema,
      systemDatabasePoolSize: poolSize,
      logLevel: 'error',
    });
    await DBOS.launch();
    dbos = { module, workflow: dbosRegistered };
  }
  const workflow = dbos.workflow;
  return {
    run: async () => {
      if ((await workflow(1)) !== 4) throw new Error('DBOS workflow returned a wrong result');
    },
  };
}

async function teardown(): Promise<void> {
  await closeBulwark?.();
  closeBulwark = undefined;
  if (dbos) {
    await dbos.module.DBOS.shutdown();
    dbos = undefined;
  }
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  await pool.query(
    `DROP TABLE IF EXISTS "${floorTable}", "${floorTable}_entries", "${sameSqlTable}", "${sameSqlTable}_entries", "${bulwarkTable}", "${bulwarkTable}_entries";
     DROP SCHEMA IF EXISTS "${dbosSchema}" CASCADE;`,
  );
  await pool.end();
  await Promise.all(pools.splice(0).map((pool) => pool.end()));
}

const subjects = {
  'raw pg, intent+outcome per step (floor)': floorSubject,
  "raw pg, bulwark's 4 statements": sameSqlSubject,
  bulwark: bulwarkSubject,
  'dbos-transact': dbosSubject,
};

const definitions: BenchmarkDefinition[] = [
  {
    name: 'saga.3-steps.c1',
    description: '3-step saga, trivial steps, durable on PostgreSQL, one caller (ops = sagas)',
    mode: { kind: 'op' },
    operations: 150,
    rounds: 5,
    baseline: 'raw pg, intent+outcome per step (floor)',
    setup: async () => {
      poolSize = 4;
    },
    subjects,
    teardown,
  },
  {
    name: 'saga.3-steps.c32',
    description: '3-step saga, trivial steps, durable on PostgreSQL, 32 concurrent callers (ops = sagas)',
    mode: { kind: 'concurrent', concurrency: 32 },
    operations: 1_000,
    rounds: 5,
    baseline: 'raw pg, intent+outcome per step (floor)',
    setup: async () => {
      poolSize = 16;
    },
    subjects,
    teardown,
  },
];
export default definitions;
