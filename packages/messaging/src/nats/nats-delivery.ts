import type { Clock } from '@bulwark/resilience';
import type { JsMsg } from '@nats-io/jetstream';
import type { Envelope } from '../envelope/envelope.js';
import type { Delivery, NackOptions } from '../transport/transport.js';

/**
 * One delivery of a NATS subscription: settled once (the first `ack` or `nack` wins), and not at all
 * once the visibility timeout passed, since the server has then handed the message to another
 * member. A class rather than an object of closures: a subscription makes one per message.
 *
 * @internal
 */
export class NatsDelivery implements Delivery {
  readonly deliveryCount: number;
  /** The handler's run, settled included; set by the subscription. */
  task: Promise<void> | undefined;
  #settled = false;
  readonly #deliveredAt: number;

  constructor(
    readonly message: Envelope,
    private readonly raw: JsMsg,
    private readonly clock: Clock,
    private readonly visibilityTimeoutMs: number,
    /** Called once, when the delivery is first settled: its prefetch slot is free. */
    private readonly onSettled: () => void,
  ) {
    this.deliveryCount = raw.info.deliveryCount;
    this.#deliveredAt = clock.now();
  }

  get settled(): boolean {
    return this.#settled;
  }

  async ack(): Promise<void> {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#inTime()) this.raw.ack();
    this.onSettled();
  }

  async nack(options?: NackOptions): Promise<void> {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#inTime()) {
      const delayMs = Math.max(0, Math.ceil(options?.delayMs ?? 0));
      this.raw.nak(delayMs > 0 ? delayMs : undefined);
    }
    this.onSettled();
  }

  /** Hands the message back to the group now (a closing subscription past its deadline). */
  giveBack(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.raw.nak();
    this.onSettled();
  }

  /** Past the visibility timeout the server has handed the message to another member: settling does nothing. */
  #inTime(): boolean {
    return this.clock.now() - this.#deliveredAt < this.visibilityTimeoutMs;
  }
}
