// The order flow of choreography.fault.test.ts: participants on PostgreSQL that record their
// effects in a table (one row per flow, participant and kind, with an execution counter), so
// the test can tell a lost or doubled step from a correct one.
import type { PoolClient } from 'pg';
import { defineChoreography, defineParticipant } from '../../../src/index.js';

/** Which step fails for an order, from its number: known to every process. */
export const failureOf = (orderNumber: number): 'payment' | 'shipping' | undefined =>
  orderNumber % 5 === 1 ? 'payment' : orderNumber % 7 === 3 ? 'shipping' : undefined;

interface Order {
  readonly orderNumber: number;
}

export function faultParticipants(effectsTable: string) {
  const effects = `"${effectsTable}"`;
  const record = (client: PoolClient, flowId: string, participant: string, kind: 'do' | 'undo') =>
    client.query(
      `INSERT INTO ${effects} (flow_id, participant, kind, executions) VALUES ($1, $2, $3, 1)
       ON CONFLICT (flow_id, participant, kind) DO UPDATE SET executions = ${effects}.executions + 1`,
      [flowId, participant, kind],
    );
  const undo =
    (participant: string) => async (_event: unknown, context: { flowId: string; transaction: PoolClient }) => {
      const done = await context.transaction.query(
        `SELECT 1 FROM ${effects} WHERE flow_id = $1 AND participant = $2 AND kind = 'do'`,
        [context.flowId, participant],
      );
      if (done.rowCount === 1) await record(context.transaction, context.flowId, participant, 'undo');
      return null;
    };
  const inventory = defineParticipant<Order, PoolClient>({
    name: 'inventory',
    reactsTo: 'order.placed',
    emits: { success: 'stock.reserved', failure: 'stock.rejected', compensated: 'stock.released' },
    async handle(order, { flowId, transaction }) {
      await record(transaction, flowId, 'inventory', 'do');
      return { orderNumber: order.orderNumber };
    },
    compensateOn: ['payment.failed', 'shipment.failed'],
    compensate: undo('inventory'),
  });
  const payment = defineParticipant<Order, PoolClient>({
    name: 'payment',
    reactsTo: 'stock.reserved',
    emits: { success: 'payment.charged', failure: 'payment.failed', compensated: 'payment.refunded' },
    async handle(order, { flowId, transaction, fail }) {
      if (failureOf(order.orderNumber) === 'payment') return fail('card declined');
      await record(transaction, flowId, 'payment', 'do');
      return { orderNumber: order.orderNumber };
    },
    compensateOn: ['shipment.failed'],
    compensate: undo('payment'),
  });
  const shipping = defineParticipant<Order, PoolClient>({
    name: 'shipping',
    reactsTo: 'payment.charged',
    emits: { success: 'shipment.scheduled', failure: 'shipment.failed' },
    async handle(order, { flowId, transaction, fail }) {
      if (failureOf(order.orderNumber) === 'shipping') return fail('no carrier');
      await record(transaction, flowId, 'shipping', 'do');
      return { orderNumber: order.orderNumber };
    },
  });
  const flow = defineChoreography({
    name: 'place-order',
    startsWith: 'order.placed',
    completesWith: 'shipment.scheduled',
    participants: [inventory, payment, shipping],
    stallAfterMs: 120_000,
  });
  return { inventory, payment, shipping, flow };
}
