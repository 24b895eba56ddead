import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEnvelope } from '@bulwark/messaging';
import { postgresInbox, postgresOutbox } from '@bulwark/messaging/postgres';
import { describeWithServers, startTypeScriptChild, type TypeScriptChild, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { choreographyTracker, startParticipant } from '../../../src/index.js';
import { postgresParticipantStore, postgresSagaLog } from '../../../src/postgres/index.js';
import { failureOf, faultParticipants } from './fault-flow.js';
import { type FaultTransportKind, openFaultTransport } from './fault-transports.js';

const here = dirname(fileURLToPath(import.meta.url));
const flowCount = 100;
const kills = 2;

await describeWithServers(
  'choreography fault: a participant SIGKILLed and restarted mid-flow',
  ['postgres', 'redis', 'amqp'],
  (urls) => {
    let pool: pg.Pool;
    const dropped: string[] = [];
    beforeAll(() => {
      pool = new pg.Pool({ connectionString: urls.postgres, max: 10 });
    });
    afterAll(async () => {
      for (const table of dropped) await pool.query(`DROP TABLE IF EXISTS ${table} CASCADE`).catch(() => {});
      await pool.end();
    });

    const transports: Record<FaultTransportKind, string> = {
      postgres: urls.postgres,
      'redis-streams': urls.redis,
      rabbitmq: urls.amqp,
    };

    describe.each(Object.entries(transports) as [FaultTransportKind, string][])('%s', (kind, url) => {
      it('ends every flow completed or compensated, each step applied exactly once', async () => {
        const names = {
          transport: uniqueName('chor_transport'),
          effects: uniqueName('chor_effects'),
          inbox: uniqueName('chor_inbox'),
          outbox: uniqueName('chor_outbox'),
          log: uniqueName('chor_log'),
        };
        dropped.push(
          `"${names.effects}"`,
          `"${names.inbox}"`,
          `"${names.outbox}"`,
          `"${names.outbox}_relay"`,
          `"${names.log}"`,
          `"${names.log}_entries"`,
          `"${names.transport}"`,
        );
        await pool.query(
          `CREATE TABLE "${names.effects}" (flow_id text NOT NULL, participant text NOT NULL, kind text NOT NULL,
               executions integer NOT NULL, PRIMARY KEY (flow_id, participant, kind))`,
        );
        const inbox = postgresInbox(pool, { table: names.inbox });
        const outbox = postgresOutbox(pool, { table: names.outbox });
        const log = postgresSagaLog(pool, { table: names.log });
        await Promise.all([inbox.migrate(), outbox.migrate(), log.migrate()]);
        const { transport, close } = await openFaultTransport({ kind, url, name: names.transport }, pool);
        const { inventory, shipping, flow } = faultParticipants(names.effects);
        const tracker = choreographyTracker({ log, transport, flows: [flow], checkEveryMs: false });
        const store = postgresParticipantStore({ inbox, outbox });
        const consumeOptions = { concurrency: 8, retry: [50, 200, 500] };
        const running = [
          await startParticipant(transport, inventory, { store, consume: consumeOptions }),
          await startParticipant(transport, shipping, { store, consume: consumeOptions }),
        ];
        await tracker.start();
        const relay = outbox.relay({ transport, pollIntervalMs: 50 });

        const startChild = () =>
          startTypeScriptChild(join(here, 'fault-child.ts'), {
            env: {
              DATABASE_URL: urls.postgres,
              TRANSPORT_KIND: kind,
              TRANSPORT_URL: url,
              TRANSPORT_NAME: names.transport,
              EFFECTS_TABLE: names.effects,
              INBOX_TABLE: names.inbox,
              OUTBOX_TABLE: names.outbox,
            },
          });
        const kill = async (process: TypeScriptChild) => {
          process.child.kill('SIGKILL');
          await process.exited;
        };

        let child = startChild();
        try {
          await child.ready;
          // The orders are written through the outbox, as a shop would in its own transaction.
          const flowIds: string[] = [];
          for (let orderNumber = 0; orderNumber < flowCount; orderNumber++) {
            const id = randomUUID();
            flowIds.push(id);
            await outbox.add(pool, [
              createEnvelope({ id, topic: 'order.placed', type: 'order.placed', payload: { orderNumber } }),
            ]);
          }
          // SIGKILL the payment participant while the flows run, and start it again each time.
          for (let round = 0; round < kills; round++) {
            await new Promise((resolve) => setTimeout(resolve, 400));
            await kill(child);
            child = startChild();
            await child.ready;
          }
          const deadline = Date.now() + 90_000;
          let statuses: string[] = [];
          while (Date.now() < deadline) {
            const rows = await pool.query<{ status: string }>(`SELECT status FROM "${names.log}"`);
            statuses = rows.rows.map((row) => row.status);
            if (
              statuses.length === flowCount &&
              statuses.every((status) => status === 'completed' || status === 'compensated')
            )
              break;
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
          expect(statuses).toHaveLength(flowCount);

          const effects = await pool.query<{ flow_id: string; participant: string; kind: string; executions: number }>(
            `SELECT flow_id, participant, kind, executions FROM "${names.effects}"`,
          );
          // Nothing doubled: the inbox record commits with the effect and the emitted event.
          expect(effects.rows.filter((row) => row.executions !== 1)).toEqual([]);
          const done = new Set(effects.rows.map((row) => `${row.flow_id}:${row.participant}:${row.kind}`));
          const expectedStatus: Record<string, string> = {};
          for (const [orderNumber, flowId] of flowIds.entries()) {
            const failure = failureOf(orderNumber);
            const record = await tracker.get(flowId);
            expectedStatus[flowId] = failure ? 'compensated' : 'completed';
            if (record?.status !== expectedStatus[flowId]) {
              const history = await tracker.history(flowId);
              const lines = history.map((entry) => `${entry.kind} ${entry.step ?? ''}`);
              expect({ flowId, orderNumber, status: record?.status, lines }).toEqual({
                flowId,
                orderNumber,
                status: expectedStatus[flowId],
                lines,
              });
            }
            // Nothing lost: every step ran, and every undo the failure called for.
            expect(done.has(`${flowId}:inventory:do`)).toBe(true);
            expect(done.has(`${flowId}:payment:do`)).toBe(failure !== 'payment');
            expect(done.has(`${flowId}:shipping:do`)).toBe(failure === undefined);
            expect(done.has(`${flowId}:inventory:undo`)).toBe(failure !== undefined);
            expect(done.has(`${flowId}:payment:undo`)).toBe(failure === 'shipping');
          }
          const sample = flowIds[3] as string; // order 3: shipping fails
          const timeline = (await tracker.history(sample)).map(
            (entry) => `${entry.kind}${entry.step ? ` ${entry.step}` : ''}`,
          );
          expect(timeline).toContain('step-failed shipping');
          expect(timeline.at(-1)).toBe('saga-compensated');
        } finally {
          await kill(child).catch(() => {});
          await relay.close();
          for (const participant of running) await participant.close();
          await tracker.close();
          await close();
        }
      }, 180_000);
    });
  },
);
