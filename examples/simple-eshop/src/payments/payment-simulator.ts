// A payment provider simulator with switchable faults. Its ledger (provider_payments) is what a
// real provider would keep; tests and the load run check the shop's books against it.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { applyFaults, type Faults } from '../faults/faults.js';
import { PaymentDeclinedError, type PaymentProvider } from './payment-provider.js';

type Operation = 'authorize' | 'capture' | 'refund' | 'void';

export function paymentSimulator(pool: pg.Pool, faults: Faults): PaymentProvider {
  /** Records an operation once per idempotency key and returns its id (the first one's on a repeat). */
  const record = async (
    operation: Operation,
    key: string,
    orderId: string,
    amountCents: number,
    authorizationId?: string,
  ) => {
    const { rows } = await pool.query<{ id: string }>(
      `WITH inserted AS (
         INSERT INTO provider_payments (id, idempotency_key, operation, order_id, amount_cents, authorization_id)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id)
       SELECT id FROM inserted UNION ALL SELECT id FROM provider_payments WHERE idempotency_key = $2 LIMIT 1`,
      [randomUUID(), `${operation}:${key}`, operation, orderId, amountCents, authorizationId ?? null],
    );
    return rows[0]?.id as string;
  };

  return {
    async authorize(request, signal) {
      const settings = await faults.get('payment');
      await applyFaults(settings, 'payment provider', signal);
      if (Math.random() < settings.declineRate) throw new PaymentDeclinedError('card declined (fault switch)');
      return {
        authorizationId: await record('authorize', request.idempotencyKey, request.orderId, request.amountCents),
      };
    },
    async capture(request, signal) {
      await applyFaults(await faults.get('payment'), 'payment provider', signal);
      return {
        captureId: await record(
          'capture',
          request.idempotencyKey,
          request.orderId,
          request.amountCents,
          request.authorizationId,
        ),
      };
    },
    async refund(request, signal) {
      await applyFaults(await faults.get('payment'), 'payment provider', signal);
      return {
        refundId: await record(
          'refund',
          request.idempotencyKey,
          request.orderId,
          request.amountCents,
          request.authorizationId,
        ),
      };
    },
    async void(request, signal) {
      await applyFaults(await faults.get('payment'), 'payment provider', signal);
      await record('void', request.idempotencyKey, request.orderId, 0, request.authorizationId);
    },
  };
}
