import { createEnvelope, type Transport } from '@bulwark/messaging';
import { postgresTransport } from '@bulwark/messaging/postgres';
import { defineSaga, sagaOrchestrator } from '@bulwark/saga';
import { postgresSagaLog } from '@bulwark/saga/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

await describeWithServers('saga request steps on PostgreSQL (log and transport)', ['postgres'], ({ postgres }) => {
  const sagaTable = uniqueName('saga_request');
  const messagesTable = uniqueName('saga_request_messages');
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgres, max: 10 });
    await postgresSagaLog(pool, { table: sagaTable }).migrate();
    await postgresTransport(pool, { table: messagesTable, listen: false }).migrate();
  });
  afterAll(async () => {
    await pool.query(
      `DROP TABLE IF EXISTS "${sagaTable}", "${sagaTable}_entries", "${messagesTable}", "${messagesTable}_groups"`,
    );
    await pool.end();
  });

  const refunds: string[] = [];
  const saga = defineSaga<{ amount: number }>('pay')
    .step('reserve', { execute: () => 'r-1', compensate: ({ idempotencyKey }) => void refunds.push(idempotencyKey) })
    .request('charge', {
      send: ({ input }) => ({ topic: 'pay.commands', type: 'charge', payload: { amount: input.amount } }),
      replyTopic: 'pay.replies',
      timeoutMs: 1_500,
      accept: (reply) => reply.payload as { paymentId: string },
    });

  /** One process: its own transport instance and orchestrator on the shared tables. */
  const process = (owner: string) => {
    const transport: Transport = postgresTransport(pool, { table: messagesTable, pollIntervalMs: 50 });
    const sagas = sagaOrchestrator({
      log: postgresSagaLog(pool, { table: sagaTable }),
      sagas: [saga],
      transport,
      owner,
      leaseMs: 2_000,
      recoverEveryMs: 100,
    });
    return {
      sagas,
      close: async () => {
        await sagas.close();
        await transport.close();
      },
    };
  };

  it('a reply sent after the orchestrator process restarted resumes the saga', async () => {
    // The payment service takes the command at once but answers only once the first
    // orchestrator process is gone.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    let answered!: () => void;
    const replied = new Promise<void>((resolve) => {
      answered = resolve;
    });
    const service = postgresTransport(pool, { table: messagesTable, pollIntervalMs: 50 });
    const closing: (() => Promise<void>)[] = [() => service.close()];
    try {
      await service.subscribe('pay.commands', 'payments', async ({ message }) => {
        await gate;
        await service.publish('pay.replies', [
          createEnvelope({
            topic: 'pay.replies',
            type: 'charged',
            payload: { paymentId: `p-${(message.payload as { amount: number }).amount}` },
            causedBy: message,
          }),
        ]);
        answered();
      });
      const first = process('first');
      closing.push(first.close);
      await first.sagas.recover();
      await first.sagas.start(saga, { amount: 12 }, { id: 'restart-1' });
      const log = postgresSagaLog(pool, { table: sagaTable });
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (await log.get('restart-1'))?.wakeAt == null)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await log.get('restart-1')).toMatchObject({ status: 'running', owner: null });
      await first.close();

      openGate();
      await replied;

      const second = process('second');
      closing.push(second.close);
      await second.sagas.recover();
      const outcome = await second.sagas.wait('restart-1', { pollMs: 50 });
      expect(outcome).toMatchObject({
        status: 'completed',
        results: { reserve: 'r-1', charge: { paymentId: 'p-12' } },
      });
      const kinds = (await log.history('restart-1')).map((entry) => entry.kind);
      expect(kinds).toContain('reply-awaited');
      expect(kinds.filter((kind) => kind === 'reply-received')).toHaveLength(1);
    } finally {
      for (const close of closing.reverse()) await close().catch(() => {});
    }
  }, 30_000);

  it('with no reply, the deadline fires after a restart and the saga compensates', async () => {
    // Nobody consumes 'pay.commands' any more (the service of the first test is closed).
    const first = process('first-timeout');
    await first.sagas.recover();
    await first.sagas.start(saga, { amount: 1 }, { id: 'timeout-1' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await first.close();
    const second = process('second-timeout');
    await second.sagas.recover();
    const outcome = await second.sagas.wait('timeout-1', { pollMs: 50 });
    expect(outcome).toMatchObject({ status: 'compensated', error: { code: 'SAGA_REPLY_TIMEOUT' } });
    expect(refunds).toContain('timeout-1:reserve');
    await second.close();
  });
});
