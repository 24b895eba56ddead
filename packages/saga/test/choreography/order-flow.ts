import { defineChoreography, defineParticipant, type ParticipantDefinition } from '../../src/index.js';

/** What the order flow's participants did, per flow id: a stand-in for their own tables. */
export interface OrderFlowEffects {
  readonly reserved: Map<string, number>;
  readonly charged: Map<string, number>;
  readonly shipped: Map<string, number>;
  readonly released: Map<string, number>;
  readonly refunded: Map<string, number>;
}

export const orderFlowEffects = (): OrderFlowEffects => ({
  reserved: new Map(),
  charged: new Map(),
  shipped: new Map(),
  released: new Map(),
  refunded: new Map(),
});

const bump = (map: Map<string, number>, id: string) => map.set(id, (map.get(id) ?? 0) + 1);

/** Which step fails for a flow, by flow id. */
export type FailAt = (flowId: string) => 'inventory' | 'payment' | 'shipping' | undefined;

/**
 * The order flow of the guides: inventory reserves, payment charges, shipping schedules; a
 * payment or shipping failure (or a stall: `order.cancel`) makes the others undo their change.
 */
export function orderParticipants(effects: OrderFlowEffects, failAt: FailAt = () => undefined) {
  const inventory = defineParticipant<{ orderId: string }>({
    name: 'inventory',
    reactsTo: 'order.placed',
    emits: { success: 'stock.reserved', failure: 'stock.rejected', compensated: 'stock.released' },
    handle(order, { flowId, fail }) {
      if (failAt(flowId) === 'inventory') return fail('out of stock');
      bump(effects.reserved, flowId);
      return { orderId: order.orderId };
    },
    compensateOn: ['payment.failed', 'shipment.failed', 'order.cancel'],
    compensate(_event, { flowId }) {
      if (effects.reserved.has(flowId)) bump(effects.released, flowId);
      return null;
    },
  });
  const payment = defineParticipant<{ orderId: string }>({
    name: 'payment',
    reactsTo: 'stock.reserved',
    emits: { success: 'payment.charged', failure: 'payment.failed', compensated: 'payment.refunded' },
    handle(order, { flowId, fail }) {
      if (failAt(flowId) === 'payment') return fail('card declined');
      bump(effects.charged, flowId);
      return { orderId: order.orderId };
    },
    compensateOn: ['shipment.failed', 'order.cancel'],
    compensate(_event, { flowId }) {
      if (effects.charged.has(flowId)) bump(effects.refunded, flowId);
      return null;
    },
  });
  const shipping = defineParticipant<{ orderId: string }>({
    name: 'shipping',
    reactsTo: 'payment.charged',
    emits: { success: 'shipment.scheduled', failure: 'shipment.failed' },
    handle(order, { flowId, fail }) {
      if (failAt(flowId) === 'shipping') return fail('no carrier');
      bump(effects.shipped, flowId);
      return { orderId: order.orderId };
    },
  });
  return { inventory, payment, shipping } as const;
}

export function orderFlow(
  participants: readonly ParticipantDefinition<never, never>[],
  options: { stallAfterMs?: number; compensateOnStall?: boolean } = {},
) {
  return defineChoreography({
    name: 'place-order',
    startsWith: 'order.placed',
    completesWith: 'shipment.scheduled',
    participants,
    stallAfterMs: options.stallAfterMs ?? 10_000,
    onStall: options.compensateOnStall === false ? {} : { compensateWith: 'order.cancel' },
  });
}
