import type { ConfirmChannel } from 'amqplib';
import type { OutgoingMessage } from './amqp-publisher.js';

/** The messages of a batch the broker did not confirm, each with why. */
export interface Unconfirmed {
  readonly failed: OutgoingMessage[];
  readonly errors: unknown[];
}

/** The outcome of a message in a batch until the broker answered (or the deadline passed). */
const awaitingOutcome = Symbol('awaiting outcome');

const noMessages: readonly OutgoingMessage[] = [];

/**
 * Messages published together on a confirm channel, awaiting the broker's outcome of each (a
 * confirm, a nack, a return, or the deadline). One object with one promise per batch, rather
 * than closures around the publish: a publish of one message allocates little besides it.
 */
export class AmqpConfirmBatch {
  /** Settles with the messages not confirmed, or `undefined` when the broker confirmed them all. */
  readonly done: Promise<Unconfirmed | undefined>;
  /** When the batch counts as unconfirmed (`operationTimeoutMs` after it was sent). */
  readonly deadline: number;
  /** The channel the batch went out on, to drop if the broker never confirms it. */
  opening: Promise<ConfirmChannel> | undefined;
  /** Set once every message has its outcome. */
  finished = false;
  #messages: readonly OutgoingMessage[];
  /** `undefined` for a confirmed message, else why it failed. */
  #outcomes: unknown[];
  #unsettled: number;
  #resolve: (unconfirmed: Unconfirmed | undefined) => void = () => {};
  readonly #onFinished: (batch: AmqpConfirmBatch) => void;

  constructor(
    messages: readonly OutgoingMessage[],
    opening: Promise<ConfirmChannel>,
    deadline: number,
    onFinished: (batch: AmqpConfirmBatch) => void,
  ) {
    this.#messages = messages;
    this.opening = opening;
    this.deadline = deadline;
    this.#onFinished = onFinished;
    this.#outcomes = new Array(messages.length).fill(awaitingOutcome);
    this.#unsettled = messages.length;
    this.done = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** Records the outcome of the message at `index` (`undefined`: confirmed); the first one counts. */
  settle(index: number, outcome: unknown): void {
    if (this.#outcomes[index] !== awaitingOutcome) return;
    this.#outcomes[index] = outcome;
    this.#unsettled -= 1;
    if (this.#unsettled === 0) this.#finish();
  }

  /** Fails every message still awaiting its outcome with `error`. */
  expire(error: unknown): void {
    for (let index = 0; index < this.#outcomes.length; index++) this.settle(index, error);
  }

  #finish(): void {
    const messages = this.#messages;
    const outcomes = this.#outcomes;
    this.finished = true;
    // A finished batch may wait behind an unfinished one in the publisher's queue: it keeps
    // nothing of its publish meanwhile.
    this.#messages = noMessages;
    this.#outcomes = [];
    this.opening = undefined;
    let unconfirmed: Unconfirmed | undefined;
    for (let index = 0; index < outcomes.length; index++) {
      if (outcomes[index] === undefined) continue;
      unconfirmed ??= { failed: [], errors: [] };
      unconfirmed.failed.push(messages[index] as OutgoingMessage);
      unconfirmed.errors.push(outcomes[index]);
    }
    this.#onFinished(this);
    this.#resolve(unconfirmed);
  }
}
