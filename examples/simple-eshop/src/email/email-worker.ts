// The email role: sends the welcome email for `user.registered` and the confirmation for
// `order.confirmed`, whose order document may arrive through the claim check. Email providers
// fail; the consumer retries with delays and dead-letters what keeps failing, and the inbox
// (an IdempotencyStore) plus the mailbox's message id make a redelivered event send nothing twice.
import { type ClaimCheck, consume, type Envelope, type IdempotencyStore, type Transport } from '@bulwark/messaging';
import { deadLetterTopic } from '../infrastructure/messaging.js';
import type { OrderLine } from '../orders/stock.js';
import type { EmailSender } from './email-sender.js';

export const usersTopic = 'users';

export interface UserRegistered {
  userId: string;
  username: string;
  email: string;
}

export interface OrderDocument {
  id: string;
  email: string;
  lines: OrderLine[];
  totalCents: number;
  tracking: string;
  captureId: string;
  confirmedAt: string;
}

export interface EmailWorkerOptions {
  transport: Transport;
  sender: EmailSender;
  claimCheck: ClaimCheck;
  inbox: IdempotencyStore;
  /** Retry delays before a message is dead-lettered. @defaultValue [1000, 5000, 15000] */
  retryDelaysMs?: number[];
}

const euros = (cents: number) => `€${(cents / 100).toFixed(2)}`;

export async function startEmailWorker(options: EmailWorkerOptions): Promise<{ close(): Promise<void> }> {
  const { sender, claimCheck } = options;
  const common = {
    group: 'email',
    concurrency: 4,
    retry: options.retryDelaysMs ?? [1_000, 5_000, 15_000],
    deadLetter: deadLetterTopic,
    dedupe: { store: options.inbox, windowMs: 24 * 3_600_000 },
  } as const;

  const welcome = await consume<UserRegistered>(options.transport, {
    ...common,
    topic: usersTopic,
    handler: async (message, { signal }) => {
      if (message.type !== 'user.registered') return;
      await sender.send(
        {
          messageId: `welcome:${message.payload.userId}`,
          to: message.payload.email,
          subject: `Welcome to the shop, ${message.payload.username}!`,
          text: `Hello ${message.payload.username},\n\nyour account is ready. Happy hiking!\n`,
        },
        signal,
      );
    },
  });

  const confirmations = await consume<{ order: OrderDocument }>(options.transport, {
    ...common,
    topic: 'orders',
    handler: async (envelope, { signal }) => {
      if (envelope.type !== 'order.confirmed') return;
      const message = (await claimCheck.checkOut(envelope as Envelope)) as Envelope<{ order: OrderDocument }>;
      const order = message.payload.order;
      const lines = order.lines.map(
        (line) => `  ${line.quantity} × ${line.name}  ${euros(line.priceCents * line.quantity)}`,
      );
      await sender.send(
        {
          messageId: `order-confirmed:${order.id}`,
          to: order.email,
          subject: `Order ${order.id.slice(0, 8)} confirmed`,
          text: `Thank you for your order.\n\n${lines.join('\n')}\n\nTotal ${euros(order.totalCents)}\nTracking ${order.tracking}\n`,
          attachments: [
            {
              filename: `order-${order.id}.json`,
              contentType: 'application/json',
              content: JSON.stringify(order, null, 2),
            },
          ],
        },
        signal,
      );
    },
  });

  return {
    async close() {
      await Promise.all([welcome.close(), confirmations.close()]);
    },
  };
}
