import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { postgresSagaLog } from '@bulwark/saga/postgres';
import { describeWithServers, startTypeScriptChild, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { faultPlan, faultSteps } from './saga-fault-plan.js';

const here = dirname(fileURLToPath(import.meta.url));
const sagaCount = 1_000;
const kills = 6;

/** A seeded PRNG (mulberry32) so a failing schedule can be replayed with its seed. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

await describeWithServers('saga fault: SIGKILLed orchestrator on PostgreSQL', ['postgres'], ({ postgres }) => {
  const sagaTable = uniqueName('saga_fault');
  const effectsTable = uniqueName('saga_fault_effects');
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgres, max: 4 });
    await postgresSagaLog(pool, { table: sagaTable }).migrate();
    await pool.query(
      `CREATE TABLE "${effectsTable}" (key text NOT NULL, kind text NOT NULL, executions integer NOT NULL, PRIMARY KEY (key, kind))`,
    );
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${sagaTable}", "${sagaTable}_entries", "${effectsTable}"`);
    await pool.end();
  });

  const startChild = (owner: string) =>
    startTypeScriptChild(join(here, 'saga-fault-child.ts'), {
      env: {
        DATABASE_URL: postgres,
        SAGA_TABLE: sagaTable,
        EFFECTS_TABLE: effectsTable,
        SAGA_COUNT: String(sagaCount),
        OWNER: owner,
      },
    });

  const unfinished = async () =>
    Number(
      (
        await pool.query<{ count: string }>(
          `SELECT count(*) FROM "${sagaTable}" WHERE status IN ('running', 'compensating')`,
        )
      ).rows[0]?.count,
    );

  it(`${sagaCount} sagas of 3 steps, the orchestrator SIGKILLed ${kills} times: each ends as planned, no effect applied twice, none stuck`, async () => {
    const seed = Date.now() >>> 0;
    const next = random(seed);
    let killedWithWorkLeft = 0;
    let child: ChildProcess | undefined;
    try {
      for (let incarnation = 0; incarnation < kills; incarnation++) {
        const process = startChild(`fault-${incarnation}`);
        child = process.child;
        await process.ready;
        await new Promise((resolve) => setTimeout(resolve, 50 + next() * 700));
        const left = await unfinished();
        process.child.kill('SIGKILL');
        await process.exited;
        if (left > 0) killedWithWorkLeft += 1;
      }
      const last = startChild('fault-final');
      child = last.child;
      await last.ready;
      const deadline = Date.now() + 35_000;
      let submitted = false;
      last.child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('submitted')) submitted = true;
      });
      while (Date.now() < deadline && (!submitted || (await unfinished()) > 0))
        await new Promise((resolve) => setTimeout(resolve, 200));
      last.child.kill('SIGTERM');
      const forced = setTimeout(() => last.child.kill('SIGKILL'), 5_000);
      await last.exited;
      clearTimeout(forced);
      expect(last.errors(), `seed ${seed}`).toBe('');
    } finally {
      child?.kill('SIGKILL');
    }

    const runs = (await pool.query<{ id: string; status: string }>(`SELECT id, status FROM "${sagaTable}"`)).rows;
    expect(runs, `seed ${seed}`).toHaveLength(sagaCount);
    const effects = (
      await pool.query<{ key: string; kind: string; executions: number }>(
        `SELECT key, kind, executions FROM "${effectsTable}"`,
      )
    ).rows;
    const applied = new Set(effects.filter((row) => row.kind === 'do').map((row) => row.key));
    const undone = new Set(effects.filter((row) => row.kind === 'undo').map((row) => row.key));
    const statuses: Record<string, number> = {};
    const mismatches: string[] = [];
    let expectedEffects = 0;
    let expectedUndos = 0;
    for (const run of runs) {
      statuses[run.status] = (statuses[run.status] ?? 0) + 1;
      const plan = faultPlan(run.id);
      const completedSteps = plan.failAt ?? faultSteps.length;
      const stuck = plan.failAt !== undefined && plan.failAt > 0 && plan.stuckFirstCompensation;
      const expected = plan.failAt === undefined ? 'completed' : stuck ? 'failed' : 'compensated';
      if (run.status !== expected) mismatches.push(`${run.id}: ${run.status}, expected ${expected}`);
      for (const [index, step] of faultSteps.entries()) {
        const key = `${run.id}:${step}`;
        const shouldApply = index < completedSteps;
        const shouldUndo = expected !== 'completed' && shouldApply && !(stuck && index === 0);
        if (applied.has(key) !== shouldApply) mismatches.push(`${key}: applied ${applied.has(key)}`);
        if (undone.has(key) !== shouldUndo) mismatches.push(`${key}: undone ${undone.has(key)}`);
        expectedEffects += shouldApply ? 1 : 0;
        expectedUndos += shouldUndo ? 1 : 0;
      }
    }
    expect(mismatches.slice(0, 10), `seed ${seed}`).toEqual([]);
    // Unique (key, kind) rows: every effect exists once, under the stable key `<sagaId>:<step>`.
    expect(applied.size).toBe(expectedEffects);
    expect(undone.size).toBe(expectedUndos);
    expect(statuses.running ?? 0).toBe(0);
    expect(statuses.compensating ?? 0).toBe(0);
    expect(statuses.failed ?? 0).toBeGreaterThan(0);
    expect(statuses.compensated).toBeGreaterThan(0);
    expect(killedWithWorkLeft).toBeGreaterThan(0);
    // The log itself stayed consistent through the kills: one outcome per step and per
    // compensation, and every run closed by its final entry.
    const duplicated = await pool.query(
      `SELECT saga_id, kind, step, count(*) FROM "${sagaTable}_entries"
       WHERE kind IN ('step-intent', 'step-completed', 'step-failed', 'step-compensated', 'compensation-intent')
       GROUP BY saga_id, kind, step HAVING count(*) > 1 LIMIT 5`,
    );
    expect(duplicated.rows, `seed ${seed}`).toEqual([]);
    const closed = await pool.query<{ count: string }>(
      `SELECT count(DISTINCT saga_id) AS count FROM "${sagaTable}_entries"
       WHERE kind IN ('saga-completed', 'saga-compensated', 'saga-failed')`,
    );
    expect(Number(closed.rows[0]?.count)).toBe(sagaCount);
    const reruns = effects.filter((row) => row.executions > 1).length;
    console.log(
      `saga fault (seed ${seed}): ${JSON.stringify(statuses)}, ${killedWithWorkLeft}/${kills} kills hit unfinished work, ${reruns} effects re-executed with the same key after a kill`,
    );
  }, 60_000);
});
